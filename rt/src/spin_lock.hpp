#pragma once
// A lock for sections of a few dozen instructions that one thread takes
// almost always uncontended (a live-list shard, system_core.hpp): one
// exchange to take it; a plain store and a load of a counter on the same
// line to release it. A std::mutex cost such a section ~60 instructions and
// two atomic read-modify-writes, each of which first waits for every store
// before it (in rt_bench spawn, the stores into the cell just constructed).
// A waiter spins briefly, yields its core a few times, then sleeps on a
// futex until the holder releases the lock: a holder can work for long
// (start_cell growing a shard for millions of cells, snapshot(), compact()),
// and a waiter yielding all that time cost a core on this 2-core machine.
// BasicLockable and Lockable: usable with std::lock_guard. Unlike a
// std::mutex, it must not be destroyed while another thread may still be
// inside unlock(): unlock() reads the lock (its sleeper count) after the
// store that lets the next thread in.
#include <atomic>
#include <cstdint>

namespace airssys::rt::detail {

class SpinLock {
 public:
  void lock() noexcept {
    if (held_.exchange(1, std::memory_order_acquire) != 0) [[unlikely]]
      lock_contended();
  }
  [[nodiscard]] bool try_lock() noexcept {
    return held_.load(std::memory_order_relaxed) == 0 && held_.exchange(1, std::memory_order_acquire) == 0;
  }
  void unlock() noexcept {
    held_.store(0, std::memory_order_release);
    // No fence between the store and the load (a fence would cost what the
    // plain store saves): a waiter about to sleep counts itself, then makes
    // every thread of the process pass a full barrier (membarrier), so either
    // it sees this store or this load sees its count (spin_lock.cpp). The
    // compiler must not swap the two, though.
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) != 0) [[unlikely]]
      wake_one();
  }
  // Threads asleep in lock() (or about to sleep, or just woken). For tests.
  [[nodiscard]] std::uint32_t sleepers() const noexcept { return sleepers_.load(std::memory_order_relaxed); }
  // False where the kernel refuses membarrier's registration (seccomp, old
  // kernels): then a waiter keeps yielding instead of sleeping. A waiter
  // whose barrier is refused after registration yields that round.
  [[nodiscard]] static bool waiters_can_sleep() noexcept;

 private:
  void lock_contended() noexcept;
  void wake_one() noexcept;

  std::atomic<std::uint32_t> held_{0};  // 0 or 1; the futex word sleepers wait on
  std::atomic<std::uint32_t> sleepers_{0};
};

}  // namespace airssys::rt::detail
