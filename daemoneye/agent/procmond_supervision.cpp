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

#include <algorithm>
#include <csignal>
#include <memory>
#include <mutex>
#include <utility>

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

// osl's error text ends in " (op N)", the audit record's id, new at each
// try: the same cause is the text without it.
std::string without_op_id(const std::string& text) {
  const auto at = text.rfind(" (op ");
  if (at == std::string::npos || text.back() != ')') return text;
  const std::string_view digits(text.data() + at + 5, text.size() - at - 6);
  if (digits.empty() || !std::ranges::all_of(digits, [](char c) { return c >= '0' && c <= '9'; })) return text;
  return text.substr(0, at);
}

// The supervisor calls a child spec's start for the first spawn and for
// every restart: `check` (if set) goes first each time. A refusal is a
// failed start, which the supervisor handles as an exit (the backoff, then
// another try); the ProcessActor never exists, so no ProcessExited tells
// ExitLogger, and the refusal is logged and counted (spawns_refused) here.
// A refusal at the first call fails start(): the agent exits.
//
// A spawn that fails (the binary gone, an exec error) fails the
// ProcessActor's pre_start, after start returned: the supervisor sees it
// as an exit and restarts, and nothing tells ExitLogger (no process ran).
// It is seen here at the next try: the previous actor stopped with a
// failure text while no ProcessExited came since. Counted (spawns_refused).
//
// Every refusal and failed spawn is counted; each is logged once until the
// cause changes (another refusal text, another failure, one kind after the
// other) or a process runs: a missing binary would otherwise log an error
// at every backoff, for days.
//
// The check and the spawn are not one step: airssys-osl then resolves the
// path again, opens the file it names (O_PATH, beneath the directory it
// pinned, no symbolic link followed) and runs it through that descriptor
// (execveat AT_EMPTY_PATH). Once the check passed, the file and every
// directory above it exist and are writable by root or our user only (in a
// sticky directory the entry is ours or root's), so only they could change
// what osl opens in between.
using StartFn = std::function<std::expected<rt::AnyRef, rt::Error>(rt::ActorSystem&, const rt::AnyRef&)>;
StartFn checked_start(StartFn start, std::function<Result<void>()> check, ProcmondCounters* counters,
                      std::function<void(std::string_view)> log) {
  struct State {
    std::mutex mu;  // the supervisor calls one at a time; the mutex only makes that explicit
    bool first = true;
    rt::AnyRef last;                // the ProcessActor the previous call started
    std::uint64_t exits_then = 0;   // counters->exits when it was started
    // The refusal or spawn failure last logged ("refusal: ", "failure: " and
    // its cause); empty once a process ran. One for both kinds: a refusal
    // logged between two failures of one cause has the second logged too.
    std::string last_logged;
  };
  auto state = std::make_shared<State>();
  return [start = std::move(start), check = std::move(check), counters, log = std::move(log), state](
             rt::ActorSystem& sys, const rt::AnyRef& parent) -> std::expected<rt::AnyRef, rt::Error> {
    std::lock_guard lock(state->mu);
    const bool first = std::exchange(state->first, false);
    // Counted each time; logged when `cause` is not the one last logged.
    // n counts refusals and failed spawns together (spawns_refused).
    const auto not_started = [&](const std::string& why, std::string cause) {
      const auto n = counters->spawns_refused.fetch_add(1, std::memory_order_relaxed) + 1;
      std::string message =
          fmt::format("procmond not started: {} ({})", why,
                      first ? std::string("at the agent's start: the agent does not start")
                            : fmt::format("{} refused or failed since start; tried again after each restart "
                                          "backoff, logged again when the cause changes",
                                          n));
      const bool changed = cause != state->last_logged;
      state->last_logged = std::move(cause);
      if (log && changed) log(message);
      return message;
    };
    const auto spawn_failed = [&](const std::string& text) {
      return not_started("the spawn failed: " + text, "failure: " + without_op_id(text));
    };
    if (rt::AnyRef prev = std::exchange(state->last, {}); prev.valid()) {
      if (counters->exits.load(std::memory_order_relaxed) != state->exits_then)
        state->last_logged.clear();  // a process ran (and exited)
      else if (prev.stopped() && !prev.failure_text().empty())
        spawn_failed(prev.failure_text());
    }
    if (check) {
      if (auto ok = check(); !ok)
        return std::unexpected(
            rt::Error{rt::ErrorCategory::start_failed, not_started(ok.error().message, "refusal: " + ok.error().message)});
    }
    const std::uint64_t exits = counters->exits.load(std::memory_order_relaxed);
    auto started = start(sys, parent);
    if (!started) return std::unexpected(rt::Error{rt::ErrorCategory::start_failed, spawn_failed(started.error().message)});
    state->last = *started;
    state->exits_then = exits;
    return started;
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
  spec.start = checked_start(std::move(spec.start), std::move(options.before_spawn), &impl->counters,
                             options.log_error);
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
