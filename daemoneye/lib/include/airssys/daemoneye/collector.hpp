#pragma once
// Collector — one full collection of every process on the host, as
// ProcessRecords (osquery's `processes` columns; process_record.hpp).
//
// Sources (all through osl::proc, one /proc/PID dirfd per process):
//   stat     pid, parent, pgroup, sid, name, state, nice, threads,
//            user_time/system_time (ticks → ms), start_time (start ticks /
//            CLK_TCK + btime of /proc/stat), resident_size (pages → bytes),
//            total_size, tty (tty_nr), start_ticks
//   status   uid, euid, suid, gid, egid, sgid
//   io       disk_bytes_read, disk_bytes_written (read_bytes/write_bytes)
//   cmdline  cmdline: argv joined with spaces, secrets redacted (redact.hpp),
//            at most cmdline_max bytes: read up to 4x that, redacted, and
//            when longer its head and tail kept around " … "
//            (cmdline_column); when even the read was cut, its last
//            cmdline_max/2 bytes are read apart (length from stat fields
//            48-49) and joined (cmdline_column_cut), so padding cannot hide
//            a command line's end
//   cgroup   cgroup_path, container_id (container_id.hpp)
//   loginuid auid
//   exe/cwd/root links  path, cwd, root; exe_dev/exe_ino by fstat through
//            the exe link; sha256 (exe_hasher.hpp)
//   on_disk  1: the path names the running image (same dev+inode, looked up
//            in our mount namespace, else through the process's root);
//            0: the kernel marks it deleted, or the path now names another
//            file; -1: unknown (no permission, kernel thread, zombie)
//   root_is_host  statx (AT_STATX_DONT_SYNC: no call to a hung FUSE/NFS
//            server) of the followed root link vs our "/", read once per
//            collection: 1 the same directory (also from a mount namespace
//            of its own), 0 another root, -1 unknown; reused with root
//   host_on_disk  on_disk's first lookup alone (our mount namespace, never
//            the process's root): 0 when a file is mounted over the path
//            only in the process's own mount namespace; no extra call
//   username getpwuid_r of uid, cached (refreshed every 5 minutes)
//   cpu_percent  (user+system ticks now − at the previous collect() of the
//            same (pid, start_ticks)) / CLK_TCK / wall seconds between the
//            two reads of its stat × 100; 0 on first sight
//
// Cost: a process first seen takes about 25 system calls. One seen before
// (same pid and start ticks) keeps its /proc/PID directory fd open between
// collections (within keep_open) and reuses what rarely changes — cgroup,
// loginuid, root, and the executable's fstat, on_disk and hash while the
// exe link's text is unchanged — re-reading those every 10th collection
// (a tenth of the processes each time, by pid): about 14 system calls. So
// a cgroup move, chroot or loginuid change shows within 10 collections; an
// exec shows at once (the exe link is read every time).
//
// A process that exits while it is read is left out (never half-filled and
// flagged complete). A field the kernel refuses (another user's io, exe, cwd
// when not root) keeps its default and marks the record `partial`. Kernel
// threads and zombies have no exe, cmdline, cwd: path "" and cmdline "",
// not partial.
//
// Sockets (`sockets` on): each process's socket fds, matched to its network
// namespace's /proc/net tables read once per namespace per collection
// (osl/proc_sockets.hpp), as osquery's process_open_sockets rows. About one
// system call per open fd of every process, plus five reads per namespace.
//
// A file system that does not answer (a hung FUSE daemon, a hard NFS mount
// whose server is gone): every call that reaches the executable's file
// system (its fstat through exe, the on_disk lookups, hashing) runs on a
// helper thread and is given up on after fs_stall without progress; that
// process is reported partial and the others are read as usual (options
// below; docs/daemoneye.md "A file system that does not answer").
//
// Thread safety: one thread at a time (the helper threads are internal).

#include <airssys/daemoneye/exe_hasher.hpp>
#include <airssys/daemoneye/memory_map.hpp>
#include <airssys/daemoneye/process_record.hpp>
#include <airssys/osl/error.hpp>
#include <airssys/osl/proc_sockets.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <string>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace airssys::daemoneye {

struct CollectorOptions {
  bool hash = true;                                   // compute sha256
  std::uint64_t hash_max_size = 256ull * 1024 * 1024;  // larger executables get sha256 ""
  std::size_t hash_cache_entries = 4096;
  std::size_t cmdline_max = 32 * 1024;                 // bytes of the cmdline column
  std::filesystem::path proc_root = "/proc";
  // /proc/PID directory fds kept open between collections (one per known
  // process), counted over all Collectors of the process together: one keeps
  // a new one while fewer than this are kept. Default: half the
  // RLIMIT_NOFILE soft limit at create() (procmond raises its soft limit to
  // the hard one first). 0: none kept. If the process runs out of fds
  // anyway, the collector releases its kept ones and keeps none after.
  std::optional<std::size_t> keep_open;
  // The executable's stat, lookups and hashing run on a helper thread: a
  // call that makes no progress for fs_stall (a FUSE daemon that does not
  // answer, a hard NFS mount whose server is gone) is given up on, its
  // process reported `partial`, and its device (from /proc/PID/maps)
  // avoided until the call returns. At most fs_stuck_max such threads are left behind (a thread
  // blocked in the kernel cannot be killed); past that no image is read.
  std::chrono::milliseconds fs_stall{2000};
  std::size_t fs_stuck_max = 4;
  // A call that went fs_slow without progress but answered (a FUSE daemon
  // answering every call after 1.9 s) marks its device slow: not read again
  // for the rest of the collection (read_process: for 10 s), those processes
  // partial. Time waited on slow and stalled calls is capped per collection
  // (per read_process call) at fs_budget: past it no image is read.
  std::chrono::milliseconds fs_slow{250};
  std::chrono::milliseconds fs_budget{5000};
  bool sockets = false;                  // collect process_open_sockets rows (procmond turns it on)
  osl::proc::SocketLimits socket_limits;  // fds per process, entries per table
  // Collect process_memory_map rows (memory_map.hpp; procmond turns it on):
  // a process's maps are read at first sight and again when its vsize or
  // path changed, else its last rows are given again.
  bool memory_maps = false;
  // And once every this many collections whatever the vsize (0: never): a
  // same-size change (an mprotect to executable, a library mapped over a
  // PROT_NONE reservation) shows within that many collections. Spread
  // across collections: a pid's turn is pid % N == collection % N.
  std::uint32_t maps_reread_every = 0;
};

struct CollectStats {
  std::uint32_t total = 0;    // records returned
  std::uint32_t partial = 0;  // of which partial
  std::uint32_t vanished = 0; // listed but gone before they were read
  std::uint32_t failed = 0;   // listed, present, but their stat could not be read or parsed
  std::uint32_t stalled = 0;  // of partial: their executable's file system did not answer in time
  std::uint32_t stuck_threads = 0;  // helper threads still blocked in a file system call
  std::uint64_t elapsed_us = 0;
  osl::proc::SocketStats sockets;  // with CollectorOptions::sockets
  std::uint64_t sockets_us = 0;    // of elapsed_us, the time spent on sockets
  // With CollectorOptions::memory_maps: maps files read this collection,
  // of which not readable (the process went) and cut (MapsRead's bounds),
  // and the time spent on them.
  std::uint32_t maps_reads = 0, maps_unreadable = 0, maps_cut = 0;
  std::uint64_t maps_us = 0;
};

struct CollectResult {
  std::int64_t time = 0;  // Unix seconds at the start of the collection
  std::vector<ProcessRecord> processes;  // ascending pid
  std::vector<osl::proc::OpenSocket> sockets;  // ascending pid, then fd; empty unless CollectorOptions::sockets
  std::vector<MemoryMapRow> memory_maps;       // ascending pid, then address; empty unless CollectorOptions::memory_maps
  CollectStats stats;
  // Paths of executables whose file system has a call stuck now:
  // executables on the same device are not read (their processes are partial).
  std::vector<std::string> stalled_on;
};

class Collector {
 public:
  [[nodiscard]] static std::expected<std::unique_ptr<Collector>, osl::Error> create(CollectorOptions options = {});
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  [[nodiscard]] std::expected<CollectResult, osl::Error> collect();
  // One process now (cpu_percent 0). not_found when it does not exist or
  // exits while it is read.
  [[nodiscard]] std::expected<ProcessRecord, osl::Error> read_process(pid_t pid);
  // root_is_host of one process now (ProcessRecord::root_is_host: 1 its
  // /proc/PID/root is our "/", 0 another root), without the rest of its
  // record: one open and one statx (and its stat when start_ticks is given).
  // -1 when it is gone, unreadable, or no longer the process that started at
  // start_ticks (0: any).
  [[nodiscard]] int root_is_host(pid_t pid, std::uint64_t start_ticks);

  [[nodiscard]] const HashStats& hash_stats() const noexcept;

  struct Impl;

 private:
  explicit Collector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
