// The eBPF tier (kernel_events.hpp): loads procmond's programs
// (daemoneye/procmond/bpf/procmon.bpf.c, through the skeleton bpftool
// generates at build time) and reads their ring buffer.

#include <airssys/daemoneye/kernel_events.hpp>

#ifdef AIRSSYS_DAEMONEYE_EBPF

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <linux/capability.h>
#include <pthread.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <vector>

// The generated skeleton and the record layout it shares with the programs.
#include "capabilities.hpp"
#include "procmon.skel.h"
#include "procmon_event.h"

namespace airssys::daemoneye {
namespace {

// libbpf reports through one process-wide print callback; while a load is
// under way its messages (the verifier's log among them) are kept here so
// the error can say what the kernel refused. Guarded: loads may run on any
// thread.
std::mutex g_log_mutex;
std::string* g_log = nullptr;

[[gnu::format(printf, 2, 0)]] int keep_libbpf_message(enum libbpf_print_level level, const char* format,
                                                      va_list args) {
  if (level == LIBBPF_DEBUG || g_log == nullptr) return 0;
  // The verifier's log arrives as one message of many lines: keep it whole
  // (up to 1 MiB in all).
  va_list copy;
  va_copy(copy, args);
  const int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0 || g_log->size() + static_cast<std::size_t>(n) > (1u << 20)) return 0;
  const std::size_t at = g_log->size();
  g_log->resize(at + static_cast<std::size_t>(n) + 1);
  std::vsnprintf(g_log->data() + at, static_cast<std::size_t>(n) + 1, format, args);
  g_log->resize(at + static_cast<std::size_t>(n));
  return 0;
}

class LogCapture {
 public:
  LogCapture() : lock_(g_log_mutex) {
    g_log = &text_;
    previous_ = libbpf_set_print(keep_libbpf_message);
  }
  ~LogCapture() {
    libbpf_set_print(previous_);
    g_log = nullptr;
  }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  // Forgets what was said so far: each load's error names its own cause,
  // not an earlier load's verifier log.
  void clear() { text_.clear(); }
  // The verifier's verdict when its log is in what libbpf said (the last
  // line of the log that is not a statistic), else libbpf's last lines.
  [[nodiscard]] std::string verdict() const {
    const auto begin = text_.rfind("-- BEGIN PROG LOAD LOG --");
    const auto end = text_.rfind("-- END PROG LOAD LOG --");
    if (begin != std::string::npos && end != std::string::npos && end > begin) {
      std::string last;
      std::size_t pos = text_.find('\n', begin);
      while (pos != std::string::npos && pos < end) {
        const std::size_t next = text_.find('\n', pos + 1);
        std::string line = text_.substr(pos + 1, std::min(next, end) - pos - 1);
        if (!line.empty() && !line.starts_with("processed ") && !line.starts_with("verification time") &&
            !line.starts_with("stack depth") && !line.starts_with("--")) {
          last = std::move(line);
        }
        pos = next;
      }
      if (!last.empty()) return "the verifier rejected a program: " + last;
    }
    return tail(3);
  }

  [[nodiscard]] std::string tail(std::size_t lines) const {
    std::size_t pos = text_.size();
    while (pos > 0 && text_[pos - 1] == '\n') --pos;
    std::size_t end = pos;
    for (std::size_t i = 0; i < lines && pos > 0; ++i) {
      pos = text_.rfind('\n', pos - 1);
      if (pos == std::string::npos) {
        pos = 0;
        break;
      }
    }
    std::string out = text_.substr(pos, end - pos);
    while (!out.empty() && out.front() == '\n') out.erase(0, 1);
    for (char& c : out) {
      if (c == '\n') c = ' ';
    }
    return out;
  }

 private:
  std::lock_guard<std::mutex> lock_;
  std::string text_;
  libbpf_print_fn_t previous_ = nullptr;
};

struct SkeletonDeleter {
  void operator()(procmon_bpf* s) const noexcept { procmon_bpf__destroy(s); }
};
struct RingBufferDeleter {
  void operator()(ring_buffer* r) const noexcept { ring_buffer__free(r); }
};

std::string errno_text(int err) { return std::strerror(err < 0 ? -err : err); }

// libbpf returns -errno; the message already says what failed and why.
std::unexpected<Error> failed(ErrorCategory c, int err, std::string message) {
  return std::unexpected(Error{c, err < 0 ? -err : err, std::move(message)});
}

using Skeleton = std::unique_ptr<procmon_bpf, SkeletonDeleter>;

class EbpfSource final : public KernelEventSource {
 public:
  EbpfSource(Skeleton skel, std::int64_t ticks_per_second, std::string limits)
      : skel_(std::move(skel)), ns_per_tick_(1'000'000'000 / ticks_per_second), limits_(std::move(limits)) {}

  Result<void> start() {
    ring_.reset(ring_buffer__new(bpf_map__fd(skel_->maps.events), &EbpfSource::on_record, this, nullptr));
    if (!ring_) return fail_errno(errno, "opening the ring buffer failed");
    return {};
  }

  [[nodiscard]] EventSource kind() const noexcept override { return EventSource::ebpf; }
  [[nodiscard]] int fd() const noexcept override { return ring_buffer__epoll_fd(ring_.get()); }
  [[nodiscard]] std::string limits() const override { return limits_; }

  Result<std::size_t> drain(const std::function<void(KernelEvent&&)>& sink) override {
    sink_ = &sink;
    count_ = 0;
    offset_ns_ = boot_to_unix_offset_ns();
    const int r = ring_buffer__consume(ring_.get());
    sink_ = nullptr;
    if (r < 0 && r != -EINTR) return fail_errno(-r, "reading the ring buffer failed");
    return count_;
  }

  [[nodiscard]] std::uint64_t lost() const noexcept override {
    const int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return 0;
    std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(cpus));
    const std::uint32_t zero = 0;
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.lost), &zero, per_cpu.data()) != 0) return 0;
    std::uint64_t sum = 0;
    for (auto v : per_cpu) sum += v;
    return sum;
  }

 private:
  static int on_record(void* ctx, void* data, std::size_t size) {
    static_cast<EbpfSource*>(ctx)->record(static_cast<const char*>(data), size);
    return 0;
  }

  void record(const char* data, std::size_t size) {
    procmon_event e{};
    if (size < sizeof e) return;
    std::memcpy(&e, data, sizeof e);
    const std::size_t body = size - sizeof e;
    if (std::size_t{e.path_size} + e.exe_size + e.cwd_size + e.fs_path_size + e.args_size > body) {
      return;  // never happens with our programs
    }
    KernelEvent k;
    switch (e.kind) {
      case PROCMON_EXEC: k.kind = KernelEvent::Kind::exec; break;
      case PROCMON_FORK: k.kind = KernelEvent::Kind::fork; break;
      case PROCMON_EXIT: k.kind = KernelEvent::Kind::exit; break;
      default: return;
    }
    k.pid = e.pid;
    k.ppid = e.ppid;
    k.uid = e.uid;
    k.gid = e.gid;
    k.euid = e.euid;
    k.egid = e.egid;
    k.auid = e.loginuid;
    k.cgroup_id = e.cgroup_id;
    k.time_ns = static_cast<std::int64_t>(e.boot_ns) + offset_ns_;
    k.start_ticks = e.start_boottime / static_cast<std::uint64_t>(ns_per_tick_);
    k.comm.assign(e.comm, strnlen(e.comm, sizeof e.comm));
    const char* path = data + sizeof e;
    k.path.assign(path, strnlen(path, e.path_size));
    const char* exe = path + e.path_size;
    if (e.kind == PROCMON_EXEC) {
      if (!(e.flags & PROCMON_EXE_TRUNCATED)) k.exe_path.assign(exe, strnlen(exe, e.exe_size));
      k.exe_deleted = (e.flags & PROCMON_EXE_DELETED) != 0;
      k.exe_interpreted = (e.flags & PROCMON_EXE_INTERPRETED) != 0;
      k.exe_detached = (e.flags & PROCMON_EXE_DETACHED) != 0;
      if (e.root_is_host == 0 || e.root_is_host == 1) k.root_is_host = e.root_is_host;
      // A directory on a mount attached nowhere names no place: a relative
      // path joined with it would name a wrong one, so it stays unknown.
      const char* cwd = exe + e.exe_size;
      if (!(e.flags & (PROCMON_CWD_TRUNCATED | PROCMON_CWD_DETACHED))) k.cwd.assign(cwd, strnlen(cwd, e.cwd_size));
      if (e.flags & PROCMON_IMAGE_KNOWN) {
        // The kernel's dev_t (MAJOR = dev >> 20, MINOR = dev & 0xfffff) as
        // stat() and /proc/PID/mountinfo give it.
        k.image_known = true;
        k.image_dev = ::makedev(e.image_dev >> 20, e.image_dev & 0xfffff);
        k.image_ino = e.image_ino;
      }
      const char* fs_path = cwd + e.cwd_size;
      k.image_fs_path.assign(fs_path, strnlen(fs_path, e.fs_path_size));
      k.image_fs_path_cut = (e.flags & PROCMON_FS_PATH_CUT) != 0;
      k.mnt_ns = e.mnt_ns;
    }
    if (e.kind != PROCMON_EXIT) {
      const char* args = exe + e.exe_size + e.cwd_size + e.fs_path_size;
      const std::uint32_t tail = e.args_tail_size <= e.args_size ? e.args_tail_size : 0;
      k.args.assign(args, e.args_size - tail);
      k.args_tail.assign(args + (e.args_size - tail), tail);
      k.args_total = (e.flags & PROCMON_ARGS_UNREADABLE) ? -1 : static_cast<std::int64_t>(e.args_total);
      k.args_truncated = (e.flags & PROCMON_ARGS_TRUNCATED) != 0;
    } else {
      split_wait_status(e.exit_code, k.exit_code, k.exit_signal);
    }
    ++count_;
    (*sink_)(std::move(k));
  }

  Skeleton skel_;
  std::unique_ptr<ring_buffer, RingBufferDeleter> ring_;
  std::int64_t ns_per_tick_;
  std::string limits_;
  const std::function<void(KernelEvent&&)>* sink_ = nullptr;
  std::size_t count_ = 0;
  std::int64_t offset_ns_ = 0;
};

bool power_of_two(std::uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

// Opens and loads the programs, the exec program that walks the image's
// path (procmon_exec) when `walk`, else the one without (procmon_exec_given).
Result<Skeleton> load_programs(const KernelSourceOptions& options, bool walk, LogCapture& log) {
  log.clear();
  // What LIBBPF_OPTS does, without its C-only compound literal.
  bpf_object_open_opts open_opts{};
  open_opts.sz = sizeof open_opts;
  const std::string btf = options.btf_path.string();
  if (!btf.empty()) open_opts.btf_custom_path = btf.c_str();
  Skeleton skel(procmon_bpf__open_opts(&open_opts));
  if (!skel) return fail_errno(errno, "opening the eBPF object failed");
  if (bpf_map__set_max_entries(skel->maps.events, options.ring_buffer_bytes) != 0) {
    return fail(ErrorCategory::internal, "setting the ring buffer size failed");
  }
  // One record being built per possible CPU (procmon.bpf.c's scratch_map).
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0 || bpf_map__set_max_entries(skel->maps.scratch_map, static_cast<std::uint32_t>(cpus)) != 0) {
    return fail(ErrorCategory::internal, fmt::format("sizing the record buffers for {} CPUs failed", cpus));
  }
  // test_fail_given_load: a map the kernel refuses to create (an array of
  // no entries), a load failure without a verifier log.
  if (!walk && options.test_fail_given_load) bpf_map__set_max_entries(skel->maps.lost, 0);
  bpf_program__set_autoload(skel->progs.procmon_rejected, options.test_verifier_reject);
  bpf_program__set_autoload(skel->progs.procmon_exec, walk);
  bpf_program__set_autoload(skel->progs.procmon_exec_given, !walk);
  skel->rodata->test_reject_walk = options.test_reject_exe_walk ? 1 : 0;
  // Whose root directory is "the host's": ours (procmon_fork records it at
  // our first thread or process after attaching).
  skel->rodata->procmond_tgid = static_cast<std::uint32_t>(::getpid());
  if (const int err = procmon_bpf__load(skel.get()); err != 0) {
    // The verifier's rejections come back as EACCES too: the kernel will not
    // run these programs, so the caller falls back to the next tier.
    return failed(ErrorCategory::unavailable, err,
                  fmt::format("loading the eBPF programs failed ({}): {}", errno_text(err), log.verdict()));
  }
  return skel;
}

// Makes and joins one thread of ours, so that procmon_fork records our root
// directory now; 0, or the error. pthread_create, not std::thread: a clone
// the kernel refuses (pids or threads exhausted, a unit's TasksMax) is an
// error to report, not a std::system_error that would end procmond, which
// the agent would then restart into the same refusal.
int make_a_thread() {
  pthread_t thread;
  const int err = ::pthread_create(&thread, nullptr, [](void*) -> void* { return nullptr; }, nullptr);
  if (err != 0) return err;
  ::pthread_join(thread, nullptr);
  return 0;
}

}  // namespace

Result<std::unique_ptr<KernelEventSource>> open_ebpf_source(const KernelSourceOptions& options) {
  if (!power_of_two(options.ring_buffer_bytes) || options.ring_buffer_bytes < 4096) {
    return fail(ErrorCategory::invalid_input, fmt::format("ring buffer size {} is not a power of two of at least 4096 bytes",
                                                          options.ring_buffer_bytes));
  }
  // Without kernel BTF, CO-RE cannot relocate and tp_btf cannot attach: say so plainly.
  const std::filesystem::path btf_file = options.btf_path.empty() ? "/sys/kernel/btf/vmlinux" : options.btf_path;
  std::error_code ec;
  const auto btf_size = std::filesystem::file_size(btf_file, ec);
  if (ec || btf_size == 0) {
    return fail(ErrorCategory::unavailable, fmt::format("the kernel has no BTF ({} {}): eBPF needs CONFIG_DEBUG_INFO_BTF",
                                                        btf_file.string(), ec ? ec.message() : "is empty"));
  }
  // Ask first: the verifier's rejections also come back as EACCES, so the
  // load's errno cannot tell "not allowed" from "not accepted".
  if (!has_effective_capability(CAP_SYS_ADMIN) &&
      !(has_effective_capability(CAP_BPF) && has_effective_capability(CAP_PERFMON))) {
    return fail(ErrorCategory::denied, "loading eBPF programs needs root (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)");
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  LogCapture log;
  // Without the walk when the kernel refuses it (an older kernel without
  // bpf_loop, a stricter verifier): exec events keep coming, with the path
  // given only, and the source says why once.
  std::string limits;
  auto loaded = load_programs(options, true, log);
  if (!loaded) {
    auto given = load_programs(options, false, log);
    if (!given) return std::unexpected(given.error());
    limits = "exec events carry only the path given to execve, not the image's path read at the exec: " +
             loaded.error().message;
    loaded = std::move(given);
  }
  Skeleton skel = std::move(*loaded);
  log.clear();
  if (const int err = procmon_bpf__attach(skel.get()); err != 0) {
    return failed(ErrorCategory::unavailable, err,
                  fmt::format("attaching the eBPF programs failed ({}): {}", errno_text(err), log.tail(2)));
  }
  // A thread of ours, so that procmon_fork records our root directory now:
  // until it has, exec events carry root_is_host unknown. Refused: the
  // source runs without it, and says so once (procmond prints limits()).
  if (const int err = make_a_thread(); err != 0) {
    if (!limits.empty()) limits += "; ";
    limits += fmt::format(
        "exec events carry root_is_host unknown until procmond makes its next thread or process: making a thread "
        "to record procmond's root directory failed ({})",
        errno_text(err));
  }
  auto source = std::make_unique<EbpfSource>(std::move(skel), ticks > 0 ? ticks : 100, std::move(limits));
  if (auto r = source->start(); !r) return std::unexpected(r.error());
  return source;
}

}  // namespace airssys::daemoneye

#else  // built without eBPF support

namespace airssys::daemoneye {

Result<std::unique_ptr<KernelEventSource>> open_ebpf_source(const KernelSourceOptions&) {
  return fail(
      ErrorCategory::unavailable,
      "this procmond was built without eBPF support (libbpf, bpftool, clang or the build host's kernel BTF was "
      "missing)");
}

}  // namespace airssys::daemoneye

#endif
