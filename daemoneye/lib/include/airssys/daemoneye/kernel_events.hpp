#pragma once
// Real-time process events from the kernel: the sources procmond tries, best
// first (docs/daemoneye.md "Event sources"):
//
//   ebpf            programs on the sched_process_exec/fork/exit BTF
//                   tracepoints; identity, path and argv captured in the
//                   kernel at exec time, so a 1 ms process is still seen
//                   whole, with the kernel's path of the new image's file
//                   and whether its root is procmond's, read at the exec.
//                   Needs root (CAP_BPF + CAP_PERFMON), kernel BTF.
//   proc_connector  the netlink process connector: fork/exec/exit
//                   notifications with pids and exit codes only; the rest is
//                   read from /proc at once (a process gone by then keeps
//                   what the kernel gave). Needs CAP_NET_ADMIN.
//   poll            no real-time source: only the diff of two collections.
//
// Thread safety: a KernelEventSource is used by one thread at a time.

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/events.hpp>

#include <cstddef>
#include <ctime>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace airssys::daemoneye {

struct KernelEvent {
  enum class Kind : std::uint8_t { fork, exec, exit };
  Kind kind = Kind::exec;
  std::int64_t pid = -1;   // the process (tgid)
  std::int64_t ppid = -1;  // its parent's pid; -1 unknown
  std::int64_t uid = -1, gid = -1, euid = -1, egid = -1;
  std::int64_t auid = -1;  // loginuid; 4294967295 never set
  std::uint64_t cgroup_id = 0;
  std::int64_t time_ns = 0;       // Unix nanoseconds when it happened
  std::uint64_t start_ticks = 0;  // /proc stat field 22 of the process; 0 unknown
  std::string comm;               // "" unknown
  std::string path;               // exec: the path given to execve (may be relative); "" unknown
  // exec, eBPF only: the kernel's path of the new image's file, read at the
  // exec (what /proc/PID/exe showed procmond at that instant, without the
  // " (deleted)" suffix); "" unknown (other sources, a path too deep or long)
  std::string exe_path;
  bool exe_deleted = false;       // the image's file was unlinked (a memfd's always is)
  bool exe_interpreted = false;   // a binfmt handler ran an interpreter: exe_path is its, not the file given
  bool exe_detached = false;      // on a mount attached nowhere: exe_path is relative to it, names no place
  int root_is_host = -1;          // exec, eBPF only: 1 the task's root directory is procmond's, 0 another, -1 unknown
  // exec, eBPF only: the kernel's path of the task's working directory at
  // the exec, walked as exe_path is (what /proc/PID/cwd showed procmond);
  // "" unknown (other sources, too deep, or on a mount attached nowhere:
  // then it names no place)
  std::string cwd;
  // exec, eBPF only: the identity of the image that runs (bprm->file: a
  // script's interpreter), read at the exec: its filesystem's device as
  // stat() and /proc/PID/mountinfo give it (userspace dev_t) and its inode
  // number; image_known false: unknown (other sources). An inode number
  // can be 0 (FUSE), so image_ino says nothing of it.
  bool image_known = false;
  std::uint64_t image_dev = 0;
  std::uint64_t image_ino = 0;
  // exec, eBPF only: that file's path within its own filesystem (from the
  // superblock's root, mounts ignored, as mountinfo's field 4 is); "" unknown
  // (a pseudo file such as a memfd, the walk refused, deeper than the walk
  // goes)
  std::string image_fs_path;
  // exec, eBPF only: the path was deeper than the walk stores (4 KiB):
  // image_fs_path is only its top directory ("/NAME"), or "" (deeper than
  // the walk goes at all)
  bool image_fs_path_cut = false;
  // exec, eBPF only: the exec'ing task's mount namespace, the inode number
  // of /proc/PID/ns/mnt; 0 unknown
  std::uint64_t mnt_ns = 0;
  std::string args;               // argv, NUL-separated, as captured; "" unknown
  std::int64_t args_total = -1;   // bytes of the whole argv; -1 unknown
  bool args_truncated = false;    // `args` holds only the first part of argv
  std::string args_tail;          // when truncated, argv's last bytes if the source gave them (may begin inside an argument)
  std::int64_t exit_code = -1;    // exit: the status when it exited normally
  std::int64_t exit_signal = -1;  // exit: the signal that ended it
};

class KernelEventSource {
 public:
  virtual ~KernelEventSource() = default;
  [[nodiscard]] virtual EventSource kind() const noexcept = 0;
  // Readable (poll/epoll) when events wait.
  [[nodiscard]] virtual int fd() const noexcept = 0;
  // Hands every event ready now to `sink` without blocking; the count, or
  // an error that ends the source.
  [[nodiscard]] virtual Result<std::size_t> drain(const std::function<void(KernelEvent&&)>& sink) = 0;
  // Events the kernel could not deliver so far (ring buffer full, netlink
  // receive queue overrun).
  [[nodiscard]] virtual std::uint64_t lost() const noexcept = 0;
  // What this source gives less of than its tier can, and why, for a person
  // ("" when nothing): eBPF without the image's path read at the exec.
  [[nodiscard]] virtual std::string limits() const { return {}; }
};

// The best tier to try; lower ones are the fallbacks (poll = polling only).
enum class TierRequest : std::uint8_t { automatic, ebpf, proc_connector, poll };
[[nodiscard]] Result<TierRequest> tier_request_from(std::string_view s);

struct KernelSourceOptions {
  std::uint32_t ring_buffer_bytes = 8u << 20;  // eBPF ring buffer (a power of two, ≥ 4096)
  // eBPF: load kernel BTF from here instead of /sys/kernel/btf/vmlinux
  // (an empty file simulates a kernel without BTF).
  std::filesystem::path btf_path;
  // eBPF: also load a program the verifier must reject (tests the
  // rejection path; nothing is attached).
  bool test_verifier_reject = false;
  // eBPF: make the verifier reject the exec program that reads the image's
  // path (tests the load without it).
  bool test_reject_exe_walk = false;
  // eBPF: make the load without that program fail too, for a reason other
  // than the verifier (the kernel refuses a map): tests that the
  // error names its own cause.
  bool test_fail_given_load = false;
};

struct SourceChoice {
  std::unique_ptr<KernelEventSource> source;  // null: polling only
  EventSource tier = EventSource::poll;
  // Why each better tier did not run, "tier: reason; …" ("" when the
  // requested tier runs).
  std::string reason;
};

// Tries the requested tier, then the ones below it, and returns the first
// that starts.
[[nodiscard]] SourceChoice open_event_source(TierRequest request, const KernelSourceOptions& options);

// Each tier alone (open_event_source uses these).
[[nodiscard]] Result<std::unique_ptr<KernelEventSource>> open_ebpf_source(
    const KernelSourceOptions& options);
[[nodiscard]] Result<std::unique_ptr<KernelEventSource>> open_proc_connector_source(
    const KernelSourceOptions& options);

// Offset from `clock` (CLOCK_BOOTTIME for eBPF, CLOCK_MONOTONIC for the proc
// connector) to CLOCK_REALTIME now, in nanoseconds: kernel timestamps are
// on those clocks; events carry Unix time.
[[nodiscard]] std::int64_t unix_offset_ns(clockid_t clock) noexcept;
[[nodiscard]] inline std::int64_t boot_to_unix_offset_ns() noexcept { return unix_offset_ns(CLOCK_BOOTTIME); }
// Splits the kernel's wait status (exit_code of a task) into the exit code
// (normal exit) or the signal (killed).
void split_wait_status(std::uint32_t status, std::int64_t& exit_code, std::int64_t& exit_signal) noexcept;

}  // namespace airssys::daemoneye
