#include "task_logs.hpp"

#include "event_fds.hpp"

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace airssys::watchdog::detail {

using osl::UniqueFd;

namespace {

Error log_error(const std::string& path, const std::string& why, int err = 0) {
  return Error{ErrorCategory::failure, fmt::format("log file {}: {}", path, why), err};
}

// For a system call that just failed: its errno, read before anything else runs.
Error log_errno(const std::string& path, std::string_view what = {}) {
  const int err = errno;
  return log_error(path, what.empty() ? std::string(std::strerror(err)) : fmt::format("{}: {}", what, std::strerror(err)), err);
}

}  // namespace

std::expected<UniqueFd, Error> open_logs_dir(const Registry& reg) {
  const auto dir = reg.dir() / "logs";
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return std::unexpected(Error::from_errno(errno, fmt::format("cannot create the logs directory {}", dir.string())));
  }
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    const std::string why = err == ELOOP || err == ENOTDIR ? "it is a symbolic link or not a directory; refused" : std::strerror(err);
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("logs directory {}: {}", dir.string(), why), err});
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return std::unexpected(Error::from_errno(errno, fmt::format("logs directory {}", dir.string())));
  }
  if (st.st_uid != ::geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return std::unexpected(Error{ErrorCategory::failure,
                                 fmt::format("logs directory {}: owned by uid {} with mode {:o}; it must be ours (uid {}) and "
                                             "not writable by group or others; refused",
                                             dir.string(), st.st_uid, st.st_mode & 07777, ::geteuid())});
  }
  return fd;
}

std::expected<UniqueFd, Error> open_task_log(const Registry& reg, const std::string& id, const char* stream, bool append) {
  auto dir = open_logs_dir(reg);
  if (!dir) return std::unexpected(dir.error());
  const auto path = reg.log_path(id, stream);
  const std::string name = path.filename().string();
  // O_NONBLOCK: a FIFO in its place must not block the open; cleared below.
  UniqueFd fd(::openat(dir->get(), name.c_str(),
                       O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (append ? O_APPEND : 0), 0600));
  if (!fd) {
    const int err = errno;
    return std::unexpected(log_error(path.string(), err == ELOOP ? "it is a symbolic link; refused" : std::strerror(err), err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(log_errno(path.string()));
  if (!S_ISREG(st.st_mode)) return std::unexpected(log_error(path.string(), "not a regular file; refused"));
  if (st.st_nlink > 1) return std::unexpected(log_error(path.string(), "it has other hard links; refused"));
  if ((st.st_mode & 07777) != 0600 && ::fchmod(fd.get(), 0600) != 0) {
    return std::unexpected(log_errno(path.string(), "chmod 0600"));
  }
  if (!append && ::ftruncate(fd.get(), 0) != 0) return std::unexpected(log_errno(path.string()));
  ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  return fd;
}

std::expected<TaskLogs, Error> open_task_logs(const Registry& reg, const std::string& id) {
  auto out = open_task_log(reg, id, "stdout", false);
  if (!out) return std::unexpected(out.error());
  auto err = open_task_log(reg, id, "stderr", false);
  if (!err) return std::unexpected(err.error());
  return TaskLogs{std::move(*out), std::move(*err)};
}

std::expected<IdleWatch, Error> IdleWatch::create(const Registry& reg, const std::string& id,
                                                  std::optional<std::chrono::milliseconds> idle) {
  const auto failed = [&](const std::string& what) {
    return std::unexpected(Error::from_errno(errno, fmt::format("--idle-timeout: {}", what)));
  };
  IdleWatch w;
  if (!idle) return w;
  w.idle_ = *idle;
  w.inotify_ = UniqueFd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!w.inotify_) return failed("inotify_init1");
  for (const char* stream : {"stdout", "stderr"}) {
    const auto path = reg.log_path(id, stream);
    if (::inotify_add_watch(w.inotify_.get(), path.c_str(), IN_MODIFY | IN_DONT_FOLLOW) < 0) {
      return failed("cannot watch " + path.string());
    }
  }
  w.timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  if (!w.timer_) return failed("timerfd_create");
  return w;
}

void IdleWatch::arm() {
  if (timer_) arm_timer(timer_.get(), idle_);
}

void IdleWatch::on_output() {
  char buf[4096];
  while (::read(inotify_.get(), buf, sizeof buf) > 0) {
  }
  arm();
}

}  // namespace airssys::watchdog::detail
