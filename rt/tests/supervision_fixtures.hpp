#pragma once
// Shared by the supervision tests that run in deterministic mode with
// virtual time (supervision, supervisor_exits, supervisor_health): the
// messages their actors take, an actor that is neither child nor parent of
// a supervisor, and asking from the test thread.
//
// In deterministic mode nothing runs outside run_until_idle(), so a plain
// thread's blocking ask would wait forever; ask_now() asks from a
// short-lived actor and runs the system until idle instead. Call it only
// from the thread that drives the system.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <chrono>
#include <expected>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace rt_test {

namespace rt = airssys::rt;

struct Crash {};
struct Quit {};
struct LinkTo {
  rt::AnyRef target;
};
struct ExitTo {
  rt::AnyRef target;
  rt::ExitReason reason;
};
struct StopWith {
  rt::ExitReason reason;
};

// An actor that is neither child nor parent of the supervisor under test.
class Stranger : public rt::Actor<Stranger, LinkTo, ExitTo, Crash, StopWith> {
 public:
  void handle(LinkTo& m) { link(m.target); }
  void handle(ExitTo& m) { m.target.send_exit(m.reason); }
  void handle(Crash&) { throw std::runtime_error("stranger crashed"); }
  void handle(StopWith& m) { stop(m.reason); }
};

// No worker threads; timers fire only in advance_time().
inline rt::SystemConfig virtual_time() { return {.deterministic = true, .virtual_time = true}; }

template <class Ref, class M>
using AskResult = std::optional<std::expected<typename M::reply_type, rt::Error>>;

// Asks `to` once from its pre_start and keeps the answer in *out.
template <class Ref, class M>
class Asker : public rt::Actor<Asker<Ref, M>, Quit> {
 public:
  Asker(Ref to, M m, AskResult<Ref, M>* out) : to_(std::move(to)), m_(std::move(m)), out_(out) {}
  void pre_start() override {
    // The timeout is virtual: it fires only if a test advances the clock an hour.
    this->ask(to_, std::move(m_), std::chrono::hours(1),
              [this](std::expected<typename M::reply_type, rt::Error> r) { *out_ = std::move(r); });
  }
  void handle(Quit&) { this->stop(); }

 private:
  Ref to_;
  M m_;
  AskResult<Ref, M>* out_;
};

// The reply to `m`, once the system has run until idle; `timeout` if the
// receiver never answered in that time (the asker is gone afterwards).
template <class Ref, class M>
std::expected<typename M::reply_type, rt::Error> ask_now(rt::ActorSystem& sys, const Ref& to, M m) {
  AskResult<Ref, M> out;
  auto a = sys.spawn<Asker<Ref, M>>(to, std::move(m), &out);
  if (!a) return std::unexpected(a.error());
  sys.run_until_idle();
  a->stop();
  sys.run_until_idle();
  if (!out)
    return std::unexpected(rt::Error{rt::ErrorCategory::timeout, "no reply once the system was idle"});
  return std::move(*out);
}

// Spawns a supervisor and runs the system until idle: its children have started.
inline rt::SupervisorRef start_until_idle(rt::ActorSystem& sys, rt::SupervisorFlags f,
                                          std::vector<rt::ChildSpec> specs) {
  auto s = rt::spawn_supervisor(sys, f, std::move(specs));
  sys.run_until_idle();
  return s ? std::move(*s) : rt::SupervisorRef{};
}

// The supervisor's running children in start order (empty if it does not answer).
inline std::vector<rt::ChildInfo> children(rt::ActorSystem& sys, const rt::SupervisorRef& s) {
  auto r = ask_now(sys, s, rt::WhichChildren{});
  return r ? std::move(*r) : std::vector<rt::ChildInfo>{};
}

}  // namespace rt_test
