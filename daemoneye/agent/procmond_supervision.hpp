#pragma once
// Runs procmond as a supervised child: an airssys-rt supervisor with one
// rt_osl ProcessActor, so every spawn and signal goes through airssys-osl
// (policy: the agent's principal may spawn, signal and kill exactly the
// procmond executable; audit records in `audit_log`). A procmond that exits
// or crashes is logged, counted and restarted with exponential backoff; the
// agent keeps running throughout.
//
// Thread safety: counters may be read from any thread.

#include <airssys/daemoneye/error.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace airssys::daemoneye::agent {

struct ProcmondOptions {
  std::filesystem::path program;       // absolute path of procmond
  std::vector<std::string> args;       // after argv[0]
  std::filesystem::path audit_log;     // osl activity records of spawns and kills
  std::chrono::milliseconds restart_initial{500};
  std::chrono::milliseconds restart_max{30000};
  std::function<void(std::string_view)> log_info, log_error;  // called on rt worker threads
  // Asked right before every spawn, the first and each restart (on an rt
  // worker thread): an error refuses that spawn. A refused restart is
  // logged (once until the error text changes), counted (spawns_refused)
  // and tried again after the backoff, as a crash is; a refused first spawn
  // fails start(). The agent holds procmond's path (procmond.path, or the
  // default beside the agent) to the owner/mode rule here (path_trust.hpp,
  // and it must exist), so a binary or directory made writable by others
  // after the start, or a binary planted where it went missing, is not run.
  std::function<Result<void>()> before_spawn;
};

struct ProcmondCounters {
  std::atomic<std::uint64_t> exits{0};    // every exit, requested or not
  std::atomic<std::uint64_t> crashes{0};  // exits nobody asked for
  // SIGKILLs kill_procmond sent whose exit is not seen yet: that exit is the
  // agent's own doing (no collections), not a crash.
  std::atomic<std::uint64_t> kills_asked{0};
  // Spawns that did not happen: refused by ProcmondOptions::before_spawn,
  // or failed (the binary missing, an exec error); each retried after the
  // backoff. Each is logged once until the cause changes (or a process
  // runs): a binary missing for days is one error line, not one a backoff.
  std::atomic<std::uint64_t> spawns_refused{0};
};

class ProcmondSupervision {
 public:
  [[nodiscard]] static Result<std::unique_ptr<ProcmondSupervision>> start(ProcmondOptions options);
  // Stops procmond (SIGTERM, SIGKILL after 2 s) and the actor runtime.
  ~ProcmondSupervision();
  ProcmondSupervision(const ProcmondSupervision&) = delete;
  ProcmondSupervision& operator=(const ProcmondSupervision&) = delete;

  [[nodiscard]] const ProcmondCounters& counters() const noexcept;
  [[nodiscard]] bool supervisor_alive() const noexcept;
  // procmond's pid while it runs; nullopt between a crash and its restart.
  // Asks the supervisor and the process actor (waits up to 1 s in all);
  // call from a plain thread, not an rt worker.
  [[nodiscard]] std::optional<pid_t> procmond_pid() const;
  // SIGKILL to the running procmond, through its ProcessActor (osl
  // process.signal, addressed by the pidfd it spawned: never another
  // process that took the pid). SIGKILL because a stopped (SIGSTOP) or hung
  // procmond would hold SIGTERM pending. It is then restarted as after a
  // crash. Call from a plain thread, not an rt worker (waits up to 1 s).
  [[nodiscard]] Result<void> kill_procmond();

  struct Impl;

 private:
  explicit ProcmondSupervision(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye::agent
