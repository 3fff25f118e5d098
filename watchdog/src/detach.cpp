#include "detach.hpp"

#include "event_fds.hpp"
#include "task_logs.hpp"
#include "task_records.hpp"

#include <airssys/osl/system.hpp>
#include <airssys/watchdog/runner.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstdio>

namespace airssys::watchdog::detail {

using osl::UniqueFd;

void Handshake::ready() {
  if (!fd_) return;
  write_all_fd(fd_.get(), "OK\n");
  fd_.reset();
}

void Handshake::failed(const Error& e) {
  if (!fd_) return;
  write_all_fd(fd_.get(), fmt::format("ERR {} {}\n{}", to_string(e.category), e.errno_value, e.message));
  fd_.reset();
}

std::unexpected<Error> StartFailure::operator()(Error e) const {
  record_start_failure(reg_, id_, e);
  handshake_.failed(e);
  return std::unexpected(std::move(e));
}

std::unexpected<Error> StartFailure::cannot_start(const Error& why) const {
  return (*this)(Error{ErrorCategory::spawn_failed, fmt::format("cannot start task '{}': {}", id_, why.message), why.errno_value});
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
    // "<category> <errno>"; the errno part is 0 when no system call failed.
    const std::string_view head = std::string_view(msg).substr(4, nl == std::string::npos ? 0 : nl - 4);
    const auto space = head.find(' ');
    const auto category = error_category_from_string(head.substr(0, space));
    int err = 0;
    if (space != std::string_view::npos) std::from_chars(head.data() + space + 1, head.data() + head.size(), err);
    return std::unexpected(Error{category.value_or(ErrorCategory::failure), nl == std::string::npos ? msg : msg.substr(nl + 1), err});
  }
  return std::unexpected(Error{ErrorCategory::failure, fmt::format("the monitor of task '{}' ended before it was ready; see {}", id,
                                                                   reg.log_path(id, "monitor").string())});
}

}  // namespace

std::expected<void, Error> run_detached(const Registry& reg, const std::string& id, const std::filesystem::path& policy_file,
                                        const std::function<void(Handshake&)>& monitor) {
  auto failed = [&](Error e) -> std::expected<void, Error> {
    record_start_failure(reg, id, e);  // the id is free again
    return std::unexpected(std::move(e));
  };
  // The fork is an osl operation (process.fork): policy-checked and audited.
  // The monitor makes its own System: this one's threads do not exist there.
  auto system = make_system(policy_file, reg.dir());
  if (!system) return failed(system.error());
  auto mlog = open_task_log(reg, id, "monitor", /*append=*/true);  // checked as the task's logs are
  if (!mlog) return failed(Error{ErrorCategory::spawn_failed, fmt::format("cannot start task '{}': {}", id, mlog.error().message), mlog.error().errno_value});
  osl::process::ForkMonitor op;
  op.output_fd = mlog->get();
  op.body = [&](UniqueFd ready) {
    Handshake hs{std::move(ready)};
    monitor(hs);
    return 0;
  };
  std::fflush(nullptr);  // what our stdio holds must not be written again by the monitor
  auto forked = system->run(current_principal(), op);
  if (!forked) {
    return failed(Error{ErrorCategory::spawn_failed,
                        fmt::format("cannot start the monitor of task '{}': {}", id, forked.error().to_string()), forked.error().errno_value});
  }
  return read_handshake(forked->ready.get(), reg, id);
}

}  // namespace airssys::watchdog::detail
