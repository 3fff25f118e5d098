// airssys::bus from an install: a broker on a socket in a fresh temp dir, a
// client publishes and reads its own message back. The broker goes through
// airssys::osl, so this also links osl's private dependencies.
#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace bus = airssys::bus;
using namespace std::chrono_literals;

int main() {
  std::string dir_template = (std::filesystem::temp_directory_path() / "airssys-consumer-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) return 1;
  const std::filesystem::path dir = dir_template;
  int rc = 1;
  {
    auto broker = bus::Broker::start({.socket_path = dir / "bus.sock"});
    if (!broker) {
      std::fprintf(stderr, "bus: %s\n", broker.error().to_string().c_str());
    } else if (auto client = bus::Client::connect({.socket_path = dir / "bus.sock"}); !client) {
      std::fprintf(stderr, "bus: %s\n", client.error().to_string().c_str());
    } else if (auto sub = (*client)->subscribe_pull("greetings.*"); !sub) {
      std::fprintf(stderr, "bus: %s\n", sub.error().to_string().c_str());
    } else if (!(*client)->publish("greetings.world", "hello", {.correlation_id = "c-1"}) || !(*client)->flush()) {
      std::fprintf(stderr, "bus: publish failed\n");
    } else if (auto m = sub->next(10s); !m || m->payload != "hello" || m->correlation_id != "c-1") {
      std::fprintf(stderr, "bus: message not received\n");
    } else {
      std::puts("bus ok");
      rc = 0;
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}
