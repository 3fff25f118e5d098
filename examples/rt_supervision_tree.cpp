// airssys-rt: a two-level supervision tree.
//
//   app (one_for_one, 3 restarts / 5 s)
//   ├── db        worker, permanent
//   └── workers   supervisor (rest_for_one, 2 restarts / 5 s)
//       ├── cache     worker, permanent
//       └── handler   worker, transient
//
// The handler crashes on a poisoned request; its supervisor restarts it (and,
// rest_for_one, nothing after it). Crash it often enough and `workers` gives
// up and fails to `app`, which restarts the whole `workers` subtree.
#include <airssys/rt/supervisor.hpp>
#include <airssys/rt/system.hpp>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>

namespace rt = airssys::rt;
using namespace std::chrono_literals;

struct Request {
  std::string body;
};
struct Served {
  using reply_type = int;
};

class Worker : public rt::Actor<Worker, Request, Served> {
 public:
  explicit Worker(std::string name) : name_(std::move(name)) {}
  void pre_start() override { std::printf("  start %s (actor %llu)\n", name_.c_str(), static_cast<unsigned long long>(id())); }
  void post_stop() override { std::printf("  stop  %s\n", name_.c_str()); }
  void handle(Request& r) {
    if (r.body == "poison") throw std::runtime_error("poisoned request");
    ++served_;
  }
  int handle(Served&) { return served_; }

 private:
  std::string name_;
  int served_ = 0;
};

// Children get new ids when restarted: look them up, do not cache the refs.
Worker::ref_type find(const rt::SupervisorRef& sup, const std::string& path_a, const std::string& path_b = {}) {
  auto kids = sup.ask(rt::WhichChildren{}, 5s);
  if (!kids) return {};
  for (auto& k : *kids) {
    if (k.id != path_a) continue;
    // A child's ref arrives untyped: ref_cast checks the actor really is
    // what we take it for (an unchecked ActorRef(k.ref.cell()) would not).
    if (path_b.empty()) return rt::ref_cast<Worker::ref_type>(k.ref).value_or(Worker::ref_type{});
    auto sub = rt::ref_cast<rt::SupervisorRef>(k.ref);
    return sub ? find(*sub, path_b) : Worker::ref_type{};
  }
  return {};
}

int main() {
  rt::ActorSystem sys;
  auto workers = rt::supervisor_spec(
      "workers", {.strategy = rt::Strategy::rest_for_one, .intensity = 2, .period = std::chrono::milliseconds(5000)},
      {rt::worker_spec<Worker>("cache", rt::Restart::permanent, std::string("cache")),
       rt::worker_spec<Worker>("handler", rt::Restart::transient, std::string("handler"))});
  auto app = rt::spawn_supervisor(
                 sys, {.strategy = rt::Strategy::one_for_one, .intensity = 3, .period = std::chrono::milliseconds(5000)},
                 {rt::worker_spec<Worker>("db", rt::Restart::permanent, std::string("db")), workers})
                 .value();
  std::this_thread::sleep_for(100ms);

  for (int round = 1; round <= 3; ++round) {
    std::printf("poison #%d\n", round);
    auto handler = find(app, "workers", "handler");
    (void)handler.tell(Request{"hello"});
    (void)handler.tell(Request{"poison"});
    std::this_thread::sleep_for(100ms);
  }
  auto handler = find(app, "workers", "handler");
  std::printf("handler now serves: %d request(s) since its last restart\n", handler.ask(Served{}, 5s).value_or(-1));
  std::printf("shutting down\n");
  auto r = sys.shutdown();
  return r ? 0 : 1;
}
