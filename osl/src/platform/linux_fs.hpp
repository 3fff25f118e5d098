#pragma once
// Thin wrappers over Linux file system calls glibc 2.36 does not wrap.

#include <airssys/osl/unique_fd.hpp>

#include <cstdint>

namespace airssys::osl::detail {

// openat2(2). `resolve` is a mask of RESOLVE_* flags. Returns fd or -1/errno.
int sys_openat2(int dirfd, const char* path, std::uint64_t flags, std::uint64_t mode, std::uint64_t resolve) noexcept;

// fchmodat2(2) (Linux 6.6), which honours AT_SYMLINK_NOFOLLOW. Returns 0 or
// -1/errno (ENOSYS on older kernels).
int sys_fchmodat2(int dirfd, const char* path, unsigned mode, int flags) noexcept;

// The resolve flags every airssys-osl open of a checked path uses: stay
// beneath the pinned directory, follow no symlink, no /proc magic links.
inline constexpr std::uint64_t kStrictResolve = 0x08 /*RESOLVE_BENEATH*/ | 0x04 /*RESOLVE_NO_SYMLINKS*/ |
                                                0x02 /*RESOLVE_NO_MAGICLINKS*/;

}  // namespace airssys::osl::detail
