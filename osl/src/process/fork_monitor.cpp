// process.fork through the pipeline (fork.hpp).

#include <filesystem>

#include <airssys/osl/system.hpp>

#include "core/core.hpp"
#include "platform/linux_fork.hpp"

namespace airssys::osl {

std::expected<process::ForkedMonitor, Error> System::run(std::string_view principal, const process::ForkMonitor& op) {
  std::error_code ec;
  std::string exe = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  std::optional<Error> invalid;
  if (!op.body) {
    invalid = Error::make(ErrorCategory::invalid_argument, "process.fork needs a body to run");
  } else if (ec || exe.empty()) {
    // Without our own program there is nothing a deny rule could match.
    invalid = Error{ErrorCategory::permission, ec.value(), 0,
                    "cannot read /proc/self/exe, so the policy cannot be applied to process.fork"};
    exe = "/proc/self/exe";
  }
  detail::Request req{.kind = OpKind::process_fork,
                      .checks = {detail::Check{OpKind::process_fork, {exe}, {}}},
                      .invalid = invalid};
  return core_->pipeline<process::ForkedMonitor>(principal, std::move(req), [&](std::uint64_t) {
    // The forking thread must be the only one (fork.hpp): our audit writer
    // stops between batches and restarts after the fork.
    const auto paused = core_->log().pause_writer();
    return detail::double_fork(op.body, op.output_fd);
  });
}

}  // namespace airssys::osl
