// airssys::rt_osl from an install: a supervised OS process as docs/rt.md
// writes it (process_spec with designated initializers, an osl::System made
// from SystemOptions{.policy}); `true` runs, exits 0 and the listener hears it.
// Its rt and osl types are in its API, so its link must bring both (CMake's
// PUBLIC dependencies, pkg-config's Requires).
#include <airssys/osl/system.hpp>
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>
#include <airssys/rt_osl/process_actor.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <utility>

namespace osl = airssys::osl;
namespace rt = airssys::rt;
namespace rto = airssys::rt_osl;
using namespace std::chrono_literals;

class Listener : public rt::Actor<Listener, rto::ProcessExited> {
 public:
  explicit Listener(std::shared_ptr<std::promise<rto::ProcessExited>> exited) : exited_(std::move(exited)) {}
  void handle(rto::ProcessExited& e) {
    if (exited_) exited_->set_value(e);
    exited_.reset();
  }

 private:
  std::shared_ptr<std::promise<rto::ProcessExited>> exited_;
};

int main() {
  auto policy = osl::Policy::parse(R"(version: 1
rules:
  - id: run-true
    effect: allow
    principals: [app]
    operations: [process.spawn, process.signal, process.kill]
    resources: ["**"]
)");
  if (!policy) {
    std::fprintf(stderr, "rt_osl: %s\n", policy.error().to_string().c_str());
    return 1;
  }
  auto exited = std::make_shared<std::promise<rto::ProcessExited>>();
  auto heard = exited->get_future();
  int rc = 1;
  {
    rt::ActorSystem sys;
    auto listener = sys.spawn<Listener>(exited);
    if (!listener) return 1;
    auto os = std::make_shared<osl::System>(osl::SystemOptions{.policy = std::move(*policy)});
    auto job = rto::process_spec("true", rt::Restart::transient,
                                 {.system = os, .principal = "app", .argv = {"true"}, .listener = *listener});
    auto tree = rt::start_supervisor(sys, {.intensity = 1, .period = 10s}, {job}, 10s);
    if (!tree) {
      std::fprintf(stderr, "rt_osl: %s\n", tree.error().to_string().c_str());
    } else if (heard.wait_for(30s) != std::future_status::ready) {
      std::fprintf(stderr, "rt_osl: no ProcessExited within 30 s\n");
    } else if (auto e = heard.get(); e.pid <= 0 || e.status.code != 0) {
      std::fprintf(stderr, "rt_osl: true exited with pid %d, code %d\n", static_cast<int>(e.pid),
                   e.status.code.value_or(-1));
    } else {
      std::puts("rt_osl ok");
      rc = 0;
    }
    (void)sys.shutdown();
  }
  return rc;
}
