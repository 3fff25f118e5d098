// Which exit signals a supervisor obeys (OTP's rules): exits of its
// children drive restarts; an exit from its parent (the actor it was
// spawned linked to) stops the children in reverse start order and ends
// the supervisor with the parent's reason, normal included; an exit from
// any other actor, linked or not, is ignored (OTP's supervisor drops an
// 'EXIT' from a pid that is neither). Deterministic mode: every step runs
// on this thread, no sleeps, no timing.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <gtest/gtest.h>

#include "supervision_fixtures.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

namespace {

using rt_test::Crash;
using rt_test::ExitTo;
using rt_test::LinkTo;
using rt_test::Quit;
using rt_test::StopWith;
using rt_test::Stranger;

using Log = std::vector<std::string>;

class Worker : public rt::Actor<Worker, Crash, Quit> {
 public:
  Worker(Log* log, std::string name) : log_(log), name_(std::move(name)) {}
  void pre_start() override { log_->push_back("start:" + name_); }
  void post_stop() override { log_->push_back("stop:" + name_); }
  void handle(Crash&) { throw std::runtime_error("crash " + name_); }
  void handle(Quit&) { stop(); }

 private:
  Log* log_;
  std::string name_;
};

std::vector<rt::ChildSpec> abc(Log* log) {
  return {rt::worker_spec<Worker>("a", rt::Restart::permanent, log, std::string("a")),
          rt::worker_spec<Worker>("b", rt::Restart::permanent, log, std::string("b")),
          rt::worker_spec<Worker>("c", rt::Restart::permanent, log, std::string("c"))};
}

// The parent: spawns a supervisor linked to itself, as a supervisor spawns
// a nested one.
class Owner : public rt::Actor<Owner, StopWith, Crash> {
 public:
  Owner(Log* log, rt::SupervisorRef* out) : log_(log), out_(out) {}
  void pre_start() override {
    rt::SpawnOptions o;
    o.link_to = self_any();
    *out_ = rt::spawn_supervisor(system(), {}, abc(log_), o).value();
  }
  void handle(StopWith& m) { stop(m.reason); }
  void handle(Crash&) { throw std::runtime_error("owner crashed"); }

 private:
  Log* log_;
  rt::SupervisorRef* out_;
};

rt::SystemConfig det() { return rt_test::virtual_time(); }

std::map<std::string, rt::AnyRef> which_children(rt::ActorSystem& sys, const rt::SupervisorRef& s) {
  std::map<std::string, rt::AnyRef> out;
  for (auto& c : rt_test::children(sys, s)) out[c.id] = c.ref;
  return out;
}

std::vector<std::string> stops(const Log& log) {
  std::vector<std::string> out;
  for (const auto& e : log)
    if (e.rfind("stop:", 0) == 0) out.push_back(e);
  return out;
}

const Log kStarted{"start:a", "start:b", "start:c"};
const std::vector<std::string> kStoppedInOrder{"stop:c", "stop:b", "stop:a"};

class SupervisorExits : public ::testing::Test {
 protected:
  void SetUp() override {
    sup_ = rt::spawn_supervisor(sys_, {}, abc(&log_)).value();
    stranger_ = sys_.spawn<Stranger>().value();
    sys_.run_until_idle();
    ASSERT_EQ(log_, kStarted);
  }
  // The supervisor still runs, with the same three children and no restart.
  void expect_untouched() {
    EXPECT_FALSE(sup_.stopped());
    EXPECT_EQ(log_, kStarted);
  }

  Log log_;  // declared before sys_: post_stop hooks write to it during shutdown
  rt::ActorSystem sys_{det()};
  rt::SupervisorRef sup_;
  Stranger::ref_type stranger_;
};

TEST_F(SupervisorExits, LinkedStrangerThatCrashesIsIgnored) {
  ASSERT_TRUE(stranger_.tell(LinkTo{sup_}).has_value());
  sys_.run_until_idle();
  ASSERT_TRUE(stranger_.tell(Crash{}).has_value());
  sys_.run_until_idle();
  ASSERT_TRUE(stranger_.stopped());
  EXPECT_EQ(stranger_.exit_reason(), rt::ExitReason::error);
  expect_untouched();
}

TEST_F(SupervisorExits, LinkedStrangerStoppedWithShutdownOrKilledIsIgnored) {
  ASSERT_TRUE(stranger_.tell(LinkTo{sup_}).has_value());
  sys_.run_until_idle();
  auto second = sys_.spawn<Stranger>().value();
  ASSERT_TRUE(second.tell(LinkTo{sup_}).has_value());
  sys_.run_until_idle();
  stranger_.stop();  // shutdown reaches the supervisor through the link
  second.kill();     // so does killed (trappable when it comes through a link, as in Erlang)
  sys_.run_until_idle();
  ASSERT_TRUE(stranger_.stopped());
  ASSERT_TRUE(second.stopped());
  expect_untouched();
}

TEST_F(SupervisorExits, ExitSignalSentByAnotherActorIsIgnored) {
  for (auto r : {rt::ExitReason::error, rt::ExitReason::shutdown, rt::ExitReason::killed, rt::ExitReason::normal}) {
    ASSERT_TRUE(stranger_.tell(ExitTo{sup_, r}).has_value());
    sys_.run_until_idle();
  }
  expect_untouched();
}

TEST_F(SupervisorExits, ChildrenStillRestartAfterAnIgnoredExit) {
  ASSERT_TRUE(stranger_.tell(ExitTo{sup_, rt::ExitReason::error}).has_value());
  sys_.run_until_idle();
  auto refs = which_children(sys_, sup_);
  ASSERT_EQ(refs.size(), 3u);
  rt::ActorRef<Crash, Quit> b(refs["b"].cell());
  ASSERT_TRUE(b.tell(Crash{}).has_value());
  sys_.run_until_idle();
  EXPECT_EQ(log_, (Log{"start:a", "start:b", "start:c", "stop:b", "start:b"}));
  EXPECT_FALSE(sup_.stopped());
}

TEST_F(SupervisorExits, ExitSignalFromOutsideAnyActorStopsIt) {
  // A plain thread (or the system's shutdown) stands where OTP has the
  // application master: ref.stop() stops the tree in order.
  sup_.stop();
  sys_.run_until_idle();
  ASSERT_TRUE(sup_.stopped());
  EXPECT_EQ(sup_.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(stops(log_), kStoppedInOrder);
}

struct ParentCase {
  const char* name;
  rt::ExitReason reason;
};

class ParentExit : public ::testing::TestWithParam<ParentCase> {};

// The parent ends with each reason: the supervisor stops its children in
// reverse start order and ends with the same reason (OTP: gen_server's
// terminate on an 'EXIT' from its parent, normal included).
TEST_P(ParentExit, StopsChildrenInOrderAndExitsWithTheParentsReason) {
  const auto reason = GetParam().reason;
  Log log;
  rt::ActorSystem sys{det()};
  rt::SupervisorRef sup;
  auto owner = sys.spawn<Owner>(&log, &sup).value();
  sys.run_until_idle();
  ASSERT_TRUE(sup.valid());
  ASSERT_EQ(log, kStarted);
  switch (reason) {
    case rt::ExitReason::error:
      ASSERT_TRUE(owner.tell(Crash{}).has_value());
      break;
    case rt::ExitReason::killed:
      owner.kill();
      break;
    default:
      ASSERT_TRUE(owner.tell(StopWith{reason}).has_value());
      break;
  }
  sys.run_until_idle();
  ASSERT_TRUE(owner.stopped());
  EXPECT_EQ(owner.exit_reason(), reason);
  ASSERT_TRUE(sup.stopped()) << "the supervisor outlived its parent";
  EXPECT_EQ(sup.exit_reason(), reason);
  EXPECT_EQ(stops(log), kStoppedInOrder);
}

INSTANTIATE_TEST_SUITE_P(Reasons, ParentExit,
                         ::testing::Values(ParentCase{"normal", rt::ExitReason::normal},
                                           ParentCase{"shutdown", rt::ExitReason::shutdown},
                                           ParentCase{"error", rt::ExitReason::error},
                                           ParentCase{"killed", rt::ExitReason::killed}),
                         [](const auto& p) { return std::string(p.param.name); });

// A nested supervisor obeys its parent supervisor (the one that started it)
// and ignores a stranger linked to it.
TEST(SupervisorExitsNested, NestedSupervisorIgnoresStrangerAndObeysItsParent) {
  Log log;
  rt::ActorSystem sys{det()};
  auto root = rt::spawn_supervisor(sys, {}, {rt::supervisor_spec("inner", {}, abc(&log))}).value();
  sys.run_until_idle();
  ASSERT_EQ(log, kStarted);
  rt::AnyRef inner = which_children(sys, root)["inner"];
  ASSERT_TRUE(inner.valid());
  auto stranger = sys.spawn<Stranger>().value();
  ASSERT_TRUE(stranger.tell(LinkTo{inner}).has_value());
  sys.run_until_idle();
  ASSERT_TRUE(stranger.tell(Crash{}).has_value());
  sys.run_until_idle();
  EXPECT_FALSE(inner.stopped());
  EXPECT_EQ(log, kStarted);
  // The root's shutdown reaches the inner supervisor from its parent.
  root.stop();
  sys.run_until_idle();
  EXPECT_TRUE(inner.stopped());
  EXPECT_EQ(inner.exit_reason(), rt::ExitReason::shutdown);
  EXPECT_EQ(stops(log), kStoppedInOrder);
}

}  // namespace
