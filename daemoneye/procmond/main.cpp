// procmond — DaemonEye's process collector (docs/daemoneye.md "procmond").
//
//   procmond --once [--format json|table] [--cpu-sample 250ms]
//       one collection to stdout, then exit
//   procmond --bus SOCKET [--interval 1s] [--hash-max-size 256MiB] [--no-hash]
//            [--events auto|ebpf|proc_connector|poll] [--event-budget 10000]
//            [--no-sockets] [--passwd FILE] [--group FILE]
//       real time: exec/fork/exit from the best kernel source that starts
//       (eBPF, else the proc connector, else none; one line on stderr says
//       which and why), published on events.process.exec|start|stop as
//       they happen (at most --event-budget per second; the rest dropped
//       and counted);
//       every interval: collect, diff against the previous collection,
//       publish the start|stop|exec events the real-time source did not
//       already report, then the snapshot chunks on events.process.snapshot,
//       then procmond's status on status.procmond; the first collection
//       publishes only its snapshot. The snapshot carries each process's
//       sockets (process_open_sockets rows) unless --no-sockets, and the
//       host's accounts read from --passwd and --group (default /etc/passwd,
//       /etc/group; other paths are for tests and for containers with the
//       host's /etc mounted elsewhere)
//
// Exit codes: 0 done, or stopped by SIGTERM/SIGINT; 1 runtime failure
// (/proc unreadable, bus unreachable); 2 usage error.
//
// Signals: SIGTERM and SIGINT are blocked before any thread starts and read
// from a signalfd by the main loop (no work in a signal handler). With
// --bus, PR_SET_PDEATHSIG(SIGTERM) ends procmond with the agent that
// started it.

#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/differ.hpp>
#include <airssys/daemoneye/event_assembler.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/kernel_events.hpp>
#include <airssys/daemoneye/process_table.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/daemoneye/terminal_text.hpp>
#include <airssys/osl/detail/empty_option_value.hpp>
#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/osl/unique_fd.hpp>

#include "host_accounts.hpp"
#include "realtime_events.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#ifndef AIRSSYS_VERSION
#define AIRSSYS_VERSION "0.1.0"
#endif

namespace de = airssys::daemoneye;
namespace bus = airssys::bus;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;

struct Flags {
  bool once = false;
  std::string format = "json";
  std::string cpu_sample = "250ms";
  std::string bus;
  std::string interval = "1s";
  std::string hash_max_size = "256MiB";
  bool no_hash = false;
  bool no_sockets = false;
  bool no_memory_maps = false;
  std::string maps_reread_period = "10m";
  std::string passwd = "/etc/passwd";  // the users table's file
  std::string group = "/etc/group";    // the groups table's file
  std::string events = "auto";
  std::uint64_t event_budget = 10'000;
  std::string ring_buffer_size = "8MiB";
  std::string btf;                    // hidden: a BTF file instead of the kernel's (tests)
  bool test_verifier_reject = false;  // hidden: load a program the verifier rejects (tests)
};

void say(const std::string& text) { airssys::osl::detail::write_stderr_ignoring_failure("procmond: " + text + "\n"); }

// Tells, once per run and only when not root, how many processes could not be
// fully read (and why: the kernel hides their exe, cwd and io from others).
void tell_unreadable(const de::CollectResult& c, bool& told) {
  if (told || ::geteuid() == 0 || c.stats.partial == 0) return;
  told = true;
  say(fmt::format("{} of {} processes could not be fully read (not running as root: their executable, cwd or I/O "
                  "counters are hidden)",
                  c.stats.partial, c.stats.total));
}

// Tells when a file system stops answering the collector (a hung FUSE daemon,
// a hard NFS mount whose server is gone) and when it answers again: while it
// does not, the executables on its device are not read and their processes are
// reported partial (collector.hpp, CollectorOptions::fs_stall).
void tell_stalled(const de::CollectResult& c, std::vector<std::string>& told) {
  for (const auto& where : c.stalled_on) {
    if (std::find(told.begin(), told.end(), where) != told.end()) continue;
    say(fmt::format("{}: file system not answering; executables on its device are not read (their processes are partial) "
                    "until it answers; {} collector thread(s) blocked in it",
                    de::printable(where), c.stats.stuck_threads));
    told.push_back(where);
  }
  std::erase_if(told, [&](const std::string& where) {
    if (std::find(c.stalled_on.begin(), c.stalled_on.end(), where) != c.stalled_on.end()) return false;
    say(de::printable(where) + ": file system answers again");
    return true;
  });
}

bool write_all(const std::string& s) {
  std::size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, s.data() + off, s.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// True once SIGTERM or SIGINT arrived; waits up to `timeout` for one.
bool stop_requested(int sfd, std::chrono::milliseconds timeout) {
  pollfd p{sfd, POLLIN, 0};
  const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout.count())));
  if (r <= 0) return false;
  signalfd_siginfo info{};
  return ::read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info);
}

int run_once(de::Collector& collector, const Flags& f, std::chrono::milliseconds sample, int sfd) {
  auto c = collector.collect();
  if (c && sample.count() > 0) {
    // A second look after `sample` gives cpu_percent something to measure.
    if (stop_requested(sfd, sample)) return 0;
    c = collector.collect();
  }
  if (!c) {
    say("cannot read processes: " + c.error().to_string());
    return kFailed;
  }
  std::string out;
  if (f.format == "table") {
    out = de::format_process_table(c->processes, de::terminal_width());
  } else {
    out.reserve(c->processes.size() * 900);
    out += "[";
    for (std::size_t i = 0; i < c->processes.size(); ++i) {
      out += i ? ",\n" : "\n";
      out += de::terminal_safe_json(de::to_json(c->processes[i]));  // \uXXXX for terminal controls
    }
    out += c->processes.empty() ? "]\n" : "\n]\n";
  }
  bool told = false;
  tell_unreadable(*c, told);
  if (!write_all(out)) {
    say(fmt::format("cannot write the output: {}", std::strerror(errno)));
    return kFailed;
  }
  return 0;
}

// Publishes one collection: its events (unless first), then its chunks, then
// flush. Returns the records back for the next diff. A bus error is reported
// (once per outage) and the collection skipped: the next full snapshot puts
// the agent right again.
class Publisher {
 public:
  explicit Publisher(bus::Client& client) : client_(client) {}

  // `already_reported` removes from the diff what the real-time source published.
  std::vector<de::ProcessRecord> publish(de::CollectResult c, const std::vector<de::ProcessRecord>* previous,
                                         const std::function<void(std::vector<de::ProcessEvent>&)>& already_reported,
                                         de::SnapshotAccounts accounts) {
    std::vector<de::ProcessEvent> events;
    if (previous) {
      de::carry_over_zombies(*previous, c.processes);
      events = de::diff(*previous, c.processes, c.time);
      already_reported(events);
    }
    poll_events_ += events.size();
    auto chunks = de::make_snapshot_chunks(
        std::move(c.processes),
        de::SnapshotHeader{.scan_id = scan_id_++, .time = c.time, .unreadable = c.stats.partial,
                           .collect_us = c.stats.elapsed_us},
        de::kSnapshotChunkBytes, std::move(c.sockets), std::move(accounts), std::move(c.memory_maps));
    bool ok = true;
    for (auto& e : events) {
      // Records are capped for the wire in the chunks; an event's copy too.
      de::cap_for_wire(e.process);
      if (ok) ok = sent(client_.publish(de::subject_of(e.kind), de::encode(e)));
    }
    for (const auto& ch : chunks) {
      if (ok) ok = sent(client_.publish(de::kSubjectSnapshot, de::encode(ch)));
    }
    if (ok) ok = sent(client_.flush(std::chrono::seconds(10)));
    last_ok_ = ok;
    if (ok && down_) {
      say("bus: publishing again");
      down_ = false;
    }
    std::vector<de::ProcessRecord> back;
    back.reserve(c.stats.total);
    for (auto& ch : chunks) {
      for (auto& r : ch.processes) back.push_back(std::move(r));
    }
    return back;
  }

  // Whether the bus took every message of the last publish().
  [[nodiscard]] bool last_ok() const noexcept { return last_ok_; }
  [[nodiscard]] std::uint64_t scans() const noexcept { return scan_id_; }
  [[nodiscard]] std::uint64_t poll_events() const noexcept { return poll_events_; }

 private:
  bool sent(const std::expected<void, bus::Error>& r) {
    if (r) return true;
    if (!down_) say("bus: " + r.error().to_string() + " (this collection is skipped; retrying at the next one)");
    down_ = true;
    return false;
  }

  bus::Client& client_;
  std::uint64_t scan_id_ = 0;
  std::uint64_t poll_events_ = 0;
  bool down_ = false;
  bool last_ok_ = false;
};

// Why the kernel sources cannot serve this procmond, if they cannot: its
// eBPF programs report task->tgid, the initial pid namespace's pid, and the
// proc connector refuses other namespaces; in a container's pid namespace
// those pids would not match the /proc procmond reads (and publishes from).
// An unreadable /proc/self/ns/pid counts as the initial namespace.
std::optional<std::string> foreign_pid_namespace() {
  constexpr ino_t kProcPidInitIno = 0xEFFFFFFCU;  // PROC_PID_INIT_INO (include/linux/proc_ns.h)
  struct stat st {};
  if (::stat("/proc/self/ns/pid", &st) != 0 || st.st_ino == kProcPidInitIno) return std::nullopt;
  return "procmond runs in a pid namespace other than the initial one; the kernel sources report the initial "
         "namespace's pids";
}

// The real-time source chosen at start, and why the better ones did not run.
struct RealtimeSetup {
  std::unique_ptr<de::EventAssembler> assembler;
  std::unique_ptr<de::procmond::RealtimeEvents> events;  // null: polling only
  std::string reason;
};

RealtimeSetup start_realtime(const Flags& f, de::TierRequest request, std::uint32_t ring_bytes, bus::Client& client) {
  RealtimeSetup rt;
  // The event thread's own /proc reader: no hashing (a new executable's hash
  // would stall events; the next collection fills it) and no kept fds.
  auto reader = de::Collector::create(de::CollectorOptions{.hash = false, .keep_open = 0});
  rt.assembler = std::make_unique<de::EventAssembler>(
      de::EventAssemblerOptions{.budget_per_second = f.event_budget},
      reader ? std::move(*reader) : std::unique_ptr<de::Collector>());
  if (auto foreign = foreign_pid_namespace(); foreign && request != de::TierRequest::poll) {
    rt.reason = std::move(*foreign);
    say(fmt::format("event source: polling only, short-lived processes will be missed ({})", rt.reason));
    return rt;
  }
  auto choice = de::open_event_source(
      request, de::KernelSourceOptions{.ring_buffer_bytes = ring_bytes,
                                       .btf_path = f.btf,
                                       .test_verifier_reject = f.test_verifier_reject});
  rt.reason = choice.reason;
  if (choice.source) {
    const std::string limits = choice.source->limits();
    rt.events = std::make_unique<de::procmond::RealtimeEvents>(std::move(choice.source), *rt.assembler, client);
    say(fmt::format("event source: {}{}", de::to_string(choice.tier),
                    choice.reason.empty() ? "" : " (" + choice.reason + ")"));
    if (!limits.empty()) say(fmt::format("event source {}: {}", de::to_string(choice.tier), limits));
  } else {
    say(fmt::format("event source: polling only, short-lived processes will be missed ({})", choice.reason));
  }
  return rt;
}

de::SocketCounters socket_counters(const de::CollectStats& c) {
  const auto& k = c.sockets;
  return de::SocketCounters{.rows = k.rows, .unreadable = k.unreadable, .fds_capped = k.fds_capped,
                            .tables_capped = k.tables_capped, .unmatched = k.unmatched, .ambiguous = k.ambiguous,
                            .other_namespace = k.other_namespace, .truncated = k.truncated, .us = c.sockets_us};
}

de::ProcmondStatus status_of(const RealtimeSetup& rt, const Publisher& publisher, const Flags& f,
                             std::optional<de::SocketCounters> sockets, const de::AccountCounters& accounts) {
  de::ProcmondStatus s;
  s.sockets = sockets;
  s.accounts = accounts;
  s.time = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  s.pid = ::getpid();
  s.scans = publisher.scans();
  s.budget_per_second = f.event_budget;
  s.sources[static_cast<std::size_t>(de::EventSource::poll)].events = publisher.poll_events();
  s.tier_reason = rt.reason;
  if (rt.events) {
    const auto tier = rt.events->tier();
    auto& c = s.sources[static_cast<std::size_t>(tier)];
    c = rt.events->counters();
    c.dropped += rt.assembler->counters().dropped;  // over the budget, plus what the bus refused
    if (rt.events->running()) {
      s.tier = tier;
    } else {
      s.tier_reason += (s.tier_reason.empty() ? "" : "; ") + rt.events->failure();
    }
  }
  return s;
}

// The collections a full pass of maps re-reads takes: `period` over the
// interval, rounded up (a 10 min period at the 10 s default: every 60th).
std::uint32_t maps_reread_every(std::chrono::milliseconds period, std::chrono::milliseconds interval) {
  if (period.count() <= 0) return 0;
  const auto n = (period.count() + interval.count() - 1) / std::max<std::int64_t>(interval.count(), 1);
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(n, 1, 1'000'000));
}

int run_bus(de::Collector& collector, const Flags& f, std::chrono::milliseconds interval, int sfd,
            de::TierRequest request, std::uint32_t ring_bytes) {
  bus::ClientOptions co;
  co.socket_path = f.bus;
  co.on_error = [](const bus::Error& e) { say("bus: " + e.to_string()); };
  auto client = bus::Client::connect(std::move(co));
  if (!client) {
    say(fmt::format("cannot connect to the bus at {}: {}", f.bus, client.error().to_string()));
    return kFailed;
  }
  Publisher publisher(**client);
  RealtimeSetup rt = start_realtime(f, request, ring_bytes, **client);
  de::HostAccounts accounts(f.passwd, f.group, say);
  std::optional<std::vector<de::ProcessRecord>> previous;
  bool told = false;
  std::vector<std::string> told_stalled;
  for (;;) {
    const auto started = Clock::now();
    const auto mark = rt.assembler->mark();
    auto c = collector.collect();
    if (!c) {
      say("cannot read processes: " + c.error().to_string());
      return kFailed;
    }
    tell_unreadable(*c, told);
    tell_stalled(*c, told_stalled);
    std::optional<de::SocketCounters> sockets;
    if (!f.no_sockets) sockets = socket_counters(c->stats);
    auto published = publisher.publish(std::move(*c), previous ? &*previous : nullptr,
                                       [&](std::vector<de::ProcessEvent>& events) {
                                         if (rt.events) rt.assembler->filter_reported(events, mark);
                                       },
                                       accounts.refresh());
    if (rt.events) rt.assembler->learn(published, mark);
    (void)(*client)->publish(de::kSubjectProcmondStatus, de::encode(status_of(rt, publisher, f, sockets, accounts.counters())));
    // After a collection the bus did not take, the next one is diffed against
    // the last one it did take, so the start/stop/exec events of the outage
    // are published late rather than never (those of a half-sent publish may
    // then be published twice; the agent's store keeps one copy of a start
    // or exec: Store::append_events).
    if (publisher.last_ok() || !previous) previous = std::move(published);
    // Start to start; a collection that overran the interval is followed at once.
    const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(started + interval - Clock::now());
    if (stop_requested(sfd, wait)) return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // `>&-`: no file opened later may take fd 0, 1 or 2 (osl/detail/standard_fds.hpp).
  if (!airssys::osl::detail::open_closed_standard_fds()) return 1;
  // Before anything else (and before any thread): the agent may already be
  // gone, and its death must reach us as a signal we read from the signalfd.
  const pid_t parent_at_start = ::getppid();
  sigset_t stop_set;
  sigemptyset(&stop_set);
  sigaddset(&stop_set, SIGINT);
  sigaddset(&stop_set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &stop_set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App app{"procmond: DaemonEye's process collector"};
  app.set_version_flag("--version", std::string("procmond ") + AIRSSYS_VERSION);
  Flags f;
  auto* once = app.add_flag("--once", f.once, "Print one collection to stdout and exit");
  app.add_option("--format", f.format, "With --once: json (an array of records, osquery column names) or table")
      ->check(CLI::IsMember({"json", "table"}))
      ->needs(once);
  app.add_option("--cpu-sample", f.cpu_sample,
                 "With --once: collect twice this far apart so cpu_percent is measured (0: once, cpu_percent 0)")
      ->needs(once);
  auto* bus_opt = app.add_option("--bus", f.bus, "Publish on the airssys-bus broker at this socket")->excludes(once);
  app.add_option("--interval", f.interval, "With --bus: time between collections, e.g. 1s, 500ms")->needs(bus_opt);
  app.add_option("--hash-max-size", f.hash_max_size, "Executables larger than this are not hashed (e.g. 256MiB)");
  app.add_flag("--no-hash", f.no_hash, "Do not compute sha256 of executables");
  app.add_flag("--no-sockets", f.no_sockets,
               "With --bus: do not read processes' sockets (the process_open_sockets table stays empty)")
      ->needs(bus_opt);
  app.add_flag("--no-memory-maps", f.no_memory_maps,
               "With --bus: do not read processes' executable mappings (the process_memory_map table stays empty)")
      ->needs(bus_opt);
  app.add_option("--maps-reread-period", f.maps_reread_period,
                 "With --bus: read every process's maps again at least this often, whatever its size (spread "
                 "across collections; 0: only when the size or the executable changes)")
      ->needs(bus_opt);
  app.add_option("--passwd", f.passwd,
                 "With --bus: the passwd file the users table is read from (for tests, and containers with the "
                 "host's /etc mounted elsewhere)")
      ->needs(bus_opt);
  app.add_option("--group", f.group, "With --bus: the group file the groups table is read from (likewise)")
      ->needs(bus_opt);
  app.add_option("--events", f.events,
                 "With --bus: the best real-time event source to try: auto (= ebpf), ebpf, proc_connector, or poll "
                 "(polling only); a source that cannot start falls back to the next")
      ->check(CLI::IsMember({"auto", "ebpf", "proc_connector", "poll"}))
      ->needs(bus_opt);
  app.add_option("--event-budget", f.event_budget,
                 "With --bus: real-time events published per second at most (the rest are dropped and counted)")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{10'000'000}))
      ->needs(bus_opt);
  app.add_option("--ring-buffer-size", f.ring_buffer_size,
                 "With --bus: the eBPF ring buffer's size (a power of two, e.g. 8MiB)")
      ->needs(bus_opt);
  app.add_option("--btf", f.btf, "")->group("")->needs(bus_opt);
  app.add_flag("--test-verifier-reject", f.test_verifier_reject, "")->group("")->needs(bus_opt);
  try {
    app.parse(argc, argv);
    // `--bus "$SOCK"` with SOCK unset was told that --once or --bus is
    // required, and `--btf ''` took the kernel's BTF: '' is no value.
    if (const auto empty = airssys::osl::detail::first_empty_option_value(app)) {
      say(airssys::osl::detail::empty_option_message(*empty));
      return kUsage;
    }
    if (!f.once && f.bus.empty()) throw CLI::ValidationError("one of --once or --bus SOCKET is required");
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kUsage;
  }
  const auto interval = de::parse_duration(f.interval);
  const auto sample = de::parse_duration(f.cpu_sample);
  const auto hash_max = de::parse_size(f.hash_max_size);
  const auto ring = de::parse_size(f.ring_buffer_size);
  const auto reread = de::parse_duration(f.maps_reread_period);
  if (!interval || !sample || !hash_max || !ring || !reread) {
    say(fmt::format("{}", !interval ? "--interval: " + interval.error().message
                          : !reread ? "--maps-reread-period: " + reread.error().message
                          : !sample ? "--cpu-sample: " + sample.error().message
                          : !ring   ? "--ring-buffer-size: " + ring.error().message
                                    : "--hash-max-size: " + hash_max.error().message));
    return kUsage;
  }
  if (*ring < 4096 || *ring > (1ull << 30) || (*ring & (*ring - 1)) != 0) {
    say("--ring-buffer-size: a power of two from 4KiB to 1GiB");
    return kUsage;
  }
  const auto request = de::tier_request_from(f.events);
  if (!request) {
    say("--events: " + request.error().message);
    return kUsage;
  }
  if (interval->count() < 10) {
    say("--interval: at least 10ms");
    return kUsage;
  }

  if (!f.bus.empty()) {
    // End with the agent; if it died before this line, the signal will never come.
    if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent_at_start) return 0;
  }

  airssys::osl::UniqueFd sfd(::signalfd(-1, &stop_set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!sfd) {
    say(fmt::format("signalfd: {}", std::strerror(errno)));
    return kFailed;
  }
  // The collector keeps one /proc/PID directory fd per process between
  // collections (half the soft limit at most): allow what the hard limit does.
  if (rlimit rl{}; ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &rl);
  }
  // Sockets and memory maps only for the bus: --once prints processes.
  auto collector = de::Collector::create(de::CollectorOptions{.hash = !f.no_hash,
                                                              .hash_max_size = *hash_max,
                                                              .sockets = !f.bus.empty() && !f.no_sockets,
                                                              .memory_maps = !f.bus.empty() && !f.no_memory_maps,
                                                              .maps_reread_every = maps_reread_every(*reread, *interval)});
  if (!collector) {
    say("cannot read /proc: " + collector.error().to_string());
    return kFailed;
  }
  if (f.once) return run_once(**collector, f, *sample, sfd.get());
  return run_bus(**collector, f, *interval, sfd.get(), *request, static_cast<std::uint32_t>(*ring));
}
