#include <airssys/daemoneye/collector.hpp>

#include <airssys/daemoneye/container_id.hpp>
#include <airssys/daemoneye/redact.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/osl/proc.hpp>

#include "fs_worker.hpp"
#include "user_names.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <atomic>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace airssys::daemoneye {

namespace proc = osl::proc;
using Clock = std::chrono::steady_clock;
// How long read_process (the event thread's path) avoids a place where a
// call was slow; collect() avoids it for the rest of the collection.
constexpr auto kSlowForget = std::chrono::seconds(10);

namespace {

// Our own view of a path: stat result (errno or dev+ino), remembered for
// one collection because many processes run the same few binaries.
struct PathView {
  int err = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};

constexpr auto kUserNamesRefresh = std::chrono::minutes(5);

// Directory fds kept by every Collector of this process together, so that
// several collectors (a benchmark, tests) share one budget instead of each
// taking half of RLIMIT_NOFILE.
std::atomic<std::size_t> g_kept_dirs{0};

// A /proc/PID directory kept open between collections; counts against the
// process-wide budget while it holds an fd.
class KeptDir {
 public:
  KeptDir() = default;
  KeptDir(KeptDir&& o) noexcept : dir_(std::move(o.dir_)), counted_(std::exchange(o.counted_, false)) {}
  KeptDir& operator=(KeptDir&& o) noexcept {
    if (this != &o) {
      release();
      dir_ = std::move(o.dir_);
      counted_ = std::exchange(o.counted_, false);
    }
    return *this;
  }
  KeptDir(const KeptDir&) = delete;
  KeptDir& operator=(const KeptDir&) = delete;
  ~KeptDir() { release(); }

  // Keeps `dir` if fewer than `limit` are kept process-wide; else closes it.
  static KeptDir keep(proc::Process dir, std::size_t limit) {
    KeptDir k;
    if (g_kept_dirs.fetch_add(1) < limit) {
      k.dir_ = std::move(dir);
      k.counted_ = true;
    } else {
      g_kept_dirs.fetch_sub(1);
    }
    return k;
  }
  [[nodiscard]] bool valid() const noexcept { return dir_.valid(); }
  proc::Process take() {
    if (counted_) g_kept_dirs.fetch_sub(1);
    counted_ = false;
    return std::move(dir_);
  }
  void release() {
    if (counted_) g_kept_dirs.fetch_sub(1);
    counted_ = false;
    dir_ = proc::Process();
  }

 private:
  proc::Process dir_;
  bool counted_ = false;
};

// What the previous collection learned about a process that is still there
// (same pid and start ticks). Cost matters here: every system call saved per
// process is 10,000 saved per collection on a busy host.
struct Known {
  std::uint64_t start_ticks = 0;
  std::uint64_t cpu_ticks = 0;
  Clock::time_point at;  // when its stat was read (cpu_percent's wall time)
  // The /proc/PID directory, kept open between collections (within the fd
  // budget): a known process costs no directory lookup, and the fd pins the
  // process itself — if its pid is reused, lookups under it fail.
  KeptDir dir;
  // Fields that change rarely (cgroup moves, chroot, the loginuid being set,
  // exec), reused until the process's next refresh turn (every
  // kRefreshEvery collections) or, for the image, until the exe link's text
  // or the image's dev+ino changes. Only fields that were read completely
  // are kept.
  bool sticky = false;
  std::string cgroup_path;
  std::int64_t auid = -1;
  std::string root;
  int root_is_host = -1;
  bool have_image = false;
  std::string exe_text;
  bool exe_deleted = false;
  struct ::stat image{};
  int on_disk = -1;
  int host_on_disk = -1;
  // Its executable regions (CollectorOptions::memory_maps) as last read,
  // with the vsize and path they were read at: read again when either
  // changed (dlopen and mmap change the vsize, an exec the path too).
  bool maps_read = false;
  std::int64_t maps_vsize = -1;
  std::string maps_path;
  std::vector<MemoryMapRow> maps;
};

// A directory's device and inode, from statx with AT_STATX_DONT_SYNC: the
// inode's cached attributes, so a root on a FUSE or NFS mount whose server
// hangs is not asked (the lookup itself only follows a /proc link).
struct DirId {
  std::uint64_t dev = 0, ino = 0;
  bool operator==(const DirId&) const = default;
};
std::optional<DirId> dir_id(int at, const char* path) {
  struct ::statx stx{};
  if (::statx(at, path, AT_STATX_DONT_SYNC | AT_NO_AUTOMOUNT, STATX_INO, &stx) != 0) return std::nullopt;
  return DirId{.dev = static_cast<std::uint64_t>(::makedev(stx.stx_dev_major, stx.stx_dev_minor)), .ino = stx.stx_ino};
}

// 1 when the process's root directory is `host` (our "/"), 0 another,
// -1 when either cannot be read. The same directory, not the same text: a
// process in its own mount namespace that kept the host's root reads "/"
// as well as a container's init does (the link is relative to its root).
int root_is_host_of(const proc::Process& p, const std::optional<DirId>& host) {
  const auto id = dir_id(p.dir_fd(), "root");
  if (!id || !host) return -1;
  return *id == *host ? 1 : 0;
}

std::int64_t ticks_to_ms(std::uint64_t ticks, long hz) {
  return static_cast<std::int64_t>(ticks * 1000 / static_cast<std::uint64_t>(hz));
}

}  // namespace

struct Collector::Impl {
  // Every kRefreshEvery-th collection re-reads a known process's sticky
  // fields (spread by pid, so each collection refreshes a tenth).
  static constexpr std::uint64_t kRefreshEvery = 10;

  CollectorOptions options;
  // Shared with the FsWorker's jobs (a stuck job may outlive the Collector).
  // They call only exe_stat, open_exe and stat_in_root, which touch none of
  // the Reader's state, so they may run while this thread uses it.
  std::shared_ptr<proc::Reader> fs_reader;
  proc::Reader& reader;
  ExeHasherOptions hash_options;
  ExeHasher hasher;
  UserNames users;
  Clock::time_point users_since = Clock::now();
  std::int64_t boot_time = 0;
  long hz = proc::clock_ticks_per_second();
  long page = proc::page_size();
  std::size_t fd_budget = 0;
  std::uint64_t collections = 0;
  std::vector<pid_t> pids;
  std::unordered_map<pid_t, Known> known;
  std::unordered_map<std::string, PathView> paths;  // this collection's stat() of exe paths
  // Our "/" (the host's, as procmond runs in the host's mount namespace),
  // read at each collect() and read_process(): root_is_host compares with it.
  std::optional<DirId> host_root;
  proc::SocketSnapshot sockets{options.socket_limits};

  // Where a file system call stalled, until that call returns: the device
  // of the image it was on (every file there waits on the same server), or
  // only that path when the device could not be read.
  struct Hung {
    std::string path;                // the image whose call stalled
    std::optional<std::string> dev;  // its device, "major:minor" as /proc/PID/maps has it
    std::shared_ptr<const std::atomic<bool>> returned;
  };
  std::vector<Hung> hung;
  // Where a call was slow (FsWorkerOptions::slow: answered, but late): avoided
  // for the rest of the collection (read_process: for kSlowForget), so a file
  // system answering each call after 1.9 s costs one such call per
  // collection, not one per process.
  struct Slow {
    std::string path;
    std::optional<std::string> dev;
    Clock::time_point at;
  };
  std::vector<Slow> slow;
  Clock::duration waited{};  // this collection's time waited on slow or stalled calls (fs_budget)
  std::uint32_t stalled_now = 0;  // records of this collection left partial by a stall
  FsWorker fs;  // last: destroyed first, while what its helper uses is still there

  Impl(CollectorOptions o, std::shared_ptr<proc::Reader> r, std::int64_t btime, std::size_t budget)
      : options(std::move(o)),
        fs_reader(std::move(r)),
        reader(*fs_reader),
        hash_options{.max_size = options.hash_max_size, .max_entries = options.hash_cache_entries},
        hasher(hash_options),
        boot_time(btime),
        fd_budget(budget),
        fs(FsWorkerOptions{.stall = options.fs_stall, .max_stuck = options.fs_stuck_max, .slow = options.fs_slow}) {}

  struct Read {
    ProcessRecord record;
    Known known;
    proc::Process dir;  // the open /proc/PID, for the caller to keep or close
  };
  // `prev`: what the last collection knew of this pid (its dir is taken), or
  // null. `refresh`: re-read the sticky fields.
  std::expected<Read, osl::Error> read(pid_t pid, Known* prev, bool refresh);

  // The image's stat and on_disk, read on the FsWorker.
  struct Image {
    std::expected<struct ::stat, osl::Error> image;
    std::optional<PathView> ours;  // view_of(path), when this job had to look
    int on_disk = -1;
    int host_on_disk = -1;
  };
  std::expected<Image, FsStalled> image(const proc::Process& p, const std::string& path, bool deleted);
  // The image's sha256, read on the FsWorker on a cache miss; a stall sets `partial`.
  std::string hash(const proc::Process& p, const struct ::stat& image, const std::string& path, bool& partial);
  // Sets k's maps (read, or prev's when its vsize and path are the same)
  // and appends them to out.memory_maps.
  // `turn` is the collection's number (CollectorOptions::maps_reread_every).
  void memory_maps(const proc::Process& p, Known* prev, const ProcessRecord& r, Known& k, std::uint64_t turn,
                   CollectResult& out);
  void stalled(const proc::Process& p, const std::string& path, const FsStalled& s);
  void answered(const proc::Process& p, const std::string& path);
  bool hung_on(const proc::Process& p, const std::string& path);
  void forget_returned() {
    std::erase_if(hung, [](const Hung& h) { return h.returned->load(); });
  }
};

namespace {

// Our own lstat of an exe link's text. Never follows a symlink at the path,
// nor mounts an automount point there: the kernel's path has no symlink in
// its last component, so one found there means the file was replaced,
// whatever it points to.
PathView view_of(const std::string& path) {
  PathView v;
  struct ::stat st{};
  if (::fstatat(AT_FDCWD, path.c_str(), &st, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT) == 0) {
    v.dev = st.st_dev;
    v.ino = st.st_ino;
  } else {
    v.err = errno;
  }
  return v;
}

// 1 when `path` names the running image, 0 when it names nothing or another
// file (a symlink now at the path counts as another file, even one pointing
// to the image), -1 when we cannot tell. `v`: view_of(path).
int on_disk_of(proc::Reader& reader, const proc::Process& p, const std::string& path, const struct ::stat& image,
               const PathView& v) {
  if (v.err == 0 && v.dev == image.st_dev && v.ino == image.st_ino) return 1;
  // The link's text is the path in the process's own view (chroot, container
  // mount namespace): look there before calling the image replaced.
  auto st = reader.stat_in_root(p, path);
  if (st) return (st->st_dev == image.st_dev && st->st_ino == image.st_ino) ? 1 : 0;
  // ELOOP: a symlink in a directory component under its root, which the
  // kernel's path cannot hold either.
  if (st.error().category == osl::ErrorCategory::not_found || st.error().errno_value == ELOOP) {
    return (v.err == 0 || v.err == ENOENT || v.err == ENOTDIR) ? 0 : -1;
  }
  return -1;
}

// 1 when `path` in our (the host's) mount namespace names the running image,
// 0 when it names another file or nothing, -1 when we cannot tell. Unlike
// on_disk, never looked up through the process's root: a file mounted over
// `path` in the process's own mount namespace is on disk there, not here.
int host_on_disk_of(const struct ::stat& image, const PathView& v) {
  if (v.err == 0) return (v.dev == image.st_dev && v.ino == image.st_ino) ? 1 : 0;
  return (v.err == ENOENT || v.err == ENOTDIR) ? 0 : -1;
}

// The device of `path`'s mapping in /proc/PID/maps ("fd:01"; "00:35" for a
// FUSE mount), or nothing when no line maps it or maps cannot be read. The
// kernel writes those lines from its own records (no file system is asked),
// and a device is the same in every mount namespace: a hung server is one
// device however many paths, mounts or containers lead to it.
std::optional<std::string> exe_device(const proc::Process& p, const std::string& path) {
  const osl::UniqueFd maps(::openat(p.dir_fd(), "maps", O_RDONLY | O_CLOEXEC));
  if (!maps) return std::nullopt;
  const std::string deleted = path + " (deleted)";
  std::string buf, line;
  char chunk[16384];
  // The image is mapped among the first lines; a bound, not a guess.
  for (std::size_t total = 0; total < 1024 * 1024;) {
    const ssize_t n = ::read(maps.get(), chunk, sizeof chunk);
    if (n <= 0) return std::nullopt;
    total += static_cast<std::size_t>(n);
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t from = 0;
    for (std::size_t nl; (nl = buf.find('\n', from)) != std::string::npos; from = nl + 1) {
      // start-end perms offset major:minor inode   path
      std::string_view l(buf.data() + from, nl - from);
      std::string_view f[5];
      for (auto& field : f) {
        const auto sp = l.find(' ');
        if (sp == std::string_view::npos) break;
        field = l.substr(0, sp);
        l.remove_prefix(sp + 1);
      }
      const auto at = l.find_first_not_of(' ');
      if (at == std::string_view::npos || f[3].empty()) continue;
      l.remove_prefix(at);
      if (l == path || l == deleted) return std::string(f[3]);
    }
    buf.erase(0, from);
  }
  return std::nullopt;
}

// /proc/PID/stat fields 22 (start time), 48 and 49 (arg_start, arg_end; 0
// when the process is not ours to inspect). An exec gives the process a new
// stack, so arg_start/arg_end change with it (start time does not; it
// changes when the pid is another process).
struct ArgSpan {
  std::uint64_t start_time = 0, arg_start = 0, arg_end = 0;
  bool operator==(const ArgSpan&) const = default;
};
std::optional<ArgSpan> arg_span(const proc::Process& p) {
  const osl::UniqueFd stat(::openat(p.dir_fd(), "stat", O_RDONLY | O_CLOEXEC));
  if (!stat) return std::nullopt;
  char buf[4096];
  const ssize_t len = ::read(stat.get(), buf, sizeof buf);
  if (len <= 0) return std::nullopt;
  std::string_view rest(buf, static_cast<std::size_t>(len));
  const auto paren = rest.rfind(')');
  if (paren == std::string_view::npos || paren + 2 > rest.size()) return std::nullopt;
  rest.remove_prefix(paren + 2);  // field 3 on
  ArgSpan out;
  for (int field = 3; field <= 49 && !rest.empty(); ++field) {
    const auto sp = rest.find_first_of(" \n");
    const std::string_view token = rest.substr(0, sp);
    std::uint64_t* into = field == 22 ? &out.start_time : field == 48 ? &out.arg_start : field == 49 ? &out.arg_end : nullptr;
    if (into != nullptr) std::from_chars(token.data(), token.data() + token.size(), *into);
    rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp + 1);
  }
  return out;
}

// The end of an argv longer than the Reader read (`read` bytes): at most
// its last `n` bytes, never any the Reader already has. Its length is
// arg_end - arg_start; /proc/PID/cmdline is read from there. `follows`:
// the bytes continue the read ones directly (nothing in between). `short_read`:
// fewer bytes came than argv's length promised (argv rewritten meanwhile,
// setproctitle), so the last of them may end inside an argument. Nothing when
// /proc/PID/stat says otherwise after the read than before it (an exec in
// between would join the ends of two argvs).
struct CmdlineTail {
  std::string bytes;
  bool follows = false;
  bool short_read = false;
};
CmdlineTail cmdline_tail(const proc::Process& p, std::size_t read, std::size_t n) {
  const auto before = arg_span(p);
  if (!before) return {};
  const std::uint64_t arg_start = before->arg_start, arg_end = before->arg_end;
  if (arg_end <= arg_start || arg_end - arg_start <= read) return {};
  const std::uint64_t total = arg_end - arg_start;
  const std::uint64_t from = std::max<std::uint64_t>(read, total > n ? total - n : 0);
  const osl::UniqueFd cmdline(::openat(p.dir_fd(), "cmdline", O_RDONLY | O_CLOEXEC));
  if (!cmdline) return {};
  CmdlineTail out;
  out.bytes.resize(static_cast<std::size_t>(total - from));
  const ssize_t got = ::pread(cmdline.get(), out.bytes.data(), out.bytes.size(), static_cast<off_t>(from));
  if (got <= 0) return {};
  if (arg_span(p) != before) return {};
  out.short_read = static_cast<std::size_t>(got) < out.bytes.size();
  out.bytes.resize(static_cast<std::size_t>(got));
  out.follows = from == read;
  return out;
}

}  // namespace

// A file system call on `path` stalled (or was refused): remember where, so
// that later ones there are not even started while it is stuck.
void Collector::Impl::stalled(const proc::Process& p, const std::string& path, const FsStalled& s) {
  ++stalled_now;
  if (!s.returned) return;  // busy: nothing was started
  waited += fs.last_wait();
  hung.push_back(Hung{.path = path, .dev = exe_device(p, path), .returned = s.returned});
}

// A call on `path` returned: a slow one (or one over the budget) is counted,
// and a slow one's place avoided for the rest of the collection.
void Collector::Impl::answered(const proc::Process& p, const std::string& path) {
  if (!fs.last_slow()) return;
  waited += fs.last_wait();
  slow.push_back(Slow{.path = path, .dev = exe_device(p, path), .at = Clock::now()});
}

bool Collector::Impl::hung_on(const proc::Process& p, const std::string& path) {
  if (waited >= options.fs_budget) return true;  // this collection waited enough: no more calls
  if (hung.empty() && slow.empty()) return false;  // maps is read only while something is avoided
  std::optional<std::optional<std::string>> dev;
  auto same = [&](const std::string& where, const std::optional<std::string>& where_dev) {
    if (where == path) return true;
    if (!where_dev) return false;
    if (!dev) dev = exe_device(p, path);
    return *dev == where_dev;
  };
  return std::any_of(hung.begin(), hung.end(), [&](const Hung& h) { return same(h.path, h.dev); }) ||
         std::any_of(slow.begin(), slow.end(), [&](const Slow& h) { return same(h.path, h.dev); });
}

std::expected<Collector::Impl::Image, FsStalled> Collector::Impl::image(const proc::Process& p, const std::string& path,
                                                                       bool deleted) {
  if (hung_on(p, path)) {
    ++stalled_now;
    return std::unexpected(FsStalled{.busy = true, .returned = nullptr});
  }
  osl::UniqueFd dup(::fcntl(p.dir_fd(), F_DUPFD_CLOEXEC, 0));
  if (!dup) {
    return Image{.image = std::unexpected(osl::Error::from_errno(errno, "dup /proc/PID")), .ours = {}, .on_disk = -1,
                 .host_on_disk = -1};
  }
  std::optional<PathView> known_view;
  if (auto it = paths.find(path); it != paths.end()) known_view = it->second;
  auto got = fs.run<Image>([reader = fs_reader, dir = proc::Process(p.pid(), std::move(dup)), path, deleted,
                            known_view](FsWorker::Progress&) {
    Image out{.image = reader->exe_stat(dir), .ours = {}, .on_disk = -1, .host_on_disk = -1};
    if (!out.image || deleted) {
      out.on_disk = out.host_on_disk = out.image ? 0 : -1;
      return out;
    }
    const PathView v = known_view ? *known_view : view_of(path);
    if (!known_view) out.ours = v;
    out.on_disk = on_disk_of(*reader, dir, path, *out.image, v);
    out.host_on_disk = host_on_disk_of(*out.image, v);
    return out;
  });
  if (!got) {
    stalled(p, path, got.error());
    return std::unexpected(std::move(got.error()));
  }
  answered(p, path);
  if (got->ours) paths.emplace(path, *got->ours);
  return got;
}

std::string Collector::Impl::hash(const proc::Process& p, const struct ::stat& image, const std::string& path,
                                  bool& partial) {
  if (auto hit = hasher.cached(image)) return std::move(*hit);
  if (hung_on(p, path)) {
    partial = true;
    ++stalled_now;
    return {};
  }
  if (!hasher.may_read(static_cast<std::uint64_t>(image.st_size))) return {};
  osl::UniqueFd dup(::fcntl(p.dir_fd(), F_DUPFD_CLOEXEC, 0));
  if (!dup) return hasher.record(ImageRead{});
  auto got = fs.run<ImageRead>([reader = fs_reader, dir = proc::Process(p.pid(), std::move(dup)),
                                opts = hash_options](FsWorker::Progress& progress) {
    auto fd = reader->open_exe(dir);
    if (!fd) return ImageRead{};
    return read_image(fd->get(), opts, &progress);
  });
  if (!got) {
    partial = true;
    stalled(p, path, got.error());
    return {};
  }
  answered(p, path);
  return hasher.record(*got);
}

std::expected<Collector::Impl::Read, osl::Error> Collector::Impl::read(pid_t pid, Known* prev, bool refresh) {
  Read out;
  Known& k = out.known;
  if (prev && prev->dir.valid()) {
    out.dir = prev->dir.take();
  } else {
    auto opened = reader.open_process(pid);
    if (!opened) return std::unexpected(std::move(opened.error()));
    out.dir = std::move(*opened);
  }
  const proc::Process& p = out.dir;
  auto st = reader.stat(p);
  if (!st) return std::unexpected(std::move(st.error()));
  // Without a kept directory fd the pid may have been reused since.
  if (prev && prev->start_ticks != st->starttime) prev = nullptr;
  const bool reuse = prev && prev->sticky && !refresh;

  ProcessRecord& r = out.record;
  r.pid = st->pid;
  r.parent = st->ppid;
  r.pgroup = st->pgrp;
  r.sid = st->session;
  r.name = st->comm;
  r.state.assign(1, st->state);
  r.nice = st->nice;
  r.threads = st->num_threads;
  r.start_ticks = st->starttime;
  r.start_time = boot_time + static_cast<std::int64_t>(st->starttime / static_cast<std::uint64_t>(hz));
  r.user_time = ticks_to_ms(st->utime, hz);
  r.system_time = ticks_to_ms(st->stime, hz);
  r.resident_size = st->rss * page;
  r.total_size = static_cast<std::int64_t>(st->vsize);
  r.tty = proc::tty_name(st->tty_nr);
  k.start_ticks = st->starttime;
  k.cpu_ticks = st->utime + st->stime;
  k.at = Clock::now();  // a vDSO read, not a system call
  const bool kthread = st->kernel_thread();
  bool zombie = st->zombie();
  bool sticky_complete = true;

  // A read of one file failed. Permission: the field stays unknown, the
  // record is partial. Not found: either the process is gone (the whole
  // record is dropped), or it just became a zombie, or (`may_be_absent`)
  // this kernel has no such file.
  auto failed = [&](const osl::Error& e, bool may_be_absent) -> std::optional<osl::Error> {
    if (e.category != osl::ErrorCategory::not_found) {
      r.partial = true;
      return std::nullopt;
    }
    auto again = reader.stat(p);
    if (!again) {
      if (again.error().category == osl::ErrorCategory::not_found) return again.error();
      r.partial = true;
      return std::nullopt;
    }
    if (again->zombie()) {
      zombie = true;
      r.state.assign(1, again->state);
    } else if (!may_be_absent) {
      r.partial = true;
    }
    return std::nullopt;
  };

  if (auto s = reader.status(p)) {
    r.uid = s->uid.real;
    r.euid = s->uid.effective;
    r.suid = s->uid.saved;
    r.gid = s->gid.real;
    r.egid = s->gid.effective;
    r.sgid = s->gid.saved;
    r.username = users.name(static_cast<uid_t>(s->uid.real));
  } else if (auto gone = failed(s.error(), false)) {
    return std::unexpected(std::move(*gone));
  }

  if (auto io = reader.io(p)) {
    r.disk_bytes_read = static_cast<std::int64_t>(io->read_bytes);
    r.disk_bytes_written = static_cast<std::int64_t>(io->write_bytes);
  } else if (auto gone = failed(io.error(), true)) {
    return std::unexpected(std::move(*gone));
  }

  if (reuse) {
    r.cgroup_path = prev->cgroup_path;
    r.auid = prev->auid;
    r.root = prev->root;
    r.root_is_host = prev->root_is_host;
  } else {
    if (auto cg = reader.cgroup(p)) {
      r.cgroup_path = std::move(*cg);
    } else if (auto gone = failed(cg.error(), true)) {
      return std::unexpected(std::move(*gone));
    } else {
      sticky_complete = false;
    }
    if (auto luid = reader.loginuid(p)) {
      r.auid = *luid;
    } else if (auto gone = failed(luid.error(), true)) {
      return std::unexpected(std::move(*gone));
    } else {
      sticky_complete = false;
    }
    if (auto l = reader.link(p, proc::LinkKind::root)) {
      r.root = std::move(l->path);
      r.root_is_host = root_is_host_of(p, host_root);
      if (r.root_is_host < 0) sticky_complete = false;
    } else if (auto gone = failed(l.error(), zombie)) {
      return std::unexpected(std::move(*gone));
    } else {
      sticky_complete = false;
    }
  }
  r.container_id = container_id_from_cgroup(r.cgroup_path);

  if (!kthread && !zombie) {
    if (auto c = reader.cmdline(p)) {
      // Too long to read whole: its end is read apart, so that padding
      // cannot push it out of the column.
      CmdlineTail tail;
      if (c->truncated) tail = cmdline_tail(p, c->args.size(), options.cmdline_max / 2);
      if (tail.short_read && !tail.follows) {
        // Its last argument may be cut (a URL before its '@'): only whole ones.
        const auto nul = tail.bytes.rfind('\0');
        tail.bytes.resize(nul == std::string::npos ? 0 : nul + 1);
      }
      if (tail.bytes.empty()) {
        r.cmdline = cmdline_column(c->args, c->truncated, options.cmdline_max);
      } else if (tail.follows) {
        // Nothing missing in between: one argv, redacted whole (as a cut one
        // when the read came short).
        c->args += tail.bytes;
        r.cmdline = cmdline_column(c->args, tail.short_read, options.cmdline_max);
      } else {
        r.cmdline = cmdline_column_cut(c->args, tail.bytes, options.cmdline_max);
      }
    } else if (auto gone = failed(c.error(), false)) {
      return std::unexpected(std::move(*gone));
    }
  }

  // The exe link is read every time: a changed text is how an exec shows.
  // The image's fstat and on_disk are reused while the text and the image's
  // dev+ino are unchanged.
  if (!kthread && !zombie) {
    if (auto l = reader.link(p, proc::LinkKind::exe)) {
      const bool same_text =
          prev && !refresh && prev->have_image && prev->exe_text == l->path && prev->exe_deleted == l->deleted;
      // The same text is not the same file: a file mounted over the path
      // and exec'd by the same pid (unshare -Urm; mount --bind PAYLOAD
      // /usr/bin/bash; exec /usr/bin/bash) keeps it. statx with
      // AT_STATX_DONT_SYNC of the magic link: the inode's cached
      // attributes, no file system asked, no path walked.
      const auto now_id = same_text ? dir_id(p.dir_fd(), "exe") : std::nullopt;
      const bool same = same_text && now_id && now_id->dev == static_cast<std::uint64_t>(prev->image.st_dev) &&
                        now_id->ino == static_cast<std::uint64_t>(prev->image.st_ino);
      if (same) {
        k.image = prev->image;
        k.on_disk = prev->on_disk;
        k.host_on_disk = prev->host_on_disk;
        k.have_image = true;
      } else if (auto img = image(p, l->path, l->deleted); !img) {
        r.partial = true;  // its file system did not answer: path known, image unknown
      } else if (img->image) {
        k.image = *img->image;
        k.have_image = true;
        k.on_disk = img->on_disk;
        k.host_on_disk = img->host_on_disk;
      } else if (auto gone = failed(img->image.error(), false)) {
        return std::unexpected(std::move(*gone));
      }
      // Another image (another text, or another file under the same text):
      // an exec. Its root is read again too (it is sticky between refresh
      // turns): a runtime's child chroots before its exec, the mount that
      // made a same-text one may have come with a chroot, and the exec event
      // the poll diff makes of this record carries root_is_host.
      if (reuse && !same) {
        if (auto rl = reader.link(p, proc::LinkKind::root)) r.root = std::move(rl->path);
        r.root_is_host = root_is_host_of(p, host_root);
      }
      k.exe_text = l->path;
      k.exe_deleted = l->deleted;
      r.path = std::move(l->path);
    } else if (auto gone = failed(l.error(), false)) {
      return std::unexpected(std::move(*gone));
    }
  }

  if (auto l = reader.link(p, proc::LinkKind::cwd)) {
    r.cwd = std::move(l->path);
  } else if (auto gone = failed(l.error(), zombie)) {
    return std::unexpected(std::move(*gone));
  }

  if (k.have_image && !zombie) {
    r.exe_dev = static_cast<std::uint64_t>(k.image.st_dev);
    r.exe_ino = static_cast<std::uint64_t>(k.image.st_ino);
    r.on_disk = k.on_disk;
    r.host_on_disk = k.host_on_disk;
    if (options.hash) r.sha256 = hash(p, k.image, k.exe_text, r.partial);
  }
  if (zombie) {
    // Whatever was read before it died is not its image any more.
    r.path.clear();
    r.cmdline.clear();
    r.exe_dev = r.exe_ino = 0;
    r.sha256.clear();
    r.on_disk = r.host_on_disk = -1;
    k.have_image = false;
  }
  k.sticky = reuse || sticky_complete;
  k.cgroup_path = r.cgroup_path;
  k.auid = r.auid;
  k.root = r.root;
  k.root_is_host = r.root_is_host;
  return out;
}

Collector::Collector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Collector::~Collector() = default;

std::expected<std::unique_ptr<Collector>, osl::Error> Collector::create(CollectorOptions options) {
  // The reader reads up to 4x the column's size so that redaction sees whole
  // values; the column is cut afterwards.
  proc::ReaderOptions ro{.proc_root = options.proc_root,
                         .cmdline_max = std::max<std::size_t>(options.cmdline_max * 4, 4096)};
  auto reader = proc::Reader::open(std::move(ro));
  if (!reader) return std::unexpected(std::move(reader.error()));
  auto btime = reader->boot_time();
  if (!btime) return std::unexpected(std::move(btime.error()));
  std::size_t budget = 0;
  if (options.keep_open) {
    budget = *options.keep_open;
  } else if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    // Half: the other half is for everything else the process opens.
    budget = static_cast<std::size_t>(rl.rlim_cur / 2);
  } else {
    budget = 65536;
  }
  return std::unique_ptr<Collector>(
      new Collector(std::make_unique<Impl>(std::move(options), std::make_shared<proc::Reader>(std::move(*reader)),
                                           *btime, budget)));
}

std::expected<ProcessRecord, osl::Error> Collector::read_process(pid_t pid) {
  impl_->paths.clear();
  impl_->host_root = dir_id(AT_FDCWD, "/");
  impl_->forget_returned();
  // One process per call (the event thread's): a slow place is avoided for
  // kSlowForget instead of for the rest of a collection.
  std::erase_if(impl_->slow, [](const Impl::Slow& s) { return Clock::now() - s.at >= kSlowForget; });
  impl_->waited = {};
  auto r = impl_->read(pid, nullptr, true);
  if (!r) return std::unexpected(std::move(r.error()));
  return std::move(r->record);
}

int Collector::root_is_host(pid_t pid, std::uint64_t start_ticks) {
  auto p = impl_->reader.open_process(pid);
  if (!p) return -1;
  // The directory fd pins the process it was opened for (lookups under it
  // fail once it is reaped), so a statx that succeeded is that process's.
  const int is_host = root_is_host_of(*p, dir_id(AT_FDCWD, "/"));
  if (is_host < 0) return -1;
  if (start_ticks != 0) {
    auto st = impl_->reader.stat(*p);
    if (!st || st->starttime != start_ticks) return -1;  // the pid is another process's now
  }
  return is_host;
}

void Collector::Impl::memory_maps(const proc::Process& p, Known* prev, const ProcessRecord& r, Known& k,
                                  std::uint64_t turn, CollectResult& out) {
  int maps_dir = p.dir_fd();
  std::int64_t vsize = r.total_size;
  std::optional<LiveThread> live;
  // A zombie leader with threads left: the address space is theirs to show
  // (memory_map.hpp, live_thread).
  if (r.state == "Z" && (live = live_thread(p.dir_fd(), static_cast<std::int32_t>(r.pid)))) {
    maps_dir = live->dir.get();
    vsize = live->vsize;
  }
  if (vsize <= 0) return;  // a kernel thread or a zombie: no address space
  const std::uint32_t every = options.maps_reread_every;
  const bool its_turn = every > 0 && static_cast<std::uint64_t>(r.pid) % every == turn % every;
  if (prev && prev->maps_read && prev->maps_vsize == vsize && prev->maps_path == r.path && !its_turn) {
    k.maps = std::move(prev->maps);
    k.maps_read = true;
  } else {
    // The maps read takes the process's mmap lock: not every collection.
    MapsRead got = read_executable_maps(maps_dir, static_cast<std::int32_t>(r.pid));
    ++out.stats.maps_reads;
    if (!got.ok) ++out.stats.maps_unreadable;
    if (got.cut_bytes || got.cut_rows) ++out.stats.maps_cut;
    k.maps = std::move(got.rows);
    k.maps_read = got.ok;  // not read: tried again next collection
  }
  k.maps_vsize = vsize;
  k.maps_path = r.path;
  out.memory_maps.insert(out.memory_maps.end(), k.maps.begin(), k.maps.end());
}

std::expected<CollectResult, osl::Error> Collector::collect() {
  Impl& m = *impl_;
  const auto t0 = Clock::now();
  CollectResult out;
  out.time = static_cast<std::int64_t>(std::time(nullptr));
  if (auto listed = m.reader.list_pids(m.pids); !listed) return std::unexpected(std::move(listed.error()));
  if (t0 - m.users_since > kUserNamesRefresh) {
    m.users.clear();
    m.users_since = t0;
  }
  m.paths.clear();
  m.host_root = dir_id(AT_FDCWD, "/");
  m.forget_returned();
  m.slow.clear();
  m.waited = {};
  m.stalled_now = 0;
  m.hasher.begin_collection();
  m.users.begin_collection();
  m.sockets.begin();
  Clock::duration socket_time{};
  Clock::duration maps_time{};
  const std::uint64_t turn = m.collections++;
  out.processes.reserve(m.pids.size());
  std::unordered_map<pid_t, Known> now;
  now.reserve(m.pids.size());
  for (pid_t pid : m.pids) {
    auto prev_it = m.known.find(pid);
    Known* prev = prev_it == m.known.end() ? nullptr : &prev_it->second;
    const bool refresh = (static_cast<std::uint64_t>(pid) + turn) % Impl::kRefreshEvery == 0;
    auto got = m.read(pid, prev, refresh);
    if (!got && got.error().category == osl::ErrorCategory::not_found && prev) {
      // The process we knew is gone; its pid may already name a new one.
      got = m.read(pid, nullptr, true);
    }
    if (!got && got.error().category == osl::ErrorCategory::resource_exhausted && m.fd_budget > 0) {
      // Out of file descriptors (the budget was more than this process can
      // spare): keep none from now on, release what is kept, try again.
      m.fd_budget = 0;
      for (auto& [_, k] : now) k.dir.release();
      for (auto& [_, k] : m.known) k.dir.release();
      got = m.read(pid, prev, refresh);
    }
    if (!got) {
      if (got.error().category == osl::ErrorCategory::not_found) ++out.stats.vanished;
      else ++out.stats.failed;
      continue;
    }
    ProcessRecord& r = got->record;
    Known& k = got->known;
    if (prev && prev->start_ticks == k.start_ticks) {
      const double wall = std::chrono::duration<double>(k.at - prev->at).count();
      if (wall > 0 && k.cpu_ticks >= prev->cpu_ticks) {
        const double cpu = static_cast<double>(k.cpu_ticks - prev->cpu_ticks) / static_cast<double>(m.hz);
        r.cpu_percent = cpu / wall * 100.0;
      }
    }
    if (m.options.sockets) {
      const auto s0 = Clock::now();
      m.sockets.read(m.reader, got->dir, out.sockets);
      socket_time += Clock::now() - s0;
    }
    if (m.options.memory_maps) {
      const auto s0 = Clock::now();
      m.memory_maps(got->dir, prev && prev->start_ticks == k.start_ticks ? prev : nullptr, r, k, turn, out);
      maps_time += Clock::now() - s0;
    }
    k.dir = KeptDir::keep(std::move(got->dir), m.fd_budget);  // over budget: closed, opened again next time
    now.emplace(pid, std::move(k));
    if (r.partial) ++out.stats.partial;
    out.processes.push_back(std::move(r));
  }
  m.known.swap(now);  // what is left in `now` has gone: its directory fds close here
  if (m.options.sockets) {
    // Sockets held in another namespace than their process's (unshare -n
    // after opening them) are looked up in every namespace read.
    const auto s0 = Clock::now();
    m.sockets.finish(m.reader, out.sockets);
    socket_time += Clock::now() - s0;
  }
  out.stats.total = static_cast<std::uint32_t>(out.processes.size());
  out.stats.stalled = m.stalled_now;
  out.stats.stuck_threads = static_cast<std::uint32_t>(m.fs.stuck());
  for (const auto& h : m.hung) {
    if (std::find(out.stalled_on.begin(), out.stalled_on.end(), h.path) == out.stalled_on.end())
      out.stalled_on.push_back(h.path);
  }
  out.stats.sockets = m.sockets.stats();
  out.stats.sockets_us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(socket_time).count());
  out.stats.maps_us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(maps_time).count());
  out.stats.elapsed_us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  return out;
}

const HashStats& Collector::hash_stats() const noexcept { return impl_->hasher.stats(); }

}  // namespace airssys::daemoneye
