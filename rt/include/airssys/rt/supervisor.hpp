#pragma once
// Supervisors with Erlang/OTP semantics.
//
//  - Strategy: one_for_one restarts the failed child; one_for_all stops the
//    other children (reverse start order) and restarts all (start order);
//    rest_for_one does that for the failed child and those started after it.
//  - Restart type per child: permanent (always restarted), transient (only
//    after an abnormal exit: error or killed), temporary (never; removed).
//  - Intensity: more than `intensity` restarts within `period` makes the
//    supervisor stop all children (reverse order) and terminate with
//    ExitReason::error, so it fails to its own parent. (OTP uses reason
//    {shutdown, reached_max_restart_intensity}; we use error so that a
//    transient supervisor child is escalated too.)
//  - Children are started in order, each only after the previous one has
//    finished starting (its pre_start returned; a nested supervisor has
//    started all its own children). A child that fails to start fails the
//    supervisor's start: it stops the children already started and
//    terminates with ExitReason::error (start_supervisor() returns
//    ErrorCategory::start_failed naming the child). Children are stopped in reverse
//    order; each with a shutdown exit signal, killed if it has not exited
//    within its Shutdown timeout (or killed at once with Shutdown::immediate()).
//  - Optional restart backoff (SupervisorFlags::backoff): the n-th restart
//    within the intensity period waits initial * multiplier^(n-1) (capped at
//    max) on the runtime's timers before starting the child again.
//  - Dynamic children: StartChild, TerminateChild, RestartChild, DeleteChild
//    and WhichChildren are messages to a running supervisor (ask them); the
//    replies come once the operation is done. Requests that arrive while a
//    restart is in progress wait for it.
//  - A child is an actor linked to the supervisor; the supervisor traps exits.
//    Children get new actor ids on restart (OTP: new pids): look them up with
//    WhichChildren (or, later, the registry), do not cache refs across restarts.
//  - Exit signals, as OTP's supervisor takes them: from a child, per its
//    restart type and the strategy; from the parent (SpawnOptions::link_to
//    when it was spawned; for a nested supervisor, its supervisor) the
//    children are stopped in reverse order and the supervisor exits with the
//    parent's reason, normal included; from outside every actor (a plain
//    thread's ref.stop()/send_exit(), the system's shutdown) likewise, a
//    normal one taken as shutdown; from any other actor, linked or not,
//    ignored (counted in the health snapshot). kill() is untrappable, as ever.
//  - ActorSystem::health() shows each supervisor's restarts, its intensity
//    window and per-child state (SupervisorHealth in stats.hpp).
//
// All supervisor work happens in its own actor context; it never blocks a worker.
#include <airssys/rt/actor.hpp>
#include <airssys/rt/system.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace airssys::rt {

enum class Strategy : std::uint8_t { one_for_one, one_for_all, rest_for_one };
enum class Restart : std::uint8_t { permanent, transient, temporary };

struct Shutdown {
  std::chrono::milliseconds timeout{5000};
  bool brutal_kill = false;
  static Shutdown immediate() { return Shutdown{std::chrono::milliseconds{0}, true}; }
  static Shutdown after(std::chrono::milliseconds t) { return Shutdown{t, false}; }
};

struct ChildSpec {
  std::string id{};
  // Spawns the child linked to `parent` (SpawnOptions::link_to). Called again on every restart.
  std::function<std::expected<AnyRef, Error>(ActorSystem& sys, const AnyRef& parent)> start{};
  Restart restart = Restart::permanent;
  Shutdown shutdown{};
};

// Delay before a restart. initial == 0: restart at once (the default).
struct Backoff {
  std::chrono::milliseconds initial{0};
  double multiplier = 2.0;
  std::chrono::milliseconds max{30000};
};

struct SupervisorFlags {
  Strategy strategy = Strategy::one_for_one;
  int intensity = 3;                          // max restarts ...
  std::chrono::milliseconds period{5000};     // ... within this period
  Backoff backoff{};
};

struct ChildInfo {
  std::string id;
  AnyRef ref;
};

// Asks a supervisor for its running children, in start order.
struct WhichChildren {
  using reply_type = std::vector<ChildInfo>;
};
// Adds and starts a child (after the existing ones). Errors: invalid_argument
// (id already present), start_failed (its pre_start failed; the spec is not kept).
struct StartChild {
  ChildSpec spec{};
  using reply_type = std::expected<AnyRef, Error>;
};
// Stops a child (per its Shutdown) and keeps its spec, so RestartChild can
// start it again; a temporary child's spec is deleted. Errors: not_found.
struct TerminateChild {
  std::string id{};
  using reply_type = std::expected<void, Error>;
};
// Starts a terminated child again. Errors: not_found, invalid_argument (running), start_failed.
struct RestartChild {
  std::string id{};
  using reply_type = std::expected<AnyRef, Error>;
};
// Removes the spec of a terminated child. Errors: not_found, invalid_argument (running).
struct DeleteChild {
  std::string id{};
  using reply_type = std::expected<void, Error>;
};

namespace detail {
struct StartReport;      // supervisor.cpp: how start_supervisor() learns the start result
class SupervisorBoard;   // supervisor.cpp: what ActorSystem::health() shows of a supervisor
}

class Supervisor : public Actor<Supervisor, WhichChildren, StartChild, TerminateChild, RestartChild, DeleteChild> {
 public:
  // parent: the actor it was spawned linked to (0: none), whose exit signal it obeys.
  Supervisor(SupervisorFlags flags, std::vector<ChildSpec> specs,
             std::shared_ptr<detail::StartReport> report = nullptr, ActorId parent = 0);
  void pre_start() override;
  void post_stop() override;
  void on_exit(const ExitSignal& s) override;
  std::vector<ChildInfo> handle(WhichChildren&);
  [[nodiscard]] std::expected<AnyRef, Error> handle(StartChild& m);
  [[nodiscard]] std::expected<void, Error> handle(TerminateChild& m);
  [[nodiscard]] std::expected<AnyRef, Error> handle(RestartChild& m);
  [[nodiscard]] std::expected<void, Error> handle(DeleteChild& m);

 protected:
  void when_started(std::move_only_function<void()> ack) override;

 private:
  struct Child {
    ChildSpec spec;
    AnyRef ref;
    std::uint64_t key = 0;  // stable identity while indices shift
    std::uint32_t restarts = 0;
    std::optional<ExitReason> last_exit;
  };
  struct Op {
    enum class Kind : std::uint8_t { initial, restart, dynamic_start, terminate, give_up };
    Kind kind = Kind::restart;
    std::uint64_t gen = 0;
    std::vector<std::uint64_t> to_stop;   // child keys, in stop order
    std::size_t pos = 0;
    std::vector<std::uint64_t> to_start;  // child keys, in start order
    std::size_t start_pos = 0;
    bool waiting_start = false;           // for to_start[start_pos] to acknowledge its start
    std::chrono::milliseconds delay{0};   // backoff before the start phase
    bool waiting_backoff = false;
    ExitReason exit_reason = ExitReason::shutdown;
    std::uint64_t timer = 0;
    // Dynamic requests: the outcome (the started child's ref, if any).
    std::move_only_function<void(std::expected<AnyRef, Error>)> done;
  };
  struct Deferred {
    std::uint64_t key;
    ExitReason reason;
  };

  void child_signal(std::size_t idx, ExitReason reason);
  void child_exited(std::size_t idx, ExitReason reason);
  void start_failed(std::size_t idx, ExitReason reason, const std::string& text);
  void request(std::move_only_function<void()> fn);
  void drain();
  [[nodiscard]] std::expected<AnyRef, Error> start_child_spec(ChildSpec& spec);
  bool record_restart();
  std::chrono::milliseconds backoff_delay() const;
  void begin(Op op);
  void advance();
  void complete();
  void give_up(ExitReason reason);
  std::optional<std::size_t> find(ActorId id) const;
  std::optional<std::size_t> find_key(std::uint64_t key) const;
  std::optional<std::size_t> find_id(const std::string& id) const;
  void erase_key(std::uint64_t key);
  void sync(const Child& c);  // tells board_ the child's current state

  SupervisorFlags flags_;
  ActorId parent_ = 0;
  std::shared_ptr<detail::SupervisorBoard> board_;
  std::vector<Child> children_;
  std::shared_ptr<detail::StartReport> report_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
  std::optional<Op> op_;
  std::uint64_t next_gen_ = 1;
  std::uint64_t next_key_ = 1;
  std::deque<Deferred> deferred_;
  std::deque<std::move_only_function<void()>> requests_;     // dynamic requests waiting for an op
  std::vector<std::move_only_function<void()>> start_acks_;  // parents waiting for our start
  std::string start_error_;
  bool started_ = false;
  bool terminating_ = false;
};

using SupervisorRef = Supervisor::ref_type;

// Spawns a supervisor and returns at once; its children start in the
// background (a start failure terminates it with ExitReason::error).
[[nodiscard]] std::expected<SupervisorRef, Error> spawn_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                                   std::vector<ChildSpec> children,
                                                                   SpawnOptions opts = {});

// Plain threads only (ErrorCategory::invalid_argument on a worker): spawns a
// supervisor and waits until all its children have started (OTP's
// start_link). Errors: start_failed ("child 'db' failed to start: ..."),
// timeout (the supervisor keeps starting in the background), system_stopped.
[[nodiscard]] std::expected<SupervisorRef, Error> start_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                                   std::vector<ChildSpec> children,
                                                                   std::chrono::milliseconds timeout,
                                                                   SpawnOptions opts = {});

// A ChildSpec that spawns T(args...) (args are copied for each restart).
template <class T, class... Args>
ChildSpec worker_spec(std::string id, Restart restart, Args... args) {
  ChildSpec s;
  s.id = std::move(id);
  s.restart = restart;
  s.start = [args...](ActorSystem& sys, const AnyRef& parent) -> std::expected<AnyRef, Error> {
    SpawnOptions o;
    o.link_to = parent;
    auto r = sys.spawn_with<T>(o, args...);
    if (!r) return std::unexpected(r.error());
    return AnyRef(r->cell());
  };
  return s;
}

// A ChildSpec for a nested supervisor.
ChildSpec supervisor_spec(std::string id, SupervisorFlags flags, std::vector<ChildSpec> children,
                          Restart restart = Restart::permanent);

}  // namespace airssys::rt
