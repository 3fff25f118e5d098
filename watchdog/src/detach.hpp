#pragma once
// Background tasks: the monitor runs detached from the `start` (or
// `register`) caller, which waits only until the monitor says the task runs
// or why it could not start. Internal.
//
// The monitor is forked through airssys-osl (process.fork, osl/fork.hpp:
// policy-checked on this program's executable and audited): double-forked
// with setsid between the forks, so it outlives the caller's session and is
// nobody's child. Its stdin is /dev/null and its stdout/stderr go to
// logs/<id>.monitor.log, so a caller reading our stdout (e.g.
// $(task-watchdog start …)) sees EOF. They talk over osl's CLOEXEC ready
// pipe: "OK\n", or "ERR <category> <errno>\n<message>" (errno 0: no system
// call failed).

#include <airssys/osl/unique_fd.hpp>
#include <airssys/watchdog/error.hpp>
#include <airssys/watchdog/registry.hpp>

#include <expected>
#include <filesystem>
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

// How a monitor gives up on starting its task, the same for every kind:
// the record becomes `failed` with the error's message, then the caller
// waiting on the handshake gets the error (a foreground caller gets it
// returned), so a `start` that returns finds the registry already saying
// why.
class StartFailure {
 public:
  StartFailure(const Registry& reg, std::string id, Handshake& handshake) : reg_(reg), id_(std::move(id)), handshake_(handshake) {}
  std::unexpected<Error> operator()(Error e) const;
  // The same as spawn_failed "cannot start task '<id>': <why's message>" (errno kept).
  std::unexpected<Error> cannot_start(const Error& why) const;

 private:
  const Registry& reg_;
  std::string id_;
  Handshake& handshake_;
};

// Runs `monitor` in a detached process and returns once it called ready()
// (success) or failed() (its error), or ended without either (an error
// naming its log file). `policy_file` (empty: the built-in policy) decides
// process.fork; when the fork is refused or fails, the task is recorded
// failed and the error is spawn_failed.
[[nodiscard]] std::expected<void, Error> run_detached(const Registry& reg, const std::string& id,
                                                      const std::filesystem::path& policy_file,
                                                      const std::function<void(Handshake&)>& monitor);

}  // namespace airssys::watchdog::detail
