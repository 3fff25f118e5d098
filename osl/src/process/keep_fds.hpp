#pragma once
// process::Options::keep_fds: the fds above 2 a child keeps. Checked in the
// parent before the policy is asked (a bad list is a malformed request) and
// described for the start record: the audit says which open file, socket or
// pipe a program was handed, not only its number.
//
// What is checked is what the child gets, or the child does not start. The
// plan records the identity (st_dev, st_ino) of each kept fd; the child,
// after its stdio is set up and before it clears close-on-exec on N, fstat()s
// N and refuses (Stage::keep_fd) if N is closed or another file: between the
// plan and the clone another thread may close N, and spawn's own opens (the
// program's O_PATH fd, a stdin pipe's write end, a cgroup.procs fd) may then
// land on N. No copy of the fd is held here: closing one would release every
// POSIX (fcntl/lockf) record lock this process holds on the file.

#include <airssys/osl/error.hpp>

#include <sys/types.h>

#include <optional>
#include <span>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct KeptFd {
  int fd = -1;         // the number the child gets
  dev_t dev = 0;       // the identity of the file checked at plan time,
  ino_t ino = 0;       // compared again in the child
  std::string target;  // what /proc/self/fd/<fd> links to ("/tmp/lock", "pipe:[123]"); "" if unreadable
};

// Each fd must be above 2 (0-2 have stdin_/stdout_/stderr_), listed once and
// open here (EBADF otherwise). Refused with a Landlock sandbox: an open fd
// carries access past the ruleset. Fills `kept` in the given order; returns
// the first problem as an invalid_argument error. Opens, duplicates and
// closes nothing.
[[nodiscard]] std::optional<Error> plan_kept_fds(std::span<const int> fds, bool landlock, std::vector<KeptFd>& kept);

// The error for a child that refused kept fd `fd` (Stage::keep_fd): `err` is
// the errno of its fstat, or 0 when N was open on another file.
[[nodiscard]] Error kept_fd_changed(int fd, int err);

// Appends `,"keep_fds":[{"fd":9,"target":"/tmp/lock"},…]` (nothing when empty).
void append_kept_fds_json(std::string& detail, const std::vector<KeptFd>& kept);

}  // namespace airssys::osl::detail
