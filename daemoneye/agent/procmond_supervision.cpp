#include "procmond_supervision.hpp"

#include <airssys/daemoneye/component_errors.hpp>
#include <airssys/osl/activity.hpp>
#include <airssys/osl/policy.hpp>
#include <airssys/osl/system.hpp>
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <airssys/rt_osl/process_actor.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>

namespace airssys::daemoneye::agent {

namespace rt = airssys::rt;
namespace rto = airssys::rt_osl;
using namespace std::chrono_literals;

namespace {

constexpr std::string_view kPrincipal = "daemoneye-agent";

// Told of every procmond exit by the ProcessActor.
class ExitLogger : public rt::Actor<ExitLogger, rto::ProcessExited> {
 public:
  ExitLogger(ProcmondCounters* counters, std::function<void(std::string_view)> log)
      : counters_(counters), log_(std::move(log)) {}
  void handle(rto::ProcessExited& e) {
    counters_->exits.fetch_add(1, std::memory_order_relaxed);
    if (e.requested) return;
    if (e.status.signal == SIGKILL && take_asked_kill()) {
      if (log_) log_(fmt::format("procmond (pid {}) was killed as the agent asked (no collections); restarting it", e.pid));
      return;
    }
    auto n = counters_->crashes.fetch_add(1, std::memory_order_relaxed) + 1;
    std::string how = e.status.code ? fmt::format("exited with code {}", *e.status.code)
                                    : fmt::format("was killed by signal {}", e.status.signal.value_or(0));
    if (log_) log_(fmt::format("procmond (pid {}) {}; restarting it (crash {} since start)", e.pid, how, n));
  }

 private:
  bool take_asked_kill() {
    auto n = counters_->kills_asked.load(std::memory_order_relaxed);
    while (n > 0 && !counters_->kills_asked.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
    }
    return n > 0;
  }

  ProcmondCounters* counters_;  // owned by ProcmondSupervision::Impl, which outlives the actor system
  std::function<void(std::string_view)> log_;
};

// The agent's osl policy: procmond, and nothing else, may be run and signalled.
Result<osl::Policy> procmond_policy(const std::filesystem::path& program) {
  // A JSON string is a valid YAML double-quoted scalar, so the path needs no
  // further escaping.
  std::string path = nlohmann::json(program.string()).dump();
  std::string yaml = fmt::format(R"(version: 1
rules:
  - id: daemoneye-runs-procmond
    effect: allow
    principals: ["{}"]
    operations: [process.spawn, process.signal, process.kill]
    resources: [{}]
)",
                                 kPrincipal, path);
  auto p = osl::Policy::parse(yaml, "<daemoneye-agent built-in policy>");
  if (!p) return std::unexpected(Error{ErrorCategory::internal, 0, p.error().to_string()});  // a bug in the text above
  return *p;
}

// The supervisor calls a child spec's start for the first spawn and for
// every restart: `check` goes first each time. A refusal is a failed start,
// which the supervisor handles as an exit (the backoff, then another try);
// the ProcessActor never exists, so no ProcessExited tells ExitLogger, and
// the refusal is logged and counted here.
//
// The check and the spawn are not one step: airssys-osl then resolves the
// path again, opens the file it names (O_PATH, beneath the directory it
// pinned, no symbolic link followed) and runs it through that descriptor
// (execveat AT_EMPTY_PATH). Once the check passed, the file and every
// directory above it are writable by root or our user only, so only they
// could change what osl opens in between.
using StartFn = std::function<std::expected<rt::AnyRef, rt::Error>(rt::ActorSystem&, const rt::AnyRef&)>;
StartFn checked_start(StartFn start, std::function<Result<void>()> check, ProcmondCounters* counters,
                      std::function<void(std::string_view)> log) {
  return [start = std::move(start), check = std::move(check), counters, log = std::move(log)](
             rt::ActorSystem& sys, const rt::AnyRef& parent) -> std::expected<rt::AnyRef, rt::Error> {
    if (auto ok = check(); !ok) {
      const auto n = counters->spawns_refused.fetch_add(1, std::memory_order_relaxed) + 1;
      std::string message = fmt::format("procmond not started: {} (refusal {} since start; tried again after the "
                                        "restart backoff)",
                                        ok.error().message, n);
      if (log) log(message);
      return std::unexpected(rt::Error{rt::ErrorCategory::start_failed, std::move(message)});
    }
    return start(sys, parent);
  };
}

}  // namespace

struct ProcmondSupervision::Impl {
  ProcmondCounters counters;
  std::shared_ptr<osl::System> osl;
  std::unique_ptr<rt::ActorSystem> sys;
  rt::SupervisorRef supervisor;
};

ProcmondSupervision::ProcmondSupervision(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcmondSupervision::~ProcmondSupervision() {
  if (!impl_) return;
  if (impl_->supervisor.valid()) {
    impl_->supervisor.stop();
    for (int i = 0; i < 1000 && !impl_->supervisor.stopped(); ++i) std::this_thread::sleep_for(10ms);
  }
  if (impl_->sys) (void)impl_->sys->shutdown();
}

const ProcmondCounters& ProcmondSupervision::counters() const noexcept { return impl_->counters; }

bool ProcmondSupervision::supervisor_alive() const noexcept { return impl_->supervisor.valid() && !impl_->supervisor.stopped(); }

std::optional<pid_t> ProcmondSupervision::procmond_pid() const {
  if (!supervisor_alive()) return std::nullopt;
  auto children = impl_->supervisor.ask(rt::WhichChildren{}, 500ms);
  if (!children || children->empty()) return std::nullopt;
  // The supervisor's one child is the ProcessActor started in start().
  rto::ProcessRef process(children->front().ref.cell());
  auto info = process.ask(rto::GetProcessInfo{}, 500ms);
  if (!info || !info->running || info->pid <= 0) return std::nullopt;
  return info->pid;
}

Result<void> ProcmondSupervision::kill_procmond() {
  if (!supervisor_alive()) return fail(ErrorCategory::unavailable, "procmond's supervisor is not running");
  auto children = impl_->supervisor.ask(rt::WhichChildren{}, 500ms);
  if (!children || children->empty()) return fail(ErrorCategory::unavailable, "procmond is not running (restarting?)");
  rto::ProcessRef process(children->front().ref.cell());
  // Counted before it is sent: the exit may be seen before ask() returns.
  impl_->counters.kills_asked.fetch_add(1, std::memory_order_relaxed);
  auto sent = process.ask(rto::SignalProcess{.signo = SIGKILL}, 500ms);
  if (!sent) return fail(ErrorCategory::unavailable, "procmond did not answer: " + sent.error().message);
  if (!*sent) {
    impl_->counters.kills_asked.fetch_sub(1, std::memory_order_relaxed);
    return std::unexpected(Error{category_of(sent->error()), sent->error().errno_value, sent->error().to_string()});
  }
  return {};
}

Result<std::unique_ptr<ProcmondSupervision>> ProcmondSupervision::start(ProcmondOptions options) {
  auto impl = std::make_unique<Impl>();
  auto policy = procmond_policy(options.program);
  if (!policy) return std::unexpected(policy.error());

  osl::SystemOptions so;
  so.policy = *policy;
  auto sink = osl::make_file_sink({.path = options.audit_log});
  if (!sink) {
    return std::unexpected(Error{category_of(sink.error()), sink.error().errno_value,
                                 "audit log " + options.audit_log.string() + ": " + sink.error().to_string()});
  }
  so.audit.sinks.push_back(std::shared_ptr<osl::ActivitySink>(std::move(*sink)));
  impl->osl = std::make_shared<osl::System>(std::move(so));
  impl->sys = std::make_unique<rt::ActorSystem>(rt::SystemConfig{.workers = 1});

  auto logger = impl->sys->spawn<ExitLogger>(&impl->counters, options.log_error);
  if (!logger) return fail(ErrorCategory::internal, "cannot start the exit logger: " + logger.error().message);

  std::vector<std::string> argv{options.program.string()};
  argv.insert(argv.end(), options.args.begin(), options.args.end());
  rto::ProcessOptions po{.system = impl->osl,
                         .principal = std::string(kPrincipal),
                         .argv = std::move(argv),
                         .stop_signal = SIGTERM,
                         .kill_after = 2000ms,
                         .listener = *logger};
  // procmond's output goes where ours goes.
  po.spawn.stdout_ = osl::process::Stdio::inherit();
  po.spawn.stderr_ = osl::process::Stdio::inherit();
  auto spec = rto::process_spec("procmond", rt::Restart::permanent, std::move(po));
  if (options.before_spawn) spec.start = checked_start(std::move(spec.start), std::move(options.before_spawn),
                                                       &impl->counters, options.log_error);
  // A crash loop is slowed by the backoff, never given up on: the intensity
  // is far above what the backoff lets happen within the period.
  rt::SupervisorFlags flags{.strategy = rt::Strategy::one_for_one,
                            .intensity = 100000,
                            .period = std::chrono::milliseconds(600000),
                            .backoff = {.initial = options.restart_initial, .multiplier = 2.0, .max = options.restart_max}};
  auto sup = rt::start_supervisor(*impl->sys, flags, {spec}, 30s);
  if (!sup) return fail(ErrorCategory::unavailable, "cannot start procmond: " + sup.error().message);
  impl->supervisor = *sup;
  if (options.log_info) options.log_info(fmt::format("procmond started: {}", options.program.string()));
  return std::unique_ptr<ProcmondSupervision>(new ProcmondSupervision(std::move(impl)));
}

}  // namespace airssys::daemoneye::agent
