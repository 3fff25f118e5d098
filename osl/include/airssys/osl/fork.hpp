#pragma once
// process.fork — a detached process that runs a function of the caller's
// (a supervisor, e.g. task-watchdog's task monitor), not a program.
//
// The monitor is double-forked: a first child calls setsid() and forks it,
// then exits at once. So the monitor has a session of its own (no terminal,
// no job-control signals from the caller's), outlives the caller, and is
// re-parented to init or the nearest subreaper: it never lingers as the
// caller's zombie. run() returns once the monitor's pid is known; it does
// not wait for the body.
//
// What the body must know — it runs in a fork of the calling process:
// - Only the calling thread exists there. Every other thread (the System's
//   audit writer among them) is gone, with whatever it held locked: the body
//   must not use the caller's System (or anything shared with other threads)
//   and makes its own System for its own operations. This System's audit
//   writer thread is stopped (between batches) for the fork and started
//   again, so the child inherits no lock from it. Other threads of the
//   caller's (another System's writer, a thread of its own) must not hold a
//   lock at that moment — under AddressSanitizer, even the allocator's —
//   or the monitor may wait for it forever: fork from a process whose only
//   other threads are this System's.
// - stdin is /dev/null; stdout and stderr are `output_fd` (or /dev/null).
//   Every other descriptor of the caller is still open, O_CLOEXEC or not
//   (there is no exec).
// - The body's return value is the monitor's exit status. stdio buffers are
//   flushed, then _exit: no atexit handlers, no static destructors run (they
//   belong to the caller's copy). An exception leaving the body is caught
//   and the monitor exits with 70 (EX_SOFTWARE).
// - `ready`: the write end of a pipe whose read end the caller gets as
//   ForkedMonitor::ready — for a handshake ("started", or why not). The
//   caller sees EOF once the monitor closes it or exits.
//
// Policy: process.fork, the resource being this program's executable
// (/proc/self/exe): "may this principal leave a copy of this program
// running?". Audited with a start and an end record like every operation.

#include <airssys/osl/unique_fd.hpp>

#include <sys/types.h>

#include <cstdint>
#include <functional>

namespace airssys::osl::process {

struct ForkedMonitor {
  pid_t pid = 0;                 // the monitor (not our child)
  std::uint64_t start_time = 0;  // its /proc start time, for Target::start_time
  UniqueFd ready;                // read end of the ready pipe (O_CLOEXEC)
};

struct ForkMonitor {
  std::function<int(UniqueFd ready)> body{};
  // Borrowed: duplicated onto the monitor's stdout and stderr; -1 = /dev/null.
  int output_fd = -1;
  using Result = ForkedMonitor;
};

}  // namespace airssys::osl::process
