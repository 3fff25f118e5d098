#pragma once
// Background tasks: the monitor runs detached from the `start` (or
// `register`) caller, which waits only until the monitor says the task runs
// or why it could not start. Internal.
//
// The caller double-forks (setsid between the forks, so the monitor outlives
// the caller's session and is nobody's child); the monitor's stdin is
// /dev/null and its stdout/stderr go to logs/<id>.monitor.log, so a caller
// reading our stdout (e.g. $(task-watchdog start …)) sees EOF. They talk over
// a CLOEXEC pipe: "OK\n", or "ERR <category>\n<message>".

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <expected>
#include <functional>
#include <string>

namespace airssys::watchdog::detail {

// The monitor's end of the pipe. Default-constructed: a foreground monitor
// (--wait), which has nobody to tell and returns its error instead.
class Handshake {
 public:
  Handshake() = default;
  explicit Handshake(osl::UniqueFd fd) : fd_(std::move(fd)) {}
  [[nodiscard]] bool foreground() const noexcept { return !fd_; }
  // The task runs: the caller returns success. Closes the pipe.
  void ready();
  // The task could not start: the caller returns `e`. Closes the pipe.
  void failed(const Error& e);

 private:
  osl::UniqueFd fd_;
};

// Runs `monitor` in a double-forked process and returns once it called
// ready() (success) or failed() (its error), or ended without either (an
// error naming its log file).
[[nodiscard]] std::expected<void, Error> run_detached(const Registry& reg, const std::string& id,
                                                      const std::function<void(Handshake&)>& monitor);

}  // namespace airssys::watchdog::detail
