// File sink: JSON lines appended to a 0600 file, rotated by size.

#include <airssys/osl/activity.hpp>
#include <airssys/osl/file_io.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "activity/record_json.hpp"

namespace airssys::osl {

namespace {

class FileSink final : public ActivitySink {
 public:
  explicit FileSink(FileSinkOptions o) : options_(std::move(o)) {}

  std::expected<void, Error> open() {
    const int fd = ::open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return std::unexpected(Error::from_errno(errno, fmt::format("audit log {}", options_.path.string())));
    fd_.reset(fd);
    struct stat st {};
    if (::fstat(fd, &st) != 0) return std::unexpected(Error::from_errno(errno, "audit log fstat"));
    size_ = static_cast<std::uint64_t>(st.st_size);
    return {};
  }

  std::expected<void, Error> write(std::span<const ActivityRecord> batch) override {
    // Formatted into one buffer kept from batch to batch (cut back when a
    // batch made it large): no allocation per record or per batch.
    std::string& buf = buf_;
    buf.clear();
    if (buf.capacity() > kKeptBuffer) std::string().swap(buf);
    // A previous attempt may have left half a line: start a fresh one so the
    // retried records stay parseable (the fragment is skipped by readers).
    if (torn_) buf += '\n';
    for (const auto& r : batch) {
      append_json_line(buf, r);
      buf += '\n';
    }
    if (rotated_not_reopened_ || (options_.max_bytes != 0 && size_ > 0 && size_ + buf.size() > options_.max_bytes)) {
      if (auto r = rotate(); !r) return r;
      if (torn_) buf.erase(0, 1);
      torn_ = false;
    }
    std::size_t off = 0;
    while (off < buf.size()) {
      const ssize_t n = io::write(fd_.get(), buf.data() + off, buf.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        const int err = errno;
        torn_ = torn_ || off > 0;
        return std::unexpected(Error::from_errno(err, fmt::format("audit log {}", options_.path.string())));
      }
      off += static_cast<std::size_t>(n);
      size_ += static_cast<std::uint64_t>(n);
    }
    torn_ = false;
    if (options_.fsync_each_batch && io::fdatasync(fd_.get()) != 0) {
      return std::unexpected(Error::from_errno(errno, "audit log fdatasync"));
    }
    return {};
  }

  std::string name() const override { return "file:" + options_.path.string(); }

 private:
  std::expected<void, Error> rotate() {
    // A rotation whose reopen failed is retried by reopening only: shifting
    // the archives again would push the oldest ones out on every retry.
    if (rotated_not_reopened_) {
      if (auto r = open(); !r) return r;
      rotated_not_reopened_ = false;
      return {};
    }
    const std::string base = options_.path.string();
    if (options_.keep == 0) {
      if (::unlink(base.c_str()) != 0 && errno != ENOENT) {
        return std::unexpected(Error::from_errno(errno, "audit log rotation"));
      }
    } else {
      for (unsigned i = options_.keep; i > 1; --i) {
        const auto from = fmt::format("{}.{}", base, i - 1);
        const auto to = fmt::format("{}.{}", base, i);
        if (io::renameat(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str()) != 0 && errno != ENOENT) {
          return std::unexpected(Error::from_errno(errno, "audit log rotation"));
        }
      }
      if (io::renameat(AT_FDCWD, base.c_str(), AT_FDCWD, fmt::format("{}.1", base).c_str()) != 0 && errno != ENOENT) {
        return std::unexpected(Error::from_errno(errno, "audit log rotation"));
      }
    }
    fd_.reset();
    rotated_not_reopened_ = true;
    if (auto r = open(); !r) return r;
    rotated_not_reopened_ = false;
    return {};
  }

  static constexpr std::size_t kKeptBuffer = 1 << 20;
  FileSinkOptions options_;
  std::string buf_;
  UniqueFd fd_;
  std::uint64_t size_ = 0;
  bool torn_ = false;
  bool rotated_not_reopened_ = false;
};

}  // namespace

std::expected<std::unique_ptr<ActivitySink>, Error> make_file_sink(FileSinkOptions options) {
  if (options.path.empty()) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "audit log path is empty"));
  auto sink = std::make_unique<FileSink>(std::move(options));
  if (auto r = sink->open(); !r) return std::unexpected(r.error());
  return sink;
}

}  // namespace airssys::osl
