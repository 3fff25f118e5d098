#pragma once
// airssys::rt_osl — OS processes as actors, through airssys-osl.
//
// A ProcessActor spawns one child process in its pre_start, through
// osl::System (policy-checked and audited like every osl operation), and
// lives exactly as long as that process:
//  - the process exits with code 0: the actor stops normally;
//  - it exits with another code or is killed by a signal: the actor fails
//    (ExitReason::error, failure_text "process 1234 (/bin/false) exited with code 1"),
//    so its supervisor restarts it, i.e. spawns the program again, per strategy;
//  - the actor is asked to stop (supervisor shutdown, ref.stop(), system
//    shutdown): it sends `stop_signal` and stops once the process has exited,
//    sending SIGKILL after `kill_after`; if it is killed outright (or the
//    supervisor's Shutdown timeout runs out first) post_stop SIGKILLs and
//    reaps the process.
//  - the process runs in its own process group (spawn.new_process_group is
//    forced on unless spawn.new_session is set): the stop signal, SIGKILL
//    and post_stop's kill go to the whole group, and when the process exits
//    (on its own or stopped) whatever is left in its group is SIGKILLed
//    before it is reaped. So nothing it started outlives the actor, except
//    what leaves the group (setsid/setpgid, e.g. a daemon): put the process
//    in a cgroup (spawn.join_cgroups) to hold those too. Every group signal
//    goes through osl (policy + audit); if process.kill is denied, only the
//    process itself is killed (by its handle, unaudited).
//    SignalProcess signals the process only, not its group.
//  - a spawn the policy denies (or that fails) is an init failure: pre_start
//    throws with the osl error text, so start_supervisor() reports
//    "child 'x' failed to start: error: denied: ...".
// Exits are observed through the child's pidfd by one shared watcher thread
// (epoll) that hands the exit to the actor as a system message (like a
// timer): it bypasses the mailbox's capacity and overflow policy, so it is
// never dropped and never blocks the watcher, however full the mailbox is.
// No worker ever blocks waiting for a process. Each exit is also told to
// `listener`, if set.
//
//   auto osl = std::make_shared<osl::System>(std::move(options));
//   auto spec = rt_osl::process_spec("web", rt::Restart::permanent,
//                                    {.system = osl, .principal = "svc", .argv = {"/usr/bin/web", "--port=8080"}});
//   auto tree = rt::start_supervisor(sys, {.intensity = 3, .period = 10s}, {spec}, 5s);
#include <airssys/osl/process.hpp>
#include <airssys/osl/system.hpp>
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airssys::rt_osl {

// Told to ProcessOptions::listener each time a process exits.
struct ProcessExited {
  pid_t pid = 0;
  osl::process::ExitStatus status;
  bool requested = false;  // it exited because the actor was stopping it
};

// Send a signal through osl (process.signal, addressed by pidfd).
struct SignalProcess {
  int signo = SIGTERM;
  using reply_type = std::expected<void, osl::Error>;
};

struct ProcessInfo {
  pid_t pid = 0;  // 0 before spawn / after exit
  bool running = false;
};
struct GetProcessInfo {
  using reply_type = ProcessInfo;
};

struct ProcessOptions {
  std::shared_ptr<osl::System> system{};  // required; shared by restarts
  std::string principal{};                // the osl principal the process runs as
  std::vector<std::string> argv{};        // argv[0]: path or name searched in PATH; never a shell string
  osl::process::Options spawn{};        // env, cwd, stdio, sandbox, cgroups ...
  int stop_signal = SIGTERM;
  std::chrono::milliseconds kill_after{2000};  // after stop_signal, SIGKILL
  rt::ActorRef<ProcessExited> listener{};
};

class ProcessActor
    : public rt::Actor<ProcessActor, SignalProcess, GetProcessInfo> {
 public:
  explicit ProcessActor(ProcessOptions opts);
  ~ProcessActor() override;
  ProcessActor(const ProcessActor&) = delete;
  ProcessActor& operator=(const ProcessActor&) = delete;

  void pre_start() override;
  void post_stop() override;
  void on_exit(const rt::ExitSignal& s) override;

  std::expected<void, osl::Error> handle(SignalProcess& m);
  ProcessInfo handle(GetProcessInfo&);

 private:
  // In the actor's context: the watch `watch_id` fired (the process exited).
  void reaped(std::uint64_t watch_id);
  void begin_stop(rt::ExitReason reason);
  bool signal_group(int signo);  // proc_ must be set
  void kill_group();             // proc_ must be set
  void unwatch() noexcept;

  ProcessOptions opts_;
  std::optional<osl::process::Process> proc_;
  pid_t pid_ = 0;
  std::uint64_t watch_id_ = 0;
  bool stopping_ = false;
  rt::ExitReason stop_reason_ = rt::ExitReason::shutdown;
};

using ProcessRef = ProcessActor::ref_type;

// A supervisor ChildSpec for a ProcessActor. Its Shutdown is
// kill_after + 1 s, so the actor gets to stop the process gracefully first.
// spawn.keep_fds is accepted only with Restart::temporary (else
// std::invalid_argument here): each restart spawns with a copy of `opts`,
// and osl hands on whatever holds those fd numbers at that moment, which
// need not be the file they named when the spec was made. (A ProcessActor
// put in a restartable rt::worker_spec directly has the same problem; do
// not give it keep_fds.)
[[nodiscard]] rt::ChildSpec process_spec(std::string id, rt::Restart restart, ProcessOptions opts);

}  // namespace airssys::rt_osl
