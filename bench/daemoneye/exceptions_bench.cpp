// exceptions: what rule exceptions (rules.exceptions, docs/daemoneye.md
// "Rule exceptions") add to a rule cycle. A store of `exc_processes`
// synthetic processes and `exc_events` exec events (spread over them), two
// rules that read every row — one over processes, one over process_events —
// and run_rules over them, as the agent's scan runs them, with an
// ExceptionFilter holding, for each rule:
//
//   0     no exception (the peer: the same rows, the same candidates)
//   10    10 exceptions that match no row (path glob + uid, a pinned
//         exception's usual shape): every row is checked against all 10
//   100   100 such exceptions
//   100+  the same 100 with the last one matching every row: every row is
//         checked against all 100 and then silenced (no candidate)
//   100*  100 that match no row, each a glob starting with '*' ("*/vendor-N/*"):
//         no literal start tells a row apart, so each is fnmatch'ed per row
//
// The query limits let every row through (time 60 s, max_rows above the row
// count), so each variant turns the same rows into candidates or silences
// them. Variants alternate run by run (0, 10, 100, 100+, 0, ...), so a
// change of load hits them alike; `rule_runs` runs each, wall time around
// run_rules. Per row: (median of a variant − median of 0) / rows.

#include "scenarios.hpp"
#include "stats.hpp"
#include "synthetic.hpp"

#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/store.hpp>

#include <unistd.h>

#include <ctime>

namespace airssys::daemoneye::bench {

namespace {

std::vector<RuleException> exceptions_for(const std::string& rule, int count, bool last_matches, bool wild) {
  std::vector<RuleException> out;
  for (int i = 0; i < count; ++i) {
    RuleException e;
    e.id = rule + "-exc-" + std::to_string(i);
    e.rule = rule;
    e.reason = "benchmark";
    if (last_matches && i == count - 1) {
      e.match = {{.column = "path", .glob = true, .value = "/usr/lib/bench/*/bin/*"}};  // every row
    } else if (wild) {
      e.match = {{.column = "path", .glob = true, .value = "*/vendor-" + std::to_string(i) + "/*"},
                 {.column = "uid", .glob = false, .value = std::to_string(2000 + i)}};
    } else {
      e.match = {{.column = "path", .glob = true, .value = "/opt/vendor-" + std::to_string(i) + "/*"},
                 {.column = "uid", .glob = false, .value = std::to_string(2000 + i)}};
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace

std::expected<void, std::string> bench_exceptions(const Options& o) {
  const std::string path = o.work_dir + "/exceptions.db";
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  {
    auto store = Store::open({.path = path, .retention = {}});
    if (!store) return std::unexpected("Store::open " + path + ": " + store.error().message);
    std::vector<ProcessRecord> records;
    for (std::size_t i = 0; i < o.exc_processes; ++i) records.push_back(synthetic_process(i, now));
    if (auto a = (*store)->apply_snapshot(records); !a) return std::unexpected("apply_snapshot: " + a.error().message);
    std::vector<ProcessEvent> events;
    for (std::size_t i = 0; i < o.exc_events; ++i) {
      ProcessRecord p = records[i % records.size()];
      p.pid = static_cast<std::int64_t>(100000 + i);  // an exec each: one row each
      p.start_ticks = 100000 + i;
      events.push_back({.kind = EventKind::exec, .source = EventSource::ebpf, .time = now, .process = std::move(p)});
    }
    if (auto e = (*store)->append_events(events); !e) return std::unexpected("append_events: " + e.error().message);
  }
  // Every row through: the store holds a row per exec in processes too.
  auto engine = QueryEngine::open(path, QueryLimits{.time = std::chrono::milliseconds(60000), .max_rows = 10'000'000,
                                                    .max_bytes = 4096ull * 1024 * 1024});
  if (!engine) return std::unexpected("QueryEngine::open: " + engine.error().message);
  std::vector<Rule> rules(2);
  rules[0].id = "bench-processes";
  rules[0].query = "SELECT pid, name, path, cmdline, uid, start_time FROM processes";
  rules[1].id = "bench-events";
  rules[1].query = "SELECT pid, name, path, cmdline, uid, time FROM process_events";
  for (Rule& r : rules) r.name = r.id;

  struct Variant {
    const char* name;
    int count;
    bool last_matches;
    bool wild;
    ExceptionFilter filter{[](std::string_view) {}};
    std::vector<double> ms;
    std::size_t candidates = 0, failures = 0, cut = 0;
  };
  std::vector<Variant> variants;
  variants.push_back({"0", 0, false, false});
  variants.push_back({"10", 10, false, false});
  variants.push_back({"100", 100, false, false});
  variants.push_back({"100+", 100, true, false});
  variants.push_back({"100*", 100, false, true});
  for (Variant& v : variants) {
    std::vector<RuleException> all;
    for (const Rule& r : rules) {
      for (RuleException& e : exceptions_for(r.id, v.count, v.last_matches, v.wild)) all.push_back(std::move(e));
    }
    v.filter.replace(std::move(all));
  }
  // One untimed run each (SQLite's page cache, the filters' first window).
  for (Variant& v : variants) {
    EventMarks marks;
    (void)run_rules(rules, **engine, "bench-host", now, marks, &v.filter);
  }
  for (int i = 0; i < o.rule_runs; ++i) {
    for (Variant& v : variants) {
      EventMarks marks;
      const auto t0 = Clock::now();
      RuleRun run = run_rules(rules, **engine, "bench-host", now, marks, &v.filter);
      v.ms.push_back(ms_since(t0));
      v.candidates = run.candidates.size();
      v.failures = run.failures.size();
      v.cut = run.cut.size();
    }
  }
  // The rows read: variant 0 makes a candidate of each.
  const double rows = static_cast<double>(variants[0].candidates);
  const double base = summarize(variants[0].ms).median;
  for (Variant& v : variants) {
    if (v.failures != 0 || v.cut != 0) return std::unexpected(std::string("variant ") + v.name + ": a rule failed or was cut");
    const Summary s = summarize(v.ms);
    char buf[256];
    std::snprintf(buf, sizeof buf, ",\"rows\":%.0f,\"candidates\":%zu,\"added_us_per_row\":%.3f", rows, v.candidates,
                  (s.median - base) * 1000.0 / rows);
    emit("\"bench\":\"rule_exceptions\",\"exceptions_per_rule\":" + json_string(v.name) + ",\"processes\":" +
         std::to_string(o.exc_processes) + ",\"events\":" + std::to_string(o.exc_events) + "," + json_summary("ms", s) +
         buf);
  }
  engine->reset();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((path + suffix).c_str());
  return {};
}

}  // namespace airssys::daemoneye::bench
