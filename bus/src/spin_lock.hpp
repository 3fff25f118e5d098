#pragma once
// SpinLock: a lock for critical sections of a few hundred nanoseconds that
// are entered millions of times a second (the client's output buffer: one
// encoded frame appended, or two buffers swapped). Unlocking is a plain
// release store, where std::mutex pays a second atomic read-modify-write; at
// 10 M publishes/s that was half of the lock's cost (docs/BENCHMARKS.md).
// A waiter spins briefly, then yields its core, so a holder that was
// preempted on a busy machine gets to run. Not for sections that block.

#include <atomic>
#include <thread>

namespace airssys::bus::detail {

class SpinLock {
 public:
  // The uncontended case inline (one exchange); waiting out of line.
  [[gnu::always_inline]] void lock() noexcept {
    if (!held_.exchange(true, std::memory_order_acquire)) [[likely]]
      return;
    lock_slow();
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  [[gnu::noinline]] void lock_slow() noexcept {
    while (held_.exchange(true, std::memory_order_acquire)) {
      for (int spins = 0; held_.load(std::memory_order_relaxed); ++spins) {
        if (spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
          __builtin_ia32_pause();
#endif
        } else {
          std::this_thread::yield();
        }
      }
    }
  }

  std::atomic<bool> held_{false};
};

}  // namespace airssys::bus::detail
