#pragma once
// One process-wide thread that waits (epoll) on the pidfds of watched child
// processes and runs a callback when one becomes readable (the process has
// exited). Callbacks run on the watcher thread and must be short: they post
// a message to an actor. Thread-safe.
//
// Lifetime: the one instance is created on first use and never destroyed,
// so it outlives every ActorSystem, including a global one whose actors
// unwatch (and need their exits reported) during static destruction. Its
// thread sleeps in epoll_wait until the process ends.
#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace airssys::rt_osl::detail {

class PidfdWatcher {
 public:
  // Started on first use; lives until the process ends (never destroyed).
  static PidfdWatcher& instance();

  // Watches a duplicate of pidfd (the caller keeps its own fd). on_exit runs
  // once, after which the watch is gone. Returns a watch id (never 0).
  [[nodiscard]] std::expected<std::uint64_t, osl::Error> watch(int pidfd, std::move_only_function<void(std::uint64_t)> on_exit);
  // After this returns, on_exit for `id` is neither running nor will it
  // start: if the exit raced with this call, this waits for the callback
  // (short by contract) to finish. Must not be called from inside a callback
  // for the same id.
  void unwatch(std::uint64_t id) noexcept;

  PidfdWatcher(const PidfdWatcher&) = delete;
  PidfdWatcher& operator=(const PidfdWatcher&) = delete;
  ~PidfdWatcher();

 private:
  PidfdWatcher();
  void loop();

  struct Entry {
    osl::UniqueFd fd;
    std::move_only_function<void(std::uint64_t)> on_exit;
  };
  osl::UniqueFd epoll_;
  osl::UniqueFd wake_;  // eventfd: stop the loop
  std::mutex m_;
  std::unordered_map<std::uint64_t, Entry> entries_;  // guarded by m_
  std::uint64_t next_id_ = 1;                         // guarded by m_
  std::uint64_t running_ = 0;                         // guarded by m_: the callback in progress
  std::condition_variable ran_;                       // running_ went back to 0
  std::thread thread_;
};

}  // namespace airssys::rt_osl::detail
