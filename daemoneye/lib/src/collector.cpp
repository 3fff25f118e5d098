#include <airssys/daemoneye/collector.hpp>

#include <airssys/daemoneye/container_id.hpp>
#include <airssys/daemoneye/redact.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/osl/proc.hpp>

#include "user_names.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <unordered_map>

namespace airssys::daemoneye {

namespace proc = osl::proc;
using osl::Error;
using osl::ErrorCategory;
using Clock = std::chrono::steady_clock;

namespace {

struct Identity {
  std::int64_t pid;
  std::uint64_t start_ticks;
  bool operator==(const Identity&) const = default;
};

struct IdentityHash {
  std::size_t operator()(const Identity& k) const noexcept {
    return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.pid) * 0x9e3779b97f4a7c15ull ^ k.start_ticks);
  }
};

struct CpuSample {
  std::uint64_t ticks = 0;
  Clock::time_point at;
};

// Our own view of a path: stat result (errno or dev+ino), remembered for
// one collection because many processes run the same few binaries.
struct PathView {
  int err = 0;
  dev_t dev = 0;
  ino_t ino = 0;
};

constexpr auto kUserNamesRefresh = std::chrono::minutes(5);

}  // namespace

struct Collector::Impl {
  CollectorOptions options;
  proc::Reader reader;
  ExeHasher hasher;
  UserNames users;
  Clock::time_point users_since = Clock::now();
  std::int64_t boot_time = 0;
  long hz = proc::clock_ticks_per_second();
  long page = proc::page_size();
  std::vector<pid_t> pids;
  std::unordered_map<Identity, CpuSample, IdentityHash> cpu_prev;
  std::unordered_map<std::string, PathView> paths;  // this collection's stat() of exe paths

  Impl(CollectorOptions o, proc::Reader r, std::int64_t btime)
      : options(std::move(o)),
        reader(std::move(r)),
        hasher(ExeHasherOptions{.max_size = options.hash_max_size, .max_entries = options.hash_cache_entries}),
        boot_time(btime) {}

  struct Read {
    ProcessRecord record;
    std::uint64_t cpu_ticks = 0;
  };
  std::expected<Read, Error> read(pid_t pid);
  int on_disk(const proc::Process& p, const std::string& path, const struct ::stat& image);
};

namespace {

std::int64_t ticks_to_ms(std::uint64_t ticks, long hz) {
  return static_cast<std::int64_t>(ticks * 1000 / static_cast<std::uint64_t>(hz));
}

}  // namespace

// 1 when `path` names the running image, 0 when it names nothing or another
// file, -1 when we cannot tell.
int Collector::Impl::on_disk(const proc::Process& p, const std::string& path, const struct ::stat& image) {
  auto [it, fresh] = paths.try_emplace(path);
  PathView& v = it->second;
  if (fresh) {
    struct ::stat st{};
    if (::stat(path.c_str(), &st) == 0) {
      v.dev = st.st_dev;
      v.ino = st.st_ino;
    } else {
      v.err = errno;
    }
  }
  if (v.err == 0 && v.dev == image.st_dev && v.ino == image.st_ino) return 1;
  // The link's text is the path in the process's own view (chroot, container
  // mount namespace): look there before calling the image replaced.
  auto st = reader.stat_in_root(p, path);
  if (st) return (st->st_dev == image.st_dev && st->st_ino == image.st_ino) ? 1 : 0;
  if (st.error().category == ErrorCategory::not_found) return (v.err == 0 || v.err == ENOENT || v.err == ENOTDIR) ? 0 : -1;
  return -1;
}

std::expected<Collector::Impl::Read, Error> Collector::Impl::read(pid_t pid) {
  auto p = reader.open_process(pid);
  if (!p) return std::unexpected(std::move(p.error()));
  auto st = reader.stat(*p);
  if (!st) return std::unexpected(std::move(st.error()));

  Read out;
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
  out.cpu_ticks = st->utime + st->stime;
  const bool kthread = st->kernel_thread();
  bool zombie = st->zombie();

  // A read of one file failed. Permission: the field stays unknown, the
  // record is partial. Not found: either the process is gone (the whole
  // record is dropped), or it just became a zombie, or (`may_be_absent`)
  // this kernel has no such file.
  auto failed = [&](const Error& e, bool may_be_absent) -> std::optional<Error> {
    if (e.category != ErrorCategory::not_found) {
      r.partial = true;
      return std::nullopt;
    }
    auto again = reader.stat(*p);
    if (!again) {
      if (again.error().category == ErrorCategory::not_found) return again.error();
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

  if (auto s = reader.status(*p)) {
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

  if (auto io = reader.io(*p)) {
    r.disk_bytes_read = static_cast<std::int64_t>(io->read_bytes);
    r.disk_bytes_written = static_cast<std::int64_t>(io->write_bytes);
  } else if (auto gone = failed(io.error(), true)) {
    return std::unexpected(std::move(*gone));
  }

  if (auto cg = reader.cgroup(*p)) {
    r.cgroup_path = std::move(*cg);
    r.container_id = container_id_from_cgroup(r.cgroup_path);
  } else if (auto gone = failed(cg.error(), true)) {
    return std::unexpected(std::move(*gone));
  }

  if (auto luid = reader.loginuid(*p)) {
    r.auid = *luid;
  } else if (auto gone = failed(luid.error(), true)) {
    return std::unexpected(std::move(*gone));
  }

  if (!kthread && !zombie) {
    if (auto c = reader.cmdline(*p)) {
      auto args = proc::split_args(c->args);
      // setproctitle() leaves NUL padding. A URL cut before its '@' would
      // escape redaction (every other rule masks a partial value), so a cut
      // last argument holding "://" goes.
      while (!args.empty() && args.back().empty()) args.pop_back();
      if (c->truncated && !args.empty() && args.back().find("://") != std::string_view::npos) args.pop_back();
      r.cmdline = redact_cmdline(args);
      truncate_utf8(r.cmdline, options.cmdline_max);
    } else if (auto gone = failed(c.error(), false)) {
      return std::unexpected(std::move(*gone));
    }
  }

  std::optional<struct ::stat> image;
  bool deleted = false;
  if (!kthread && !zombie) {
    if (auto l = reader.link(*p, proc::LinkKind::exe)) {
      r.path = std::move(l->path);
      deleted = l->deleted;
      if (auto es = reader.exe_stat(*p)) {
        image = *es;
        r.exe_dev = static_cast<std::uint64_t>(es->st_dev);
        r.exe_ino = static_cast<std::uint64_t>(es->st_ino);
      } else if (auto gone = failed(es.error(), false)) {
        return std::unexpected(std::move(*gone));
      }
    } else if (auto gone = failed(l.error(), false)) {
      return std::unexpected(std::move(*gone));
    }
  }

  for (auto [kind, field] : {std::pair{proc::LinkKind::cwd, &r.cwd}, std::pair{proc::LinkKind::root, &r.root}}) {
    if (auto l = reader.link(*p, kind)) {
      *field = std::move(l->path);
    } else if (auto gone = failed(l.error(), zombie)) {
      return std::unexpected(std::move(*gone));
    }
  }

  if (image && !zombie) {
    r.on_disk = deleted ? 0 : on_disk(*p, r.path, *image);
    if (options.hash) r.sha256 = hasher.hash(reader, *p, &*image);
  }
  if (zombie) {
    // Whatever was read before it died is not its image any more.
    r.path.clear();
    r.cmdline.clear();
    r.exe_dev = r.exe_ino = 0;
    r.sha256.clear();
    r.on_disk = -1;
  }
  return out;
}

Collector::Collector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Collector::~Collector() = default;

std::expected<std::unique_ptr<Collector>, Error> Collector::create(CollectorOptions options) {
  // The reader reads up to 4x the column's size so that redaction sees whole
  // values; the column is cut afterwards.
  proc::ReaderOptions ro{.proc_root = options.proc_root,
                         .cmdline_max = std::max<std::size_t>(options.cmdline_max * 4, 4096)};
  auto reader = proc::Reader::open(std::move(ro));
  if (!reader) return std::unexpected(std::move(reader.error()));
  auto btime = reader->boot_time();
  if (!btime) return std::unexpected(std::move(btime.error()));
  return std::unique_ptr<Collector>(new Collector(std::make_unique<Impl>(std::move(options), std::move(*reader), *btime)));
}

std::expected<ProcessRecord, Error> Collector::read_process(pid_t pid) {
  impl_->paths.clear();
  auto r = impl_->read(pid);
  if (!r) return std::unexpected(std::move(r.error()));
  return std::move(r->record);
}

std::expected<CollectResult, Error> Collector::collect() {
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
  out.processes.reserve(m.pids.size());
  std::unordered_map<Identity, CpuSample, IdentityHash> cpu_now;
  cpu_now.reserve(m.pids.size());
  for (pid_t pid : m.pids) {
    auto got = m.read(pid);
    if (!got) {
      if (got.error().category == ErrorCategory::not_found) ++out.stats.vanished;
      else ++out.stats.failed;
      continue;
    }
    ProcessRecord& r = got->record;
    const Identity id{r.pid, r.start_ticks};
    if (auto prev = m.cpu_prev.find(id); prev != m.cpu_prev.end()) {
      const double wall = std::chrono::duration<double>(t0 - prev->second.at).count();
      if (wall > 0 && got->cpu_ticks >= prev->second.ticks) {
        const double cpu = static_cast<double>(got->cpu_ticks - prev->second.ticks) / static_cast<double>(m.hz);
        r.cpu_percent = cpu / wall * 100.0;
      }
    }
    cpu_now.emplace(id, CpuSample{got->cpu_ticks, t0});
    if (r.partial) ++out.stats.partial;
    out.processes.push_back(std::move(r));
  }
  m.cpu_prev.swap(cpu_now);
  out.stats.total = static_cast<std::uint32_t>(out.processes.size());
  out.stats.elapsed_us =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count());
  return out;
}

const HashStats& Collector::hash_stats() const noexcept { return impl_->hasher.stats(); }

}  // namespace airssys::daemoneye
