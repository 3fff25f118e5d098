#pragma once
// The futex calls the scheduler's parking and SpinLock's sleepers use
// (private futexes: the word is never shared with another process).
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <ctime>

namespace airssys::rt::detail {

// Sleeps while *addr == expected (the kernel compares, so a wake between the
// caller's check and the sleep is not lost), until woken, for at most
// timeout_ns (< 0: no limit). May return early (signals, spurious wakes).
inline void futex_wait(std::atomic<std::uint32_t>* addr, std::uint32_t expected, long timeout_ns = -1) noexcept {
  timespec ts{timeout_ns / 1'000'000'000, timeout_ns % 1'000'000'000};
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected,
          timeout_ns < 0 ? nullptr : &ts, nullptr, 0);
}
inline void futex_wake(std::atomic<std::uint32_t>* addr, int n) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(addr), FUTEX_WAKE_PRIVATE, n, nullptr, nullptr, 0);
}

}  // namespace airssys::rt::detail
