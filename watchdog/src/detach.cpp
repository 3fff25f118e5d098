#include "detach.hpp"

#include "event_fds.hpp"
#include "task_logs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace airssys::watchdog::detail {

using osl::UniqueFd;

void Handshake::ready() {
  if (!fd_) return;
  write_all_fd(fd_.get(), "OK\n");
  fd_.reset();
}

void Handshake::failed(const Error& e) {
  if (!fd_) return;
  write_all_fd(fd_.get(), fmt::format("ERR {}\n{}", to_string(e.code), e.message));
  fd_.reset();
}

namespace {

std::expected<void, Error> read_handshake(int fd, const Registry& reg, const std::string& id) {
  std::string msg;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<std::size_t>(n));
  }
  if (msg.starts_with("OK")) return {};
  if (msg.starts_with("ERR ")) {
    const auto nl = msg.find('\n');
    const auto category = error_category_from_string(std::string_view(msg).substr(4, nl == std::string::npos ? 0 : nl - 4));
    return std::unexpected(Error{category.value_or(ErrorCategory::failure), nl == std::string::npos ? msg : msg.substr(nl + 1)});
  }
  return std::unexpected(Error{ErrorCategory::failure, fmt::format("the monitor of task '{}' ended before it was ready; see {}", id,
                                                                   reg.log_path(id, "monitor").string())});
}

}  // namespace

std::expected<void, Error> run_detached(const Registry& reg, const std::string& id, const std::function<void(Handshake&)>& monitor) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::unexpected(Error{ErrorCategory::failure, fmt::format("pipe: {}", std::strerror(errno))});
  UniqueFd rd(p[0]);
  UniqueFd wr(p[1]);
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) return std::unexpected(Error{ErrorCategory::failure, fmt::format("fork: {}", std::strerror(errno))});
  if (child == 0) {
    rd.reset();
    ::setsid();
    const pid_t m = ::fork();
    if (m != 0) ::_exit(m < 0 ? 1 : 0);
    ::mkdir(reg.dir().c_str(), 0700);
    const int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    auto mlog = open_task_log(reg, id, "monitor", /*append=*/true);  // checked as the task's logs are
    const int log = mlog ? mlog->get() : null;
    if (null >= 0) ::dup2(null, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    Handshake hs{std::move(wr)};
    monitor(hs);
    std::fflush(nullptr);
    ::_exit(0);
  }
  wr.reset();
  int st = 0;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  return read_handshake(rd.get(), reg, id);
}

}  // namespace airssys::watchdog::detail
