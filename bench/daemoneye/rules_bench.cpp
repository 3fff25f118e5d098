// Each bundled rule (load_rules + QueryEngine, as the agent loads them) over a
// store holding the collected processes, plus one start event per process in
// process_events (as after a first scan of a busy host). Each rule runs once
// to warm SQLite's page cache, then `rule_runs` timed runs of
// QueryEngine::run (wall time around the call, which includes turning the
// rows into Values). Limits are the agent's defaults (1 s, 1,000 rows).
// Last, run_rules over the whole set: what one agent scan spends on rules.

#include "scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>

#include <unistd.h>

#include <ctime>

namespace airssys::daemoneye::bench {

std::expected<void, std::string> bench_rules(const Options& o, const std::vector<ProcessRecord>& records) {
  const std::string path = o.work_dir + "/rules.db";
  {
    auto store = Store::open({.path = path, .retention = {}});
    if (!store) return std::unexpected("Store::open " + path + ": " + store.error().message);
    if (auto a = (*store)->apply_snapshot(records); !a) return std::unexpected("apply_snapshot: " + a.error().message);
    std::vector<ProcessEvent> events;
    events.reserve(records.size());
    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    for (const auto& r : records) events.push_back({.kind = EventKind::start, .source = EventSource::poll, .time = now, .process = r});
    if (auto e = (*store)->append_events(events); !e) return std::unexpected("append_events: " + e.error().message);
  }
  auto engine = QueryEngine::open(path, QueryLimits{.time = std::chrono::milliseconds(1000), .max_rows = 1000});
  if (!engine) return std::unexpected("QueryEngine::open: " + engine.error().message);
  auto t0 = Clock::now();
  RuleSet set = load_rules(o.rules_dir, engine->get());
  const double load_ms = ms_since(t0);
  emit("\"bench\":\"rules_load\",\"dir\":" + json_string(o.rules_dir) + ",\"rules\":" + std::to_string(set.rules.size()) +
       ",\"errors\":" + std::to_string(set.errors.size()) + ",\"ms\":" + std::to_string(load_ms));
  for (const auto& e : set.errors) std::fprintf(stderr, "rules: %s: %s\n", e.file.c_str(), e.message.c_str());
  if (set.rules.empty()) return std::unexpected("no rules loaded from " + o.rules_dir);

  std::size_t over_goal = 0;
  for (const Rule& rule : set.rules) {
    auto warm = (*engine)->run(rule.query);
    if (!warm) {
      emit("\"bench\":\"rule\",\"id\":" + json_string(rule.id) + ",\"error\":" + json_string(warm.error().message));
      continue;
    }
    std::vector<double> wall, engine_ms;
    std::size_t rows = 0;
    bool truncated = false;
    for (int i = 0; i < o.rule_runs; ++i) {
      t0 = Clock::now();
      auto r = (*engine)->run(rule.query);
      wall.push_back(ms_since(t0));
      if (!r) return std::unexpected("rule " + rule.id + " failed on run " + std::to_string(i + 1) + ": " + r.error().message);
      engine_ms.push_back(static_cast<double>(r->elapsed.count()) / 1000.0);
      rows = r->rows.size();
      truncated = r->truncated;
    }
    const Summary s = summarize(wall);
    if (s.median >= 5.0) ++over_goal;
    emit("\"bench\":\"rule\",\"id\":" + json_string(rule.id) + ",\"enabled\":" + (rule.enabled ? "true" : "false") +
         ",\"rows\":" + std::to_string(rows) + ",\"truncated\":" + (truncated ? "true" : "false") + "," +
         json_summary("ms", s) + ",\"engine_ms_median\":" + std::to_string(summarize(engine_ms).median) +
         ",\"processes\":" + std::to_string(records.size()));
  }

  std::vector<double> scan_ms;
  std::size_t candidates = 0, failures = 0;
  for (int i = 0; i < o.rule_runs; ++i) {
    t0 = Clock::now();
    RuleRun run = run_rules(set.rules, **engine, "bench-host", static_cast<std::int64_t>(std::time(nullptr)));
    scan_ms.push_back(ms_since(t0));
    candidates = run.candidates.size();
    failures = run.failures.size();
  }
  emit("\"bench\":\"rules_all\",\"rules\":" + std::to_string(set.rules.size()) + ",\"candidates\":" +
       std::to_string(candidates) + ",\"failures\":" + std::to_string(failures) + "," + json_summary("ms", summarize(scan_ms)) +
       ",\"rules_over_5ms\":" + std::to_string(over_goal));
  engine->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  return {};
}

}  // namespace airssys::daemoneye::bench
