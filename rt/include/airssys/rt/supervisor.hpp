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
//  - Children are started in order and stopped in reverse order; each child
//    is stopped with a shutdown exit signal and killed if it has not exited
//    within its Shutdown timeout (or killed at once with Shutdown::immediate()).
//  - A child is an actor linked to the supervisor; the supervisor traps exits.
//    Children get new actor ids on restart (OTP: new pids): look them up with
//    WhichChildren (or, later, the registry), do not cache refs across restarts.
//
// All supervisor work happens in its own actor context; it never blocks a worker.
#include <airssys/rt/actor.hpp>
#include <airssys/rt/system.hpp>
#include <chrono>
#include <deque>
#include <functional>
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
  std::string id;
  // Spawns the child linked to `parent` (SpawnOptions::link_to). Called again on every restart.
  std::function<std::expected<AnyRef, Error>(ActorSystem& sys, const AnyRef& parent)> start;
  Restart restart = Restart::permanent;
  Shutdown shutdown{};
};

struct SupervisorFlags {
  Strategy strategy = Strategy::one_for_one;
  int intensity = 3;                          // max restarts ...
  std::chrono::milliseconds period{5000};     // ... within this period
};

struct ChildInfo {
  std::string id;
  AnyRef ref;
};

// Asks a supervisor for its running children, in start order.
struct WhichChildren {
  using reply_type = std::vector<ChildInfo>;
};

class Supervisor : public Actor<Supervisor, WhichChildren> {
 public:
  Supervisor(SupervisorFlags flags, std::vector<ChildSpec> specs);
  void pre_start() override;
  void on_exit(const ExitSignal& s) override;
  std::vector<ChildInfo> handle(WhichChildren&);

 private:
  struct Child {
    ChildSpec spec;
    AnyRef ref;
  };
  struct Op {
    std::uint64_t gen = 0;
    std::vector<std::size_t> to_stop;     // indices, in stop order
    std::size_t pos = 0;
    std::vector<std::size_t> to_restart;  // indices, in start order
    bool exit_after = false;
    ExitReason exit_reason = ExitReason::shutdown;
    std::uint64_t timer = 0;
  };

  void child_exited(std::size_t idx, ExitReason reason);
  bool start_child(std::size_t idx);
  bool record_restart();
  void begin(Op op);
  void advance();
  void finish();
  void give_up(ExitReason reason);
  std::optional<std::size_t> find(ActorId id) const;

  SupervisorFlags flags_;
  std::vector<Child> children_;
  std::deque<std::chrono::steady_clock::time_point> restarts_;
  std::optional<Op> op_;
  std::uint64_t next_gen_ = 1;
  std::deque<ExitSignal> deferred_;
  bool terminating_ = false;
};

using SupervisorRef = Supervisor::ref_type;

[[nodiscard]] std::expected<SupervisorRef, Error> spawn_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                                   std::vector<ChildSpec> children,
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
