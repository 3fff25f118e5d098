#pragma once
// process::Options::keep_fds: the fds above 2 a child keeps. Checked in the
// parent before the policy is asked (a bad list is a malformed request) and
// described for the start record: the audit says which open file, socket or
// pipe a program was handed, not only its number.

#include <airssys/osl/error.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct KeptFd {
  int fd = -1;
  std::string target;  // what /proc/self/fd/N links to ("/tmp/lock", "pipe:[123]"); "" if unreadable
};

// Each fd must be above 2 (0-2 have stdin_/stdout_/stderr_), listed once and
// open here (EBADF otherwise). Refused with a Landlock sandbox: an open fd
// carries access past the ruleset. Fills `kept` in the given order; returns
// the first problem as an invalid_argument error.
[[nodiscard]] std::optional<Error> plan_kept_fds(std::span<const int> fds, bool landlock, std::vector<KeptFd>& kept);

// Appends `,"keep_fds":[{"fd":9,"target":"/tmp/lock"},…]` (nothing when empty).
void append_kept_fds_json(std::string& detail, const std::vector<KeptFd>& kept);

}  // namespace airssys::osl::detail
