#pragma once
// The double fork behind process.fork (fork.hpp states the contract).

#include <airssys/osl/error.hpp>
#include <airssys/osl/fork.hpp>

#include <expected>

namespace airssys::osl::detail {

// Forks, setsid()s, forks the monitor and reaps the middle process. Returns
// once the monitor has sent its pid and start time (or failed before).
[[nodiscard]] std::expected<process::ForkedMonitor, Error> double_fork(const std::function<int(UniqueFd)>& body,
                                                                       int output_fd);

}  // namespace airssys::osl::detail
