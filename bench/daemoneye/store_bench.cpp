// Store::apply_snapshot over the collected processes: into a fresh database
// (every row new), the same snapshot again (nothing changed: an idle host),
// then with every tenth process changed the way a real rescan changes it
// (CPU times, resident size, cpu_percent). Each round uses a new database
// file; rows/s = snapshot rows / wall time of the call (it has committed when
// it returns).

#include "scenarios.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/store.hpp>

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>


namespace airssys::daemoneye::bench {

namespace {

// CPU time of this process (user + system), ms: wall minus this is waiting
// (for the disk, mostly: synchronous=FULL syncs the WAL on every commit).
double cpu_ms() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

std::uint64_t file_size(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

void remove_db(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) ::unlink((path + suffix).c_str());
}

std::string stats_json(const ApplyStats& s) {
  return "\"inserted\":" + std::to_string(s.inserted) + ",\"updated\":" + std::to_string(s.updated) +
         ",\"deleted\":" + std::to_string(s.deleted) + ",\"unchanged\":" + std::to_string(s.unchanged);
}

}  // namespace

std::expected<void, std::string> bench_store(const Options& o, const std::vector<ProcessRecord>& records) {
  std::vector<ProcessRecord> changed = records;
  std::size_t n_changed = 0;
  for (std::size_t i = 0; i < changed.size(); i += 10) {
    auto& r = changed[i];
    r.user_time = (r.user_time < 0 ? 0 : r.user_time) + 10;
    r.system_time = (r.system_time < 0 ? 0 : r.system_time) + 10;
    r.resident_size = (r.resident_size < 0 ? 0 : r.resident_size) + 4096;
    r.cpu_percent += 0.5;
    ++n_changed;
  }
  const double rows = static_cast<double>(records.size());
  std::vector<double> fresh_ms, idle_ms, tenth_ms, fresh_cpu, idle_cpu, tenth_cpu;
  std::uint64_t fresh_wal = 0;
  ApplyStats last_fresh, last_idle, last_tenth;
  for (int round = 0; round < o.store_rounds; ++round) {
    const std::string path = o.work_dir + "/store-" + std::to_string(round) + ".db";
    remove_db(path);
    auto store = Store::open({.path = path, .retention = {}});
    if (!store) return std::unexpected("Store::open " + path + ": " + store.error().message);
    double c0 = cpu_ms();
    auto t0 = Clock::now();
    auto a = (*store)->apply_snapshot(records);
    fresh_ms.push_back(ms_since(t0));
    fresh_cpu.push_back(cpu_ms() - c0);
    fresh_wal = file_size(path + "-wal");
    if (!a) return std::unexpected("apply_snapshot (fresh): " + a.error().message);
    last_fresh = *a;
    c0 = cpu_ms();
    t0 = Clock::now();
    auto b = (*store)->apply_snapshot(records);
    idle_ms.push_back(ms_since(t0));
    idle_cpu.push_back(cpu_ms() - c0);
    if (!b) return std::unexpected("apply_snapshot (idle): " + b.error().message);
    last_idle = *b;
    c0 = cpu_ms();
    t0 = Clock::now();
    auto c = (*store)->apply_snapshot(changed);
    tenth_ms.push_back(ms_since(t0));
    tenth_cpu.push_back(cpu_ms() - c0);
    if (!c) return std::unexpected("apply_snapshot (10% changed): " + c.error().message);
    last_tenth = *c;
    store->reset();
    remove_db(path);
  }
  const auto emit_one = [&](const char* name, const std::vector<double>& ms, const std::vector<double>& cpu,
                            const ApplyStats& st) {
    const Summary s = summarize(ms);
    char rate[200];
    std::snprintf(rate, sizeof rate, ",\"rows_per_s_median\":%.0f,\"rows_per_s_worst\":%.0f,\"cpu_ms_median\":%.3f",
                  rows / s.median * 1000, rows / s.max * 1000, summarize(cpu).median);
    emit("\"bench\":\"store_" + std::string(name) + "\",\"rows\":" + std::to_string(records.size()) + "," +
         json_summary("ms", s) + rate + "," + stats_json(st));
  };
  emit_one("fresh", fresh_ms, fresh_cpu, last_fresh);
  emit("\"bench\":\"store_fresh_wal\",\"wal_bytes\":" + std::to_string(fresh_wal));
  emit_one("idle", idle_ms, idle_cpu, last_idle);
  emit_one("tenth_changed", tenth_ms, tenth_cpu, last_tenth);
  if (last_fresh.inserted != records.size()) {
    return std::unexpected("fresh apply inserted " + std::to_string(last_fresh.inserted) + " of " +
                           std::to_string(records.size()) + " rows (duplicate pids in the snapshot?)");
  }
  if (last_tenth.updated != n_changed) {
    std::fprintf(stderr, "store: %zu rows changed, the store updated %zu\n", n_changed, last_tenth.updated);
  }
  return {};
}

}  // namespace airssys::daemoneye::bench
