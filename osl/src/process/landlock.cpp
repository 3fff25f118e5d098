#include "process/landlock.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <fmt/format.h>

#include "platform/linux_fs.hpp"

namespace airssys::osl::detail {

namespace {

constexpr std::uint64_t kRead = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
constexpr std::uint64_t kExec = LANDLOCK_ACCESS_FS_EXECUTE | kRead;
// Rights that only make sense on files (Landlock refuses directory-only rights on a file).
constexpr std::uint64_t kFileRights = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
                                      LANDLOCK_ACCESS_FS_READ_FILE | (1ull << 14) /*TRUNCATE*/;

std::uint64_t handled_for_abi(int abi) {
  std::uint64_t all = (1ull << 13) - 1;  // ABI 1: EXECUTE … MAKE_SYM
  if (abi >= 2) all |= 1ull << 13;       // REFER
  if (abi >= 3) all |= 1ull << 14;       // TRUNCATE
  return all;
}

std::uint64_t write_rights(std::uint64_t handled) {
  const std::uint64_t w = LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
                          LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG |
                          LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
                          LANDLOCK_ACCESS_FS_MAKE_SYM | (1ull << 13) | (1ull << 14);
  return (w | kRead) & handled;
}

// `follow_symlinks`: only for the execute list (admin-written system paths
// such as /lib -> usr/lib). Read and write grants derived from policy rules
// never follow a symlink: someone could plant /tmp/job -> /home/victim
// before the prefix exists.
std::expected<void, Error> add_rule(int ruleset, const std::string& path, std::uint64_t access, bool follow_symlinks) {
  std::string target = path;
  if (follow_symlinks) {
    std::error_code ec;
    target = std::filesystem::canonical(path, ec).string();
    if (ec) return {};  // a path that does not exist grants nothing; skip it
  }
  const int fd = sys_openat2(AT_FDCWD, target.c_str(), O_PATH | O_CLOEXEC, 0, 0x04 /*RESOLVE_NO_SYMLINKS*/);
  if (fd < 0) return {};  // missing, or reached through a symlink: grants nothing
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return {};
  if (!S_ISDIR(st.st_mode)) access &= kFileRights;
  if (access == 0) return {};
  landlock_path_beneath_attr attr{};
  attr.allowed_access = access;
  attr.parent_fd = fd;
  if (::syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &attr, 0) != 0) {
    return std::unexpected(Error::from_errno(errno, fmt::format("landlock rule for {}", path)));
  }
  return {};
}

}  // namespace

std::expected<UniqueFd, Error> build_landlock_ruleset(const SandboxPaths& paths) {
  const long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  if (abi < 1) {
    return std::unexpected(Error{ErrorCategory::unsupported, errno, 0,
                                 "Landlock is not available on this kernel (needs Linux 5.13+ with landlock in the LSM list)"});
  }
  const std::uint64_t handled = handled_for_abi(static_cast<int>(abi));
  landlock_ruleset_attr attr{};
  attr.handled_access_fs = handled;
  const long fd = ::syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, "landlock_create_ruleset"));
  UniqueFd ruleset(static_cast<int>(fd));
  for (const auto& p : paths.read) {
    if (auto r = add_rule(ruleset.get(), p, kRead & handled, false); !r) return std::unexpected(r.error());
  }
  for (const auto& p : paths.write) {
    if (auto r = add_rule(ruleset.get(), p, write_rights(handled), false); !r) return std::unexpected(r.error());
  }
  for (const auto& p : paths.execute) {
    if (auto r = add_rule(ruleset.get(), p, kExec & handled, true); !r) return std::unexpected(r.error());
  }
  return ruleset;
}

int landlock_restrict_self(int ruleset_fd) noexcept {
  if (::syscall(SYS_landlock_restrict_self, ruleset_fd, 0) != 0) return -errno;
  return 0;
}

}  // namespace airssys::osl::detail
