#pragma once
// osl::proc — the project's one reader of /proc, built for monitoring many
// processes quickly (DaemonEye's collector, task-watchdog's process trees).
//
// Reading is not an operation of the policy pipeline (it changes nothing and
// names no resource a policy would guard), so it does not go through
// System::run; it is a plain, fast library.
//
// How it reads:
//  - list_pids() enumerates /proc with getdents64 on one O_DIRECTORY fd that
//    the Reader keeps and rewinds (numeric names only: thread-group leaders).
//  - open_process(pid) opens /proc/PID once as a directory fd; every file is
//    then opened relative to it (openat/readlinkat/fstatat). If the pid is
//    recycled, lookups under the old fd fail (the directory belongs to the
//    old struct pid), so one Process never mixes two processes' files.
//  - files are read into one buffer owned by the Reader (grown, never shrunk)
//    and parsed in place with std::from_chars; only the fields returned as
//    strings allocate.
//
// Errors: a process that exited (before or while it is read) gives
// ErrorCategory::not_found (ENOENT/ESRCH); a file the kernel refuses (e.g.
// another user's io or exe when not root) gives `permission`; text that does
// not parse gives `invalid_argument` naming the file and field. A read that
// fails returns no partial result.
//
// Thread safety: a Reader is used by one thread at a time (it owns the
// buffer); Process handles may be moved between threads. Different Readers
// are independent.

#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::proc {

// /proc/PID/stat (proc(5)); the field number is in brackets.
struct Stat {
  pid_t pid = 0;               // [1]
  std::string comm;            // [2] without the parentheses; may hold spaces and ')'
  char state = '?';            // [3] R S D Z T t X I …
  pid_t ppid = 0;              // [4]
  pid_t pgrp = 0;              // [5]
  pid_t session = 0;           // [6]
  std::uint32_t tty_nr = 0;    // [7] device number of the controlling terminal, 0 for none
  std::uint32_t flags = 0;     // [9] PF_* flags
  std::uint64_t utime = 0;     // [14] clock ticks
  std::uint64_t stime = 0;     // [15] clock ticks
  std::int64_t priority = 0;   // [18]
  std::int64_t nice = 0;       // [19]
  std::int64_t num_threads = 0;  // [20]
  std::uint64_t starttime = 0;   // [22] clock ticks after boot: (pid, starttime) identifies a process
  std::uint64_t vsize = 0;       // [23] bytes
  std::int64_t rss = 0;          // [24] pages

  [[nodiscard]] bool kernel_thread() const noexcept { return (flags & 0x00200000u) != 0; }  // PF_KTHREAD
  [[nodiscard]] bool zombie() const noexcept { return state == 'Z' || state == 'X' || state == 'x'; }
};

// The real, effective, saved and filesystem ids of a "Uid:" / "Gid:" line.
struct Ids {
  std::uint32_t real = 0, effective = 0, saved = 0, fs = 0;
};

// The lines of /proc/PID/status that /proc/PID/stat lacks.
struct Status {
  Ids uid, gid;
  std::int64_t threads = 0;
};

// /proc/PID/io (bytes). Readable for one's own processes, or with
// CAP_SYS_PTRACE; others' give `permission`.
struct Io {
  std::uint64_t rchar = 0, wchar = 0;
  std::uint64_t read_bytes = 0, write_bytes = 0;  // what reached the storage layer
};

// /proc/PID/cmdline: argv as the process presents it.
struct Cmdline {
  std::string args;        // each argument followed by a NUL ("a\0b c\0"); empty for kernel threads and zombies
  bool truncated = false;  // longer than the Reader's cmdline_max: the last argument may be incomplete
};

// One target of the exe, cwd or root link.
struct Link {
  std::string path;      // without the kernel's " (deleted)" suffix
  bool deleted = false;  // the kernel marked the target deleted (unlinked or replaced)
};

enum class LinkKind : std::uint8_t { exe, cwd, root };

// One open file descriptor of a process that is a socket ("socket:[INODE]").
struct SocketFd {
  std::int32_t fd = -1;
  std::uint64_t inode = 0;
};

// Parsers for the text of each file; `text` may end with a newline.
[[nodiscard]] std::expected<Stat, Error> parse_stat(std::string_view text);
[[nodiscard]] std::expected<Status, Error> parse_status(std::string_view text);
[[nodiscard]] std::expected<Io, Error> parse_io(std::string_view text);
// The cgroup v2 path ("0::/user.slice/…"); without one (v1 host), or when it
// is "/" on a hybrid host while a v1 hierarchy has a deeper path (a runtime
// that puts containers in v1 controllers), the first v1 path that is not "/"
// (else "/"). "" when the text has no cgroup line.
[[nodiscard]] std::string_view parse_cgroup_path(std::string_view text) noexcept;
// "btime" of /proc/stat: boot time in Unix seconds.
[[nodiscard]] std::expected<std::int64_t, Error> parse_boot_time(std::string_view proc_stat_text);

// The arguments of Cmdline::args, as views into it.
[[nodiscard]] std::vector<std::string_view> split_args(std::string_view args);

// tty_nr as a name: major 136-143 → "pts/N", major 4 → "ttyN" (minor < 64)
// or "ttySN" (minor 64-255), 0 → "" (no controlling terminal), anything
// else → "MAJOR:MINOR".
[[nodiscard]] std::string tty_name(std::uint32_t tty_nr);

// An open /proc/PID directory. Movable; closes its fd when destroyed.
class Process {
 public:
  Process() = default;
  Process(pid_t pid, UniqueFd dir) noexcept : pid_(pid), dir_(std::move(dir)) {}

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] int dir_fd() const noexcept { return dir_.get(); }
  [[nodiscard]] bool valid() const noexcept { return dir_.valid(); }

 private:
  pid_t pid_ = 0;
  UniqueFd dir_;
};

struct ReaderOptions {
  std::filesystem::path proc_root = "/proc";
  std::size_t cmdline_max = 128 * 1024;  // bytes of /proc/PID/cmdline read at most
};

class Reader {
 public:
  // Opens proc_root (O_DIRECTORY | O_CLOEXEC).
  [[nodiscard]] static std::expected<Reader, Error> open(ReaderOptions options = {});

  Reader(Reader&&) noexcept = default;
  Reader& operator=(Reader&&) noexcept = default;
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;
  ~Reader() = default;

  // Every process (thread-group leader) visible in /proc, in directory order
  // (ascending pid on Linux). Replaces `out`'s contents, reusing its capacity.
  [[nodiscard]] std::expected<void, Error> list_pids(std::vector<pid_t>& out);

  // not_found when no process has this pid.
  [[nodiscard]] std::expected<Process, Error> open_process(pid_t pid);

  [[nodiscard]] std::expected<Stat, Error> stat(const Process& p);
  [[nodiscard]] std::expected<Status, Error> status(const Process& p);
  [[nodiscard]] std::expected<Io, Error> io(const Process& p);
  [[nodiscard]] std::expected<Cmdline, Error> cmdline(const Process& p);
  // The cgroup path (parse_cgroup_path of /proc/PID/cgroup).
  [[nodiscard]] std::expected<std::string, Error> cgroup(const Process& p);
  // /proc/PID/loginuid; 4294967295 when never set. not_found also when the
  // kernel has no audit support (the file does not exist).
  [[nodiscard]] std::expected<std::uint32_t, Error> loginuid(const Process& p);
  // readlinkat of exe, cwd or root. Kernel threads and zombies have no exe
  // (not_found while the process itself still exists: check stat()).
  [[nodiscard]] std::expected<Link, Error> link(const Process& p, LinkKind kind);

  // fstat of the running executable, through the exe link: the kernel
  // resolves that link to the file the process has mapped, not by path, so
  // this is the image's device, inode, size and mtime even after a rename.
  [[nodiscard]] std::expected<struct ::stat, Error> exe_stat(const Process& p);
  // The running executable opened read-only (O_CLOEXEC | O_NONBLOCK), through
  // the exe link as exe_stat. Not checked for type: fstat it.
  [[nodiscard]] std::expected<UniqueFd, Error> open_exe(const Process& p);

  // lstat of the absolute `path` as the process sees it: resolved under its
  // root directory (openat2 RESOLVE_IN_ROOT: ".." stays inside), for a
  // process in a chroot or another mount namespace, where the exe link's text
  // names a file of its filesystem view, not ours. No symlink is followed
  // (RESOLVE_NO_SYMLINKS): one at the end is stat'ed itself (S_ISLNK), one in
  // a directory component fails with errno_value ELOOP.
  // not_found when no such file; permission when its root is not ours to open.
  [[nodiscard]] std::expected<struct ::stat, Error> stat_in_root(const Process& p, std::string_view path);

  // The process's socket fds, ascending by fd: /proc/PID/fd read with
  // getdents64 and each entry's link read (readlinkat), at most `max_fds`
  // entries looked at (the cost is one system call per fd); `truncated` set
  // when there were more; `seen` (if given) gets the number looked at.
  // Replaces `out`'s contents. permission for another user's process when
  // not root (or under hidepid), not_found when gone.
  // Bodies in proc_sockets.cpp, with the parsers of proc_sockets.hpp.
  [[nodiscard]] std::expected<void, Error> socket_fds(const Process& p, std::vector<SocketFd>& out,
                                                      std::size_t max_fds, bool* truncated = nullptr,
                                                      std::size_t* seen = nullptr);
  // The inode of the process's network namespace (fstat of /proc/PID/ns/net).
  [[nodiscard]] std::expected<std::uint64_t, Error> net_namespace(const Process& p);
  // The text of /proc/PID/net/NAME ("tcp", "udp6", "unix", ...: the tables of
  // the process's network namespace), at most `max` bytes; valid until the
  // next read of this Reader.
  [[nodiscard]] std::expected<std::string_view, Error> net_table(const Process& p, const char* name, std::size_t max,
                                                                 bool* truncated = nullptr);

  // btime of /proc/stat (Unix seconds).
  [[nodiscard]] std::expected<std::int64_t, Error> boot_time();

  [[nodiscard]] const ReaderOptions& options() const noexcept { return options_; }

 private:
  Reader(ReaderOptions options, UniqueFd root) noexcept;
  // Reads the whole of `name` under `dir` (at most `max` bytes; `truncated`
  // set when there was more) into buf_; the view is valid until the next read.
  // `until_eof`: keep reading after a short read (the /proc/net tables
  // return about a page per read(); the per-process files return all at once).
  [[nodiscard]] std::expected<std::string_view, Error> read_file(int dir, const char* name, pid_t pid,
                                                                 std::size_t max, bool* truncated = nullptr,
                                                                 bool until_eof = false);

  ReaderOptions options_;
  UniqueFd root_;
  std::vector<char> buf_;
  std::vector<char> dents_;
};

// One-shot convenience for callers that read a single process now and then
// (opens /proc/PID, reads stat, closes). Prefer a Reader in loops.
[[nodiscard]] std::expected<Stat, Error> read_stat(pid_t pid);

// Clock ticks per second (sysconf(_SC_CLK_TCK)) and the page size, cached.
[[nodiscard]] long clock_ticks_per_second() noexcept;
[[nodiscard]] long page_size() noexcept;

}  // namespace airssys::osl::proc
