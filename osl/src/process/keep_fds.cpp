#include "process/keep_fds.hpp"

#include "activity/json_escape.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

#include <fmt/format.h>

namespace airssys::osl::detail {

namespace {

std::string fd_target(int fd) {
  char buf[PATH_MAX];
  const std::string link = fmt::format("/proc/self/fd/{}", fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::optional<Error> plan_kept_fds(std::span<const int> fds, bool landlock, std::vector<KeptFd>& kept) {
  kept.clear();
  if (fds.empty()) return std::nullopt;
  if (landlock) {
    return Error::make(ErrorCategory::invalid_argument,
                       "keep_fds cannot be combined with the Landlock sandbox: an open fd would carry access past its ruleset");
  }
  for (std::size_t i = 0; i < fds.size(); ++i) {
    const int fd = fds[i];
    if (fd <= 2) {
      return Error::make(ErrorCategory::invalid_argument,
                         fmt::format("keep_fds: fd {} is stdin, stdout or stderr (or negative); those are set with "
                                     "stdin_/stdout_/stderr_",
                                     fd));
    }
    if (std::find(fds.begin(), fds.begin() + static_cast<std::ptrdiff_t>(i), fd) != fds.begin() + static_cast<std::ptrdiff_t>(i)) {
      return Error::make(ErrorCategory::invalid_argument, fmt::format("keep_fds: fd {} is listed twice", fd));
    }
  }
  for (const int fd : fds) {
    // F_GETFD first: it answers EBADF for any number that is not open
    // (INT_MAX included) without allocating or overflowing anything.
    struct stat st{};
    if (::fcntl(fd, F_GETFD) < 0 || ::fstat(fd, &st) != 0) {
      const int err = errno;
      kept.clear();
      if (err == EBADF) {
        return Error{ErrorCategory::invalid_argument, err, 0,
                     fmt::format("keep_fds: fd {} is not open in this process, so there is nothing to hand on", fd)};
      }
      return Error{ErrorCategory::invalid_argument, err, 0,
                   fmt::format("keep_fds: cannot inspect fd {}: {}", fd, std::strerror(err))};
    }
    kept.push_back(KeptFd{fd, st.st_dev, st.st_ino, fd_target(fd)});
  }
  return std::nullopt;
}

Error kept_fd_changed(int fd, int err) {
  if (err != 0) {
    return Error{ErrorCategory::invalid_argument, err, 0,
                 fmt::format("keep_fds: fd {} was closed after it was checked ({}); the child was not started", fd,
                             std::strerror(err))};
  }
  return Error{ErrorCategory::invalid_argument, EBADF, 0,
               fmt::format("keep_fds: fd {} refers to another file than the one checked (it was closed or replaced "
                           "meanwhile); the child was not started",
                           fd)};
}

void append_kept_fds_json(std::string& detail, const std::vector<KeptFd>& kept) {
  if (kept.empty()) return;
  detail += R"(,"keep_fds":[)";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i) detail += ',';
    detail += fmt::format(R"({{"fd":{},"target":)", kept[i].fd);
    append_json_string(detail, kept[i].target);
    detail += '}';
  }
  detail += ']';
}

}  // namespace airssys::osl::detail
