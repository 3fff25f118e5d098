// The io:: calls: the system call, unless a FaultInjection is installed.

#include <airssys/osl/file_io.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <stdexcept>

namespace airssys::osl::io {

namespace {

std::atomic<FaultInjection*> g_injection{nullptr};

FaultInjection* injection() noexcept { return g_injection.load(std::memory_order_acquire); }

// The path /proc/self/fd shows for `fd`; empty if it cannot be read.
std::string fd_path(int fd) {
  char buf[4096];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

std::string at_path(int dir, const char* name) {
  if (name[0] == '/' || dir == AT_FDCWD) return name;
  return fd_path(dir) + "/" + name;
}

off_t size_of(int fd) {
  struct stat st {};
  return ::fstat(fd, &st) == 0 ? st.st_size : 0;
}

}  // namespace

ssize_t write(int fd, const void* data, std::size_t n) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_write(fd, data, n, std::nullopt);
  return ::write(fd, data, n);
}

ssize_t pwrite(int fd, const void* data, std::size_t n, off_t offset) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_write(fd, data, n, offset);
  return ::pwrite(fd, data, n, offset);
}

int fsync(int fd) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_sync(fd, false);
  return ::fsync(fd);
}

int fdatasync(int fd) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_sync(fd, true);
  return ::fdatasync(fd);
}

int renameat(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_rename(from_dir, from, to_dir, to, flags);
  return ::renameat2(from_dir, from, to_dir, to, flags);
}

int ftruncate(int fd, off_t length) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_truncate(fd, length);
  return ::ftruncate(fd, length);
}

int unlinkat(int dir, const char* name, int flags) noexcept {
  if (auto* f = injection(); f != nullptr) [[unlikely]] return f->on_unlink(dir, name, flags);
  return ::unlinkat(dir, name, flags);
}

FaultInjection::FaultInjection() {
  FaultInjection* expected = nullptr;
  if (!g_injection.compare_exchange_strong(expected, this)) {
    throw std::logic_error("osl::io::FaultInjection: another one is already installed");
  }
}

FaultInjection::~FaultInjection() { g_injection.store(nullptr, std::memory_order_release); }

void FaultInjection::add(Fault fault) {
  const std::lock_guard lock(mu_);
  faults_.push_back(Armed{std::move(fault)});
}

int FaultInjection::fired() const {
  const std::lock_guard lock(mu_);
  return fired_;
}

const Fault* FaultInjection::match(FileCall call, const std::string& path, const std::string& other_path) {
  for (auto& a : faults_) {
    if (a.fault.call != call) continue;
    const auto& want = a.fault.path_contains;
    if (!want.empty() && path.find(want) == std::string::npos && other_path.find(want) == std::string::npos) continue;
    if (a.seen++ < a.fault.after) continue;
    if (a.fault.times != 0 && a.hit >= a.fault.times) continue;
    ++a.hit;
    ++fired_;
    return &a.fault;
  }
  return nullptr;
}

ssize_t FaultInjection::on_write(int fd, const void* data, std::size_t n, std::optional<off_t> offset) noexcept {
  try {
    const std::lock_guard lock(mu_);
    const std::string path = fd_path(fd);
    // Remember what was durable before the first write we see: a crash goes
    // back to it unless an fsync comes first.
    if (!synced_.contains(path)) synced_.emplace(path, size_of(fd));
    std::size_t len = n;
    if (const Fault* f = match(FileCall::write, path, {})) {
      if (!f->short_write) {
        errno = f->error;
        return -1;
      }
      len = std::min(n, *f->short_write);
    }
    return offset ? ::pwrite(fd, data, len, *offset) : ::write(fd, data, len);
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

int FaultInjection::on_sync(int fd, bool data_only) noexcept {
  try {
    const std::lock_guard lock(mu_);
    const std::string path = fd_path(fd);
    if (const Fault* f = match(FileCall::sync, path, {})) {
      errno = f->error;
      return -1;
    }
    const int r = data_only ? ::fdatasync(fd) : ::fsync(fd);
    if (r == 0) synced_[path] = size_of(fd);
    return r;
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

int FaultInjection::on_rename(int from_dir, const char* from, int to_dir, const char* to, unsigned flags) noexcept {
  try {
    const std::lock_guard lock(mu_);
    const std::string from_path = at_path(from_dir, from);
    const std::string to_path = at_path(to_dir, to);
    if (const Fault* f = match(FileCall::rename, from_path, to_path)) {
      errno = f->error;
      return -1;
    }
    const int r = ::renameat2(from_dir, from, to_dir, to, flags);
    if (r == 0) {
      if (auto it = synced_.find(from_path); it != synced_.end()) {
        const off_t length = it->second;
        synced_.erase(it);
        synced_.insert_or_assign(to_path, length);
      } else {
        synced_.erase(to_path);  // the file now there was never written through us
      }
    }
    return r;
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

int FaultInjection::on_truncate(int fd, off_t length) noexcept {
  try {
    const std::lock_guard lock(mu_);
    const std::string path = fd_path(fd);
    if (const Fault* f = match(FileCall::truncate, path, {})) {
      errno = f->error;
      return -1;
    }
    // What was durable before: a crash cuts an extension back to it.
    if (!synced_.contains(path)) synced_.emplace(path, size_of(fd));
    const int r = ::ftruncate(fd, length);
    // A cut is taken as durable at once (see crash()).
    if (r == 0) {
      if (auto it = synced_.find(path); it != synced_.end() && it->second > length) it->second = length;
    }
    return r;
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

int FaultInjection::on_unlink(int dir, const char* name, int flags) noexcept {
  try {
    const std::lock_guard lock(mu_);
    const std::string path = at_path(dir, name);
    const int r = ::unlinkat(dir, name, flags);
    if (r == 0) synced_.erase(path);
    return r;
  } catch (...) {
    errno = ENOMEM;
    return -1;
  }
}

void FaultInjection::crash() {
  const std::lock_guard lock(mu_);
  for (const auto& [path, length] : synced_) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > length) {
      if (::truncate(path.c_str(), length) != 0) throw std::runtime_error("FaultInjection::crash: cannot truncate " + path);
    }
  }
  synced_.clear();
}

}  // namespace airssys::osl::io
