#include "platform/linux_fs.hpp"

#include <linux/openat2.h>
#include <cerrno>
#include <sys/syscall.h>
#include <unistd.h>

namespace airssys::osl::detail {

static_assert(RESOLVE_BENEATH == 0x08 && RESOLVE_NO_SYMLINKS == 0x04 && RESOLVE_NO_MAGICLINKS == 0x02);

int sys_openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) noexcept {
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  for (;;) {
    const long r = ::syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (r < 0 && errno == EAGAIN) continue;  // RESOLVE_CACHED is not used; EAGAIN = rename race, retry
    if (r < 0 && errno == EINTR) continue;
    return static_cast<int>(r);
  }
}

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452  // the same number on every architecture (Linux 6.6)
#endif

int sys_fchmodat2(int dirfd, const char* path, unsigned mode, int flags) noexcept {
  for (;;) {
    const long r = ::syscall(SYS_fchmodat2, dirfd, path, mode, flags);
    if (r < 0 && errno == EINTR) continue;
    return static_cast<int>(r);
  }
}

}  // namespace airssys::osl::detail
