#pragma once
// A lock for sections of a few dozen instructions that one thread takes
// almost always uncontended (a live-list shard, system_core.hpp): one
// exchange to take it, a plain store to release it. A std::mutex cost such
// a section ~60 instructions and two atomic read-modify-writes, each of
// which first waits for every store before it (in rt_bench spawn, the
// stores into the cell just constructed). A waiter spins briefly, then
// yields its core until the holder (perhaps a long snapshot()) is done.
// BasicLockable and Lockable: usable with std::lock_guard.
#include <atomic>
#include <thread>

namespace airssys::rt::detail {

class SpinLock {
 public:
  void lock() noexcept {
    unsigned spins = 0;
    while (held_.exchange(true, std::memory_order_acquire)) {
      while (held_.load(std::memory_order_relaxed)) {
        if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  [[nodiscard]] bool try_lock() noexcept {
    return !held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire);
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

}  // namespace airssys::rt::detail
