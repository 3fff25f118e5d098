#pragma once
// One process-wide thread that waits (epoll) on the pidfds of watched child
// processes and runs a callback when one becomes readable (the process has
// exited). Callbacks run on the watcher thread and must be short: they post
// a message to an actor. Thread-safe.
#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace airssys::rt_osl::detail {

class PidfdWatcher {
 public:
  // Started on first use, stopped (thread joined) at process exit.
  static PidfdWatcher& instance();

  // Watches a duplicate of pidfd (the caller keeps its own fd). on_exit runs
  // once, after which the watch is gone. Returns a watch id (never 0).
  [[nodiscard]] std::expected<std::uint64_t, osl::Error> watch(int pidfd, std::move_only_function<void(std::uint64_t)> on_exit);
  // After this returns, on_exit for `id` is not started (it may be running
  // right now on the watcher thread, if the exit raced with this call).
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
  std::thread thread_;
};

}  // namespace airssys::rt_osl::detail
