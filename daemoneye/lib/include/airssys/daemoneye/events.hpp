#pragma once
// What procmond publishes on the bus, and how it is encoded (JSON payloads;
// wire format in docs/daemoneye.md "Bus messages").
//
//   events.process.start|stop|exec   one ProcessEvent each
//   events.process.snapshot          one chunk of a full collection: the
//                                    agent stores a scan once it has every
//                                    chunk (seq 0..n-1, `last` on the final one)
//
// Order: procmond publishes a scan's events before its snapshot chunks, on
// one connection, so a subscriber sees them in that order.

#include <airssys/daemoneye/accounts.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/process_record.hpp>
#include <airssys/daemoneye/memory_map.hpp>
#include <airssys/osl/proc_sockets.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

inline constexpr std::string_view kSubjectSnapshot = "events.process.snapshot";
inline constexpr std::string_view kSubjectStart = "events.process.start";
inline constexpr std::string_view kSubjectStop = "events.process.stop";
inline constexpr std::string_view kSubjectExec = "events.process.exec";
inline constexpr std::string_view kSubjectAll = "events.process.>";
// procmond's own state (ProcmondStatus), once per interval; not a process event.
inline constexpr std::string_view kSubjectProcmondStatus = "status.procmond";

enum class EventKind : std::uint8_t { start, stop, exec };
[[nodiscard]] std::string_view to_string(EventKind k) noexcept;
[[nodiscard]] std::string_view subject_of(EventKind k) noexcept;

// Where an event came from: the diff of two /proc collections, the netlink
// proc connector, or the eBPF programs (docs/daemoneye.md "Event sources").
enum class EventSource : std::uint8_t { poll, proc_connector, ebpf };
inline constexpr std::size_t kEventSources = 3;
[[nodiscard]] std::string_view to_string(EventSource s) noexcept;
[[nodiscard]] std::optional<EventSource> event_source_from(std::string_view s) noexcept;

// Where an exec event's process.path came from (process_events.path_from,
// docs/daemoneye.md): the kernel's path of the image's file read by the eBPF
// program at the exec (`exec`: neither an exit nor a later exec changes it;
// the file's path in its own mount tree, which a process that can mount
// chooses); the same of a file on a mount attached nowhere (`detached`:
// umount -l, an open_tree clone; the path is relative to that mount, "/"
// for the mount itself, and names no place); the process's /proc/PID/exe read when
// procmond handled the event (`proc`: a process that exec'd again meanwhile
// shows its later image); or the text given to execve, "//" and "/./"
// collapsed (`given`); or, for a script (a binfmt handler ran an
// interpreter), the kernel's path of the interpreter's file read at the
// exec (`interp`: the image that really runs, what /proc/PID/exe shows;
// the file given, the script, is known by path_given's text only). `none`:
// not an exec, or no path known.
enum class PathFrom : std::uint8_t { none, exec, detached, proc, given, interp };
[[nodiscard]] std::string_view to_string(PathFrom p) noexcept;  // "" for none
[[nodiscard]] std::optional<PathFrom> path_from_of(std::string_view s) noexcept;

struct ProcessEvent {
  EventKind kind = EventKind::start;
  EventSource source = EventSource::poll;
  std::int64_t time = 0;     // Unix seconds when it happened (kernel sources) or was observed (poll)
  ProcessRecord process;     // stop: the last state seen
  // What the kernel sources add (defaults when not known):
  std::int64_t time_ns = 0;        // `time` in Unix nanoseconds; 0 when unknown
  std::int64_t cmdline_size = -1;  // bytes of the whole argv (NUL-separated) before any cut
  bool cmdline_truncated = false;  // cmdline holds only part of argv
  std::int64_t exit_code = -1;     // stop: exit status when the process exited normally
  std::int64_t exit_signal = -1;   // stop: the signal that ended it
  std::uint64_t cgroup_id = 0;     // v2 cgroup id (inode of its cgroup directory); 0 unknown
  // exec: the path exactly as given to execve ("//tmp/x", "./x", "/dev/fd/3");
  // process.path is where the executed file really is, as far as known
  // (docs/daemoneye.md "process_events"). "" when not an exec or unknown.
  std::string path_given;
  PathFrom path_from = PathFrom::none;  // exec: where process.path came from
  // exec, eBPF only: the identity of the image that runs, read at the exec:
  // its filesystem's device (userspace dev_t, as stat() and mountinfo give
  // it) and inode number; 0 unknown.
  std::uint64_t image_dev = 0;
  std::uint64_t image_ino = 0;
  // exec, eBPF only: where that file is in the host's mount namespace
  // (procmond's), found from its device and its path within its filesystem
  // whatever the process mounted; "" unknown (a filesystem the host has
  // not mounted, a memfd, other sources).
  std::string host_path;
};

// Counters of one event source, as procmond reports them.
struct SourceCounters {
  std::uint64_t events = 0;   // published
  std::uint64_t dropped = 0;  // over the per-second budget or the queue bound: not published
  std::uint64_t lost = 0;     // the kernel could not deliver them (ring buffer full, netlink ENOBUFS)
};

// The last collection's process_open_sockets counters (osl::proc::SocketStats
// and the time spent), as procmond reports them.
struct SocketCounters {
  std::uint64_t rows = 0;             // rows published
  std::uint64_t unreadable = 0;       // processes whose fds or namespace could not be read
  std::uint64_t fds_capped = 0;       // processes with more fds than the per-process cap
  std::uint64_t tables_capped = 0;    // /proc/net tables longer than the per-table cap
  std::uint64_t unmatched = 0;        // socket fds in no table read
  std::uint64_t ambiguous = 0;        // unix inodes on two lines (a planted line): no path
  std::uint64_t other_namespace = 0;  // rows found in another namespace than their process's
  std::uint64_t truncated = 0;        // processes read in part or not at all: the snapshot's budget was spent
  std::uint64_t us = 0;               // microseconds spent on sockets in the collection
  bool operator==(const SocketCounters&) const = default;
};

// The host's account files as procmond last read them (accounts.hpp).
struct AccountCounters {
  std::uint64_t users = 0, groups = 0;  // rows published
  std::uint64_t skipped = 0;            // lines of the two files that are not accounts
  std::uint64_t capped = 0;             // files with more than kMaxAccountEntries entries (their rest not taken)
  std::uint64_t reads = 0;              // reads of a changed file since procmond started
  std::string error;                    // why a file could not be read this time ("" when both were)
  bool operator==(const AccountCounters&) const = default;
};

// procmond's state, published on kSubjectProcmondStatus every interval.
struct ProcmondStatus {
  std::int64_t time = 0;                  // Unix seconds
  std::int64_t pid = -1;                  // procmond's pid
  EventSource tier = EventSource::poll;   // the real-time source running (poll = polling only)
  std::string tier_reason;                // why the better tiers do not run ("" when eBPF runs)
  std::uint64_t scans = 0;                // collections published
  std::uint64_t budget_per_second = 0;    // real-time events published per second at most
  std::array<SourceCounters, kEventSources> sources{};  // indexed by EventSource
  std::optional<SocketCounters> sockets;  // none with --no-sockets (or from an older procmond)
  std::optional<AccountCounters> accounts;  // none from an older procmond
};

struct SnapshotChunk {
  std::uint64_t scan_id = 0;  // increases by one per collection of one procmond run
  std::uint32_t seq = 0;
  bool last = false;
  std::int64_t time = 0;      // Unix seconds, the collection's start
  std::uint32_t total = 0;    // processes in the whole collection (on every chunk)
  std::uint32_t unreadable = 0;  // processes with partial records in the whole collection
  std::uint64_t collect_us = 0;  // how long the collection took
  std::vector<ProcessRecord> processes;
  // process_open_sockets rows of the collection, after its processes (a
  // chunk may hold some of each). Absent on the wire from a procmond
  // without socket collection: empty.
  std::vector<osl::proc::OpenSocket> sockets;
  // process_memory_map rows (executable regions), after the sockets; absent
  // on the wire from a procmond that does not collect them: empty.
  std::vector<MemoryMapRow> memory_maps;
  // The host's accounts (users, groups), after the sockets. has_users on
  // every chunk of a collection that carries the users table whole (procmond
  // has read the file at least once), so an empty `users` over all chunks
  // means no account, and a collection without it leaves the table as it is
  // (likewise has_groups). Absent on the wire from an older procmond.
  bool has_users = false, has_groups = false;
  std::vector<UserAccount> users;
  std::vector<GroupAccount> groups;
};

[[nodiscard]] std::string encode(const ProcessEvent& e);
[[nodiscard]] std::string encode(const SnapshotChunk& c);
// Errors say what was malformed ("snapshot: processes[3].pid: not an integer").
[[nodiscard]] Result<ProcessEvent> decode_event(std::string_view json);
[[nodiscard]] Result<SnapshotChunk> decode_snapshot(std::string_view json);
[[nodiscard]] std::string encode(const ProcmondStatus& s);
[[nodiscard]] Result<ProcmondStatus> decode_procmond_status(std::string_view json);

// JSON object of a record's columns (osquery names), as stored in alerts.
[[nodiscard]] std::string to_json(const ProcessRecord& r);

}  // namespace airssys::daemoneye
