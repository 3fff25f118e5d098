#pragma once
// process::Options::keep_fds: the fds above 2 a child keeps. Checked in the
// parent before the policy is asked (a bad list is a malformed request) and
// described for the start record: the audit says which open file, socket or
// pipe a program was handed, not only its number.
//
// What is checked is what the child gets. Each kept fd is duplicated at plan
// time into a private close-on-exec copy numbered above every kept fd, the
// audit describes the copy, and the child dup2()s the copy onto the number.
// The number itself is never trusted again after planning: between the plan
// and the clone another thread may close fd N, and spawn's own opens (the
// program's O_PATH fd, a stdin pipe's write end, a cgroup.procs fd) may then
// land on N; the child still gets the file that was checked and recorded.

#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct KeptFd {
  int fd = -1;         // the number the child gets
  UniqueFd copy;       // our private reference to the open file description checked; above every kept fd
  std::string target;  // what /proc/self/fd/<copy> links to ("/tmp/lock", "pipe:[123]"); "" if unreadable
};

// Each fd must be above 2 (0-2 have stdin_/stdout_/stderr_), listed once and
// open here (EBADF otherwise). Refused with a Landlock sandbox: an open fd
// carries access past the ruleset. Fills `kept` in the given order (each with
// its private copy); returns the first problem as an invalid_argument error.
[[nodiscard]] std::optional<Error> plan_kept_fds(std::span<const int> fds, bool landlock, std::vector<KeptFd>& kept);

// The lowest number above every kept fd (3 when there are none): an fd the
// spawn machinery moves to or above it cannot be overwritten by a kept fd.
[[nodiscard]] int above_kept_fds(const std::vector<KeptFd>& kept);

// Appends `,"keep_fds":[{"fd":9,"target":"/tmp/lock"},…]` (nothing when empty).
void append_kept_fds_json(std::string& detail, const std::vector<KeptFd>& kept);

}  // namespace airssys::osl::detail
