#include <airssys/daemoneye/event_assembler.hpp>
#include <airssys/daemoneye/redact.hpp>

#include "event_assembler_path.hpp"
#include "mount_table.hpp"

#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <unordered_map>

namespace airssys::daemoneye {

namespace {

using Clock = std::chrono::steady_clock;

struct Key {
  EventKind kind;
  std::int64_t pid;
  std::uint64_t start_ticks;
  friend bool operator==(const Key&, const Key&) = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    std::size_t h = std::hash<std::int64_t>{}(k.pid);
    h ^= std::hash<std::uint64_t>{}(k.start_ticks) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    return h ^ static_cast<std::size_t>(k.kind);
  }
};

struct Known {
  ProcessRecord record;
  std::uint64_t gen = 0;  // when it was last set (mark()s and events share one counter)
};

// Fields a new image or a new process does not inherit from what was known.
void forget_image(ProcessRecord& r) {
  r.sha256.clear();
  r.exe_dev = 0;
  r.exe_ino = 0;
  r.on_disk = -1;
  r.host_on_disk = -1;
}

void forget_usage(ProcessRecord& r) {
  r.threads = -1;
  r.user_time = -1;
  r.system_time = -1;
  r.resident_size = -1;
  r.total_size = -1;
  r.disk_bytes_read = -1;
  r.disk_bytes_written = -1;
  r.cpu_percent = 0.0;
  r.state.clear();
}

void take_identity(ProcessRecord& r, const KernelEvent& k) {
  r.pid = k.pid;
  if (k.ppid >= 0) r.parent = k.ppid;
  if (k.uid >= 0) {
    r.uid = k.uid;
    r.gid = k.gid;
    r.euid = k.euid;
    r.egid = k.egid;
  }
  if (k.auid >= 0) r.auid = k.auid;
  if (!k.comm.empty()) r.name = k.comm;
}

}  // namespace

struct EventAssembler::Impl {
  EventAssemblerOptions options;
  std::unique_ptr<Collector> reader;
  MountTable mounts;  // procmond's (the host's): an exec image's host_path
  // procmond's own mount namespace (/proc/self/ns/mnt's inode); 0 unknown:
  // an exec's own kernel path is then never taken as its host path.
  std::uint64_t own_mnt_ns = own_mount_namespace();
  std::mutex mutex;
  std::unordered_map<std::int64_t, Known> known;
  std::unordered_map<Key, std::uint64_t, KeyHash> reported;
  std::uint64_t gen = 0;
  std::uint64_t previous_mark = 0;
  double tokens = 0;
  Clock::time_point refilled{};
  Counters counters;
  std::int64_t ns_per_tick = 10'000'000;

  bool take_token() {
    const auto now = Clock::now();
    const double budget = static_cast<double>(options.budget_per_second);
    if (refilled == Clock::time_point{}) {
      tokens = budget;
    } else {
      tokens = std::min(budget, tokens + std::chrono::duration<double>(now - refilled).count() * budget);
    }
    refilled = now;
    if (tokens < 1.0) return false;
    tokens -= 1.0;
    return true;
  }

  // start_time (Unix seconds) from start ticks, as /proc's btime + ticks / CLK_TCK.
  std::int64_t start_time_of(std::uint64_t ticks) const {
    const std::int64_t btime = boot_to_unix_offset_ns() / 1'000'000'000;
    return btime + static_cast<std::int64_t>(ticks) * ns_per_tick / 1'000'000'000;
  }

  const ProcessRecord* find(std::int64_t pid, std::uint64_t start_ticks) const {
    auto it = known.find(pid);
    if (it == known.end()) return nullptr;
    const auto& r = it->second.record;
    if (start_ticks != 0 && r.start_ticks != 0 && r.start_ticks != start_ticks) return nullptr;
    return &r;
  }

  // The process as /proc shows it now, if it is still the same process.
  std::optional<ProcessRecord> read_proc(const KernelEvent& k) {
    if (!reader) return std::nullopt;
    auto r = reader->read_process(static_cast<pid_t>(k.pid));
    if (!r) return std::nullopt;
    if (k.start_ticks != 0 && r->start_ticks != k.start_ticks) return std::nullopt;  // pid reused already
    ++counters.proc_reads;
    return std::move(*r);
  }

  void remember(const ProcessRecord& r) {
    if (known.size() >= options.max_known && !known.contains(r.pid)) return;
    known[r.pid] = Known{r, gen};
  }

  // The cmdline column of what the kernel captured: head and tail when it
  // gave both (eBPF, for an argv over its capture size).
  std::string column_of(const KernelEvent& k) const {
    if (k.args_truncated && !k.args_tail.empty()) return cmdline_column_cut(k.args, k.args_tail, options.cmdline_max);
    return cmdline_column(k.args, k.args_truncated, options.cmdline_max);
  }

  ProcessEvent start_of(KernelEvent& k, EventSource source) {
    ProcessEvent e{EventKind::start, source, 0, {}};
    std::optional<ProcessRecord> fresh;
    if (k.args_total < 0) fresh = read_proc(k);  // the source gave no argv: ask /proc
    if (fresh) {
      e.process = std::move(*fresh);
    } else {
      // A child runs its parent's image with its parent's argv until it execs.
      if (const auto* parent = find(k.ppid, 0)) e.process = *parent;
      forget_usage(e.process);
      if (!k.args.empty() || k.args_total >= 0) {
        e.process.cmdline = column_of(k);
      }
    }
    take_identity(e.process, k);
    if (k.start_ticks != 0) e.process.start_ticks = k.start_ticks;
    if (e.process.start_ticks != 0) e.process.start_time = start_time_of(e.process.start_ticks);
    return e;
  }

  ProcessEvent exec_of(KernelEvent& k, EventSource source) {
    ProcessEvent e{EventKind::exec, source, 0, {}};
    // The eBPF program read the kernel's path of the image's file at the
    // exec, before the new image ran: that is the path, whatever text
    // execve was given (a link, /dev/fd/N, a relative path), and the
    // process cannot change it by exiting or exec'ing again. When a binfmt
    // handler ran an interpreter (a script), the kernel's path is the
    // interpreter's: the image that really runs, kept as the path (a memfd
    // or /tmp interpreter named by "#!" is what a rule must see), said so
    // (interp), while the file given, the script, is known by its text only.
    const bool captured = !k.exe_path.empty() && !k.exe_interpreted;
    const bool interpreter = !k.exe_path.empty() && k.exe_interpreted;
    // Otherwise the path as given can hide where the file is ("//tmp/x",
    // "./x", "/proc/self/cwd/x", "/dev/fd/3"): "//" and "/./" are collapsed;
    // what text cannot resolve is taken from /proc/PID/exe while the process
    // lives (the kernel's own path; if it exec'd again meanwhile, the later
    // image's — path_given still says what this exec asked for).
    const std::string cleaned = exec_path::collapse(k.path);
    const bool indirect = !captured && !interpreter && exec_path::needs_kernel_path(cleaned);
    std::optional<ProcessRecord> fresh;
    if (indirect || k.args_total < 0) fresh = read_proc(k);
    const bool kernel_path = fresh && indirect && !fresh->path.empty();
    if (fresh) {
      e.process = std::move(*fresh);
    } else {
      if (const auto* before = find(k.pid, k.start_ticks)) e.process = *before;
      forget_image(e.process);
      forget_usage(e.process);
      // What was known is the image before this exec (for a fresh child, its
      // parent's): its path, argv and name say nothing of the new one. What
      // the kernel did not give stays unknown.
      if (k.path.empty()) e.process.path.clear();
      if (k.args_total < 0) e.process.cmdline.clear();
      if (k.comm.empty()) e.process.name.clear();
      if (k.path.empty() || k.args_total < 0) e.process.partial = true;
      // The working directory known before (the last collection's, or the
      // parent's at the fork) may be stale: a child that chdir()s and execs
      // "./x" at once. Unknown unless the kernel gave it (below): a rule
      // must not join a relative path with a stale one.
      e.process.cwd.clear();
      // Whose root it runs under is read now, not taken from what was known:
      // a runtime's child chroots or pivots between its fork and its exec.
      // Gone or unreadable: unknown (-1). The eBPF program's answer, read at
      // the exec, needs no read.
      if (k.root_is_host < 0) {
        e.process.root_is_host = reader ? reader->root_is_host(static_cast<pid_t>(k.pid), k.start_ticks) : -1;
      }
    }
    // Read at the exec: truer than /proc read later (a pivot after the exec).
    if (k.root_is_host >= 0) e.process.root_is_host = k.root_is_host;
    // The directory a relative path given to execve was resolved against,
    // read at the exec (/proc's may be a later chdir's).
    if (!k.cwd.empty()) e.process.cwd = k.cwd;
    take_identity(e.process, k);
    // What the kernel captured at exec time is the truth; /proc may already
    // show a changed argv (setproctitle) or another image.
    if (captured) {
      e.process.path = k.exe_path;
      // A mount attached nowhere: the path names no place (runc's re-exec
      // reads "/"); kept, and said, so that rules judge the path given.
      e.path_from = k.exe_detached ? PathFrom::detached : PathFrom::exec;
      // As the collector reads a " (deleted)" exe link: the path without
      // the suffix, and not on disk (a memfd's /memfd:NAME always).
      if (k.exe_deleted) e.process.on_disk = 0;
    } else if (interpreter) {
      e.process.path = k.exe_path;
      e.path_from = PathFrom::interp;
      if (k.exe_deleted) e.process.on_disk = 0;
    } else if (kernel_path) {
      e.path_from = PathFrom::proc;
    } else if (!cleaned.empty()) {
      // Gone already: the cleaned text, relative or magic as it may be (not
      // joined with cwd here; cwd is the kernel's at the exec, or unknown).
      e.process.path = cleaned;
      e.path_from = PathFrom::given;
    } else if (fresh && !e.process.path.empty()) {
      e.path_from = PathFrom::proc;  // the proc connector gives no path
    }
    e.path_given = k.path;
    // The image's identity, and where the host sees it: a bind mount made
    // in a namespace of the process's own (/tmp/dir onto /mnt) changes its
    // kernel path, not its filesystem's device nor its path there.
    if (k.image_known) {
      e.image_dev = k.image_dev;
      e.image_ino = k.image_ino;
      if (auto host = mounts.image_host_path(k, own_mnt_ns)) e.host_path = std::move(*host);
    }
    if (k.args_total >= 0) e.process.cmdline = column_of(k);
    if (k.start_ticks != 0) e.process.start_ticks = k.start_ticks;
    if (e.process.start_ticks != 0) e.process.start_time = start_time_of(e.process.start_ticks);
    return e;
  }

  ProcessEvent stop_of(KernelEvent& k, EventSource source) {
    ProcessEvent e{EventKind::stop, source, 0, {}};
    if (const auto* last = find(k.pid, k.start_ticks)) e.process = *last;
    take_identity(e.process, k);
    if (k.start_ticks != 0) e.process.start_ticks = k.start_ticks;
    if (e.process.start_ticks != 0 && e.process.start_time < 0) e.process.start_time = start_time_of(e.process.start_ticks);
    e.exit_code = k.exit_code;
    e.exit_signal = k.exit_signal;
    return e;
  }
};

EventAssembler::EventAssembler(EventAssemblerOptions options, std::unique_ptr<Collector> reader)
    : impl_(std::make_unique<Impl>()) {
  impl_->options = options;
  impl_->reader = std::move(reader);
  const long hz = ::sysconf(_SC_CLK_TCK);
  impl_->ns_per_tick = 1'000'000'000 / (hz > 0 ? hz : 100);
}

EventAssembler::~EventAssembler() = default;

std::optional<ProcessEvent> EventAssembler::assemble(KernelEvent&& k, EventSource source) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  if (k.pid <= 0) return std::nullopt;
  ++s.gen;
  if (!s.take_token()) {
    ++s.counters.dropped;
    if (k.kind == KernelEvent::Kind::exit) s.known.erase(k.pid);  // bookkeeping costs nothing
    return std::nullopt;
  }
  ProcessEvent e;
  switch (k.kind) {
    case KernelEvent::Kind::fork: e = s.start_of(k, source); break;
    case KernelEvent::Kind::exec: e = s.exec_of(k, source); break;
    case KernelEvent::Kind::exit: e = s.stop_of(k, source); break;
  }
  if (k.kind == KernelEvent::Kind::exit) {
    s.known.erase(k.pid);
  } else {
    s.remember(e.process);
  }
  s.reported[Key{e.kind, e.process.pid, e.process.start_ticks}] = s.gen;
  e.time_ns = k.time_ns;
  e.time = k.time_ns / 1'000'000'000;
  e.cmdline_size = k.args_total;
  e.cmdline_truncated = k.args_truncated;
  e.cgroup_id = k.cgroup_id;
  ++s.counters.assembled;
  return e;
}

std::uint64_t EventAssembler::mark() noexcept {
  std::lock_guard lock(impl_->mutex);
  return ++impl_->gen;
}

void EventAssembler::learn(std::span<const ProcessRecord> collection, std::uint64_t mark) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  std::unordered_map<std::int64_t, Known> next;
  next.reserve(collection.size() + 64);
  for (const auto& r : collection) {
    if (next.size() >= s.options.max_known) break;
    next.emplace(r.pid, Known{r, mark});
  }
  // What events said after the collection began is newer than the collection.
  for (auto& [pid, k] : s.known) {
    if (k.gen > mark) next[pid] = std::move(k);
  }
  s.known = std::move(next);
}

void EventAssembler::filter_reported(std::vector<ProcessEvent>& poll_events, std::uint64_t mark) {
  Impl& s = *impl_;
  std::lock_guard lock(s.mutex);
  std::erase_if(poll_events, [&](const ProcessEvent& e) {
    return s.reported.contains(Key{e.kind, e.process.pid, e.process.start_ticks});
  });
  std::erase_if(s.reported, [&](const auto& kv) { return kv.second < s.previous_mark; });
  s.previous_mark = mark;
}

EventAssembler::Counters EventAssembler::counters() const {
  std::lock_guard lock(impl_->mutex);
  Counters c = impl_->counters;
  c.known = impl_->known.size();
  return c;
}

}  // namespace airssys::daemoneye
