#pragma once
// Shared by the rt integration tests: a thread-safe event log that actors
// write from their hooks, and a bounded wait for a condition (never a timed
// assertion: the limit only ends a hung test).
#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace rt_test {

template <class F>
bool eventually(F f, std::chrono::seconds limit = std::chrono::seconds(60)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return f();
}

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
