#include <airssys/testing/eventually.hpp>

#include <algorithm>
#include <thread>

namespace airssys::testing {

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
  using namespace std::chrono_literals;
  const auto end = std::chrono::steady_clock::now() + limit;
  std::chrono::milliseconds pause = 1ms;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(pause);
    pause = std::min<std::chrono::milliseconds>(pause * 2, 50ms);
  }
  return pred();
}

}  // namespace airssys::testing
