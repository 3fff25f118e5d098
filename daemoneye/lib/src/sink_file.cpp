// The file sink: JSON lines (or human lines) appended to one file.
//
// The file is opened O_APPEND|O_CLOEXEC|O_NOFOLLOW and created 0600 (alerts
// carry command lines); a symlink, a non-regular file (a FIFO would block
// the scan) or a file with other hard links (one planted to point at a file
// the agent may write) is refused, and so is a file or a directory above it
// that another user owns or others may write (path_trust.hpp: they could
// read, edit or replace the alerts). Missing parent directories are created
// 0700. Each line is one write(2); each batch ends with fdatasync, so an
// alert the pipeline returned is on disk.
//
// Rotation: before each batch the path is compared (lstat) with the open
// file; when it was renamed or removed (logrotate), a new file is opened at
// the path. If that fails, the sink keeps appending to the file it has and
// logs why.
//
// A write cut short (disk full) leaves a partial line; the next batch starts
// with a newline so that the lines after it are whole again.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <cerrno>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "alert_sink.hpp"

namespace airssys::daemoneye::detail {

namespace {

using osl::UniqueFd;

std::string errno_text(int err) { return std::strerror(err); }

Result<UniqueFd> open_append(const std::filesystem::path& path) {
  if (auto trusted = check_trusted_path(path, "path"); !trusted) return std::unexpected(trusted.error());
  // Checked again once made: see make_trusted_dir.
  if (auto made = make_trusted_dir(path.parent_path(), "path"); !made) return std::unexpected(made.error());
  // O_NONBLOCK only so that opening a FIFO cannot hang; it is refused below.
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600));
  if (!fd) {
    const int err = errno;
    if (err == ELOOP) {
      return std::unexpected(
          Error{ErrorCategory::denied, err, fmt::format("{} is a symbolic link; refusing to follow it", path.string())});
    }
    return fail_errno(err, "cannot open " + path.string());
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(errno, "cannot stat " + path.string());
  if (!S_ISREG(st.st_mode)) return fail(ErrorCategory::invalid_input, fmt::format("{} is not a regular file", path.string()));
  // Again on what was opened: the file may have been put there since.
  if (auto trusted = check_owner_and_mode(st, path.string()); !trusted) return std::unexpected(trusted.error());
  if (st.st_nlink > 1) {
    return fail(ErrorCategory::denied,
                fmt::format("{} has {} hard links; refusing a file that is also elsewhere", path.string(), st.st_nlink));
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return fail_errno(errno, "cannot set flags on " + path.string());
  }
  return fd;
}

class FileSink final : public Sink {
 public:
  FileSink(const SinkConfig& config, UniqueFd fd, std::shared_ptr<SinkCounters> counters, SinkLog log)
      : path_(config.path),
        format_(config.format),
        fd_(std::move(fd)),
        report_(fmt::format("file sink {}", config.path.string()), std::move(counters), std::move(log)) {}

  void deliver(std::span<const Delivery> batch) override {
    reopen_if_rotated();
    std::uint64_t failed = 0;
    int first_error = 0;
    for (const Delivery& d : batch) {
      std::string line = torn_ ? "\n" : "";
      line += render(d, format_);
      line += '\n';
      std::size_t written = 0;
      const int err = write_fully(fd_.get(), line, written);
      if (err == 0) {
        torn_ = false;
        continue;
      }
      torn_ = torn_ || written > 0;
      ++failed;
      if (first_error == 0) first_error = err;
    }
    if (failed > 0) {
      report_.failed(fmt::format("write failed: {}", errno_text(first_error)), failed);
      return;
    }
    if (::fdatasync(fd_.get()) != 0) {
      report_.failed(fmt::format("fdatasync failed: {}", errno_text(errno)), batch.size());
      return;
    }
    report_.succeeded();
  }

 private:
  void reopen_if_rotated() {
    struct stat now {};
    struct stat open_file {};
    const bool same = ::fstatat(AT_FDCWD, path_.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                      ::fstat(fd_.get(), &open_file) == 0 && now.st_dev == open_file.st_dev &&
                      now.st_ino == open_file.st_ino;
    if (same) return;
    auto fresh = open_append(path_);
    if (!fresh) {
      if (std::exchange(reopen_failed_, true)) return;  // said so already
      report_.log(fmt::format("{}: the file was moved or replaced and cannot be reopened ({}); still appending to the "
                              "file already open",
                              report_.name(), fresh.error().message));
      return;
    }
    fd_ = std::move(*fresh);
    torn_ = false;
    reopen_failed_ = false;
  }

  std::filesystem::path path_;
  SinkFormat format_;
  UniqueFd fd_;
  FailureReporter report_;
  bool torn_ = false;
  bool reopen_failed_ = false;
};

}  // namespace

Result<std::unique_ptr<Sink>> make_file_sink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters,
                                             SinkLog log) {
  auto fd = open_append(config.path);
  if (!fd) return std::unexpected(fd.error().prefixed("file sink"));
  return std::make_unique<FileSink>(config, std::move(*fd), std::move(counters), std::move(log));
}

}  // namespace airssys::daemoneye::detail
