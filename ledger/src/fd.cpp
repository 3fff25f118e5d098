#include "fd.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include <fmt/format.h>

namespace airssys::ledger::detail {

namespace {

std::atomic<const IoHooks*> g_hooks{nullptr};

ssize_t do_pwrite(int fd, const void* data, std::size_t n, off_t offset) noexcept {
  if (const IoHooks* h = g_hooks.load(std::memory_order_acquire); h != nullptr && h->pwrite != nullptr) [[unlikely]]
    return h->pwrite(fd, data, n, offset);
  return ::pwrite(fd, data, n, offset);
}

int do_fdatasync(int fd) noexcept {
  if (const IoHooks* h = g_hooks.load(std::memory_order_acquire); h != nullptr && h->fdatasync != nullptr) [[unlikely]]
    return h->fdatasync(fd);
  return ::fdatasync(fd);
}

int do_fsync(int fd) noexcept {
  if (const IoHooks* h = g_hooks.load(std::memory_order_acquire); h != nullptr && h->fsync != nullptr) [[unlikely]]
    return h->fsync(fd);
  return ::fsync(fd);
}

int do_ftruncate(int fd, off_t length) noexcept {
  if (const IoHooks* h = g_hooks.load(std::memory_order_acquire); h != nullptr && h->ftruncate != nullptr) [[unlikely]]
    return h->ftruncate(fd, length);
  return ::ftruncate(fd, length);
}

}  // namespace

void set_io_hooks(const IoHooks* hooks) noexcept { g_hooks.store(hooks, std::memory_order_release); }

void UniqueFd::reset() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Mapping::~Mapping() {
  if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), length_);
}

Mapping& Mapping::operator=(Mapping&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::munmap(const_cast<std::uint8_t*>(data_), length_);
    data_ = std::exchange(o.data_, nullptr);
    length_ = std::exchange(o.length_, 0);
  }
  return *this;
}

Result<Mapping> Mapping::map(int fd, std::size_t length, const std::string& what) {
  Mapping m;
  if (length == 0) return m;
  void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return std::unexpected(Error::from_errno(errno, "mmap " + what));
  m.data_ = static_cast<const std::uint8_t*>(p);
  m.length_ = length;
  return m;
}

Result<UniqueFd> open_dir(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP || err == ENOTDIR)
      return fail(err == ELOOP ? ErrorCategory::invalid_argument : ErrorCategory::not_found,
                  fmt::format("{} is not a directory (symlinks are not followed)", dir.string()));
    return std::unexpected(Error::from_errno(err, "open " + dir.string()));
  }
  return UniqueFd(fd);
}

Result<UniqueFd> open_file_at(int dirfd, const char* name, int flags, const std::string& what, mode_t mode) {
  const int fd = ::openat(dirfd, name, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
  if (fd < 0) {
    const int err = errno;
    if (err == ELOOP) return fail(ErrorCategory::corrupt, fmt::format("{} is a symlink; refusing to follow it", what));
    return std::unexpected(Error::from_errno(err, "open " + what));
  }
  UniqueFd owned(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, "stat " + what));
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::corrupt, fmt::format("{} is not a regular file", what));
  return owned;
}

Result<void> pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset, const std::string& what) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (n > 0) {
    const ssize_t w = do_pwrite(fd, p, n, static_cast<off_t>(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "write " + what));
    }
    p += w;
    n -= static_cast<std::size_t>(w);
    offset += static_cast<std::uint64_t>(w);
  }
  return {};
}

Result<std::size_t> pread_some(int fd, void* data, std::size_t n, std::uint64_t offset, const std::string& what) {
  auto* p = static_cast<std::uint8_t*>(data);
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::pread(fd, p + got, n - got, static_cast<off_t>(offset + got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, "read " + what));
    }
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

Result<void> pread_exact(int fd, void* data, std::size_t n, std::uint64_t offset, const std::string& what) {
  auto got = pread_some(fd, data, n, offset, what);
  if (!got) return std::unexpected(std::move(got.error()));
  if (*got != n)
    return fail(ErrorCategory::corrupt, fmt::format("{} ends early: wanted {} bytes at offset {}, file has {}", what,
                                                    n, offset, offset + *got));
  return {};
}

Result<void> sync_data(int fd, const std::string& what) {
  if (do_fdatasync(fd) != 0) return std::unexpected(Error::from_errno(errno, "fdatasync " + what));
  return {};
}

Result<void> sync_all(int fd, const std::string& what) {
  if (do_fsync(fd) != 0) return std::unexpected(Error::from_errno(errno, "fsync " + what));
  return {};
}

Result<void> truncate_to(int fd, std::uint64_t length, const std::string& what) {
  if (do_ftruncate(fd, static_cast<off_t>(length)) != 0)
    return std::unexpected(Error::from_errno(errno, "truncate " + what));
  return {};
}

Result<std::uint64_t> file_size(int fd, const std::string& what) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, "stat " + what));
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace airssys::ledger::detail
