// A supervisor that keeps an OS process running: rt_osl's ProcessActor
// spawns it through airssys-osl (policy-checked, audited), the supervisor
// restarts it when it crashes, and gives up after `intensity` restarts.
//
//   scripts/build dev rt_process_supervisor && build/dev/examples/rt_process_supervisor
#include <airssys/rt_osl/process_actor.hpp>

#include <chrono>
#include <cstdio>
#include <thread>

namespace rt = airssys::rt;
namespace osl = airssys::osl;
namespace rto = airssys::rt_osl;
using namespace std::chrono_literals;

// Prints every exit the process actors report.
class Log : public rt::Actor<Log, rto::ProcessExited> {
 public:
  void handle(rto::ProcessExited& e) {
    std::printf("pid %d exited: %s %d\n", static_cast<int>(e.pid), e.status.code ? "code" : "signal",
                e.status.code ? *e.status.code : e.status.signal.value_or(0));
  }
};

int main() {
  // Deny by default: this policy lets principal "svc" run programs from /bin and /usr/bin only.
  auto policy = osl::Policy::parse(R"(
version: 1
rules:
  - id: svc-bins
    effect: allow
    principals: ["svc"]
    operations: ["process.*"]
    resources: ["/bin/**", "/usr/bin/**"]
)");
  if (!policy) {
    std::fprintf(stderr, "%s\n", policy.error().to_string().c_str());
    return 1;
  }
  auto os = std::make_shared<osl::System>(osl::SystemOptions{.policy = *policy});

  rt::ActorSystem sys;
  auto log = sys.spawn<Log>().value();
  // "flaky" fails at once (/bin/false); "steady" runs until the tree stops.
  auto flaky = rto::process_spec("flaky", rt::Restart::permanent,
                                 {.system = os, .principal = "svc", .argv = {"/bin/false"}, .listener = log});
  auto steady = rto::process_spec("steady", rt::Restart::permanent,
                                  {.system = os, .principal = "svc", .argv = {"/bin/sleep", "600"}, .listener = log});
  auto tree = rt::start_supervisor(sys, {.strategy = rt::Strategy::one_for_one, .intensity = 3, .period = 60s},
                                   {steady, flaky}, 10s);
  if (!tree) {
    std::fprintf(stderr, "start failed: %s\n", tree.error().message.c_str());
    return 1;
  }
  while (!tree->stopped()) std::this_thread::sleep_for(10ms);
  std::printf("supervisor gave up (%s); the sleeping process was stopped with it\n",
              rt::to_string(tree->exit_reason()));
  return 0;
}
