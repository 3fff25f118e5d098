#pragma once
// Shared by the rt integration tests: a thread-safe event log that actors
// write from their hooks; eventually() (airssys::testing) for bounded waits.
#include <airssys/testing/eventually.hpp>

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace rt_test {

using airssys::testing::eventually;

struct Probe {
  std::mutex m;
  std::vector<std::string> events;
  void add(std::string e) {
    std::lock_guard lk(m);
    events.push_back(std::move(e));
  }
  int count(const std::string& e) {
    std::lock_guard lk(m);
    return static_cast<int>(std::count(events.begin(), events.end(), e));
  }
  std::vector<std::string> since(std::size_t n) {
    std::lock_guard lk(m);
    return {events.begin() + static_cast<std::ptrdiff_t>(std::min(n, events.size())), events.end()};
  }
  std::size_t size() {
    std::lock_guard lk(m);
    return events.size();
  }
};

}  // namespace rt_test
