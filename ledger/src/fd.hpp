#pragma once
// Private: RAII file descriptors and mappings, and the few system calls the
// ledger makes, each returning Result. Every descriptor is O_CLOEXEC; files
// inside a ledger directory are opened with openat(O_NOFOLLOW) so a symlink
// planted there is refused rather than followed.

#include <airssys/ledger/error.hpp>

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>

namespace airssys::ledger::detail {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  [[nodiscard]] int get() const noexcept { return fd_; }
  [[nodiscard]] explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// A read-only shared mapping of the first `length` bytes of a file.
class Mapping {
 public:
  Mapping() = default;
  ~Mapping();
  Mapping(Mapping&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), length_(std::exchange(o.length_, 0)) {}
  Mapping& operator=(Mapping&& o) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  [[nodiscard]] static Result<Mapping> map(int fd, std::size_t length, const std::string& what);
  [[nodiscard]] const std::uint8_t* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return length_; }

 private:
  const std::uint8_t* data_ = nullptr;
  std::size_t length_ = 0;
};

// Opens a directory without following a symlink at its last component.
[[nodiscard]] Result<UniqueFd> open_dir(const std::filesystem::path& dir);
// openat(dirfd, name) with O_CLOEXEC|O_NOFOLLOW|O_NONBLOCK added; refuses
// anything but a regular file. `mode` applies when O_CREAT is in flags.
[[nodiscard]] Result<UniqueFd> open_file_at(int dirfd, const char* name, int flags, const std::string& what,
                                            mode_t mode = 0600);

// The seam under the durability calls below (pwrite, fdatasync, fsync,
// ftruncate), so tests can make one fail or come back short and simulate a
// crash (issue 13; osl::io is the same seam in osl, which the ledger core must not
// depend on: a test plugs osl::io's FaultInjection in through these hooks,
// see faults_test.cpp). Unset (the default): the system calls, at the cost
// of one atomic load. A hook behaves as its system call (result, errno).
struct IoHooks {
  ssize_t (*pwrite)(int fd, const void* data, std::size_t n, off_t offset) noexcept = nullptr;
  int (*fdatasync)(int fd) noexcept = nullptr;
  int (*fsync)(int fd) noexcept = nullptr;
  int (*ftruncate)(int fd, off_t length) noexcept = nullptr;
};
// Installs `hooks` (which must outlive its use) for the whole process;
// nullptr restores the system calls. Not for production code.
void set_io_hooks(const IoHooks* hooks) noexcept;

[[nodiscard]] Result<void> pwrite_all(int fd, const void* data, std::size_t n, std::uint64_t offset,
                                      const std::string& what);
// Short reads are `corrupt` ("ends early"): the callers know how long the file must be.
[[nodiscard]] Result<void> pread_exact(int fd, void* data, std::size_t n, std::uint64_t offset,
                                       const std::string& what);
// Reads up to n bytes (stops at end of file); returns the count.
[[nodiscard]] Result<std::size_t> pread_some(int fd, void* data, std::size_t n, std::uint64_t offset,
                                             const std::string& what);
[[nodiscard]] Result<void> sync_data(int fd, const std::string& what);
[[nodiscard]] Result<void> sync_all(int fd, const std::string& what);
[[nodiscard]] Result<void> truncate_to(int fd, std::uint64_t length, const std::string& what);
[[nodiscard]] Result<std::uint64_t> file_size(int fd, const std::string& what);

// Little-endian fixed-width integers, the byte order of every ledger file.
inline void put_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (8 * i));
}
inline std::uint32_t get_u32(const std::uint8_t* p) {
  std::uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | p[i];
  return v;
}
inline std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

}  // namespace airssys::ledger::detail
