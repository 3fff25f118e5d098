#include "spin_lock.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

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
  // that has already yielded kYields times. A refusal for good (no such
  // command, seccomp: ENOSYS, EINVAL, EPERM) is remembered; a passing one
  // (ENOMEM: the kernel could not allocate, e.g. its CPU mask) is tried
  // again by the next waiter.
  enum : int { kUnknown, kYes, kNever };
  static std::atomic<int> state{kUnknown};
  const int s = state.load(std::memory_order_relaxed);
  if (s != kUnknown) return s == kYes;
  if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)) {
    state.store(kYes, std::memory_order_relaxed);
    return true;
  }
  if (errno != ENOMEM && errno != EAGAIN && errno != EINTR) state.store(kNever, std::memory_order_relaxed);
  return false;
}

// Lost-wake-up freedom without a fence in unlock(): a sleeper S increments
// sleepers_, then runs membarrier, which returns only after every running
// thread of the process has passed a full barrier (a descheduled one passed
// it when it was switched out; the kernel's own barrier on entry makes the
// increment visible before any is sent). S then futex-waits, and the kernel
// sleeps only if held_ is still 1. Say S's wait reads the 1 written by some
// thread's exchange X. The unlock by X's owner comes later among the writes
// to held_, so S could not see it: its store ran after that CPU's barrier,
// and so did its load of sleepers_, which therefore sees S's increment and
// wakes one. (If the wait reads 0 it returns at once.) Every unlock() that
// sees sleepers wakes one, and a woken waiter that loses the race for the
// lock counts itself and sleeps again.
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
        const bool barrier = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        if (barrier) futex_wait(&held_, 1);
        sleepers_.fetch_sub(1, std::memory_order_relaxed);
        // Registered but refused now (ENOMEM, a seccomp filter on this one
        // command): no sleep this round, and no hot loop of syscalls either.
        if (!barrier) std::this_thread::yield();
      }
    }
  } while (held_.exchange(1, std::memory_order_acquire) != 0);
}

void SpinLock::wake_one() noexcept { futex_wake(&held_, 1); }

}  // namespace airssys::rt::detail
