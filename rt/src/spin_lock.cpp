#include "spin_lock.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <thread>

#include "futex.hpp"

namespace airssys::rt::detail {
namespace {

constexpr unsigned kSpins = 64;   // pause instructions: a shard section is short
constexpr unsigned kYields = 32;  // then yields, then sleep

bool membarrier(int cmd) noexcept { return syscall(SYS_membarrier, cmd, 0, 0) == 0; }

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

bool SpinLock::waiters_can_sleep() noexcept {
  // Registration is once per process and lasts; the expedited barrier costs
  // an IPI to each CPU running one of our threads, paid only by a waiter
  // that has already yielded kYields times.
  static const bool ok = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
  return ok;
}

// Lost-wake-up freedom without a fence in unlock(): a sleeper increments
// sleepers_, then runs membarrier, which returns only after every running
// thread of the process has passed a full barrier (a descheduled one passed
// it when it was switched out). For an unlocker U: if U's store of 0 came
// before its barrier, it is visible when membarrier returns, and the futex
// wait (the kernel compares held_ with 1) returns at once unless another
// thread has taken the lock since, and that thread's exchange comes after
// the increment, so its unlock() loads a non-zero sleepers_ and wakes one.
// Otherwise U's load of sleepers_ comes after its barrier and sees the
// increment. Every unlock() that sees sleepers wakes one, and a woken waiter
// that loses the race for the lock counts itself and sleeps again.
void SpinLock::lock_contended() noexcept {
  unsigned rounds = 0;
  do {
    while (held_.load(std::memory_order_relaxed) != 0) {
      if (rounds < kSpins) {
        ++rounds;
        cpu_relax();
      } else if (rounds < kSpins + kYields || !waiters_can_sleep()) {
        ++rounds;
        std::this_thread::yield();
      } else {
        sleepers_.fetch_add(1, std::memory_order_seq_cst);
        if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)) futex_wait(&held_, 1);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  } while (held_.exchange(1, std::memory_order_acquire) != 0);
}

void SpinLock::wake_one() noexcept { futex_wake(&held_, 1); }

}  // namespace airssys::rt::detail
