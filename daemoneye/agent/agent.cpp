#include "agent.hpp"

#include "procmond_supervision.hpp"
#include "status_reporter.hpp"
#include "stop_budget.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/alert_ledger_sync.hpp>
#include <airssys/daemoneye/alert_pipeline.hpp>
#include <airssys/daemoneye/burst_trim.hpp>
#include <airssys/daemoneye/component_errors.hpp>
#include <airssys/daemoneye/event_forwarder.hpp>
#include <airssys/daemoneye/dedup_check.hpp>
#include <airssys/daemoneye/ledger_continuity.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/live_query_service.hpp>
#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_changes.hpp>
#include <airssys/daemoneye/rule_exception.hpp>
#include <airssys/daemoneye/rule_runner.hpp>
#include <airssys/daemoneye/scan_assembler.hpp>
#include <airssys/daemoneye/store.hpp>
#include <airssys/daemoneye/store_backlog.hpp>
#include <airssys/daemoneye/unreadable_sample.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <sqlite3.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <set>
#include <system_error>

namespace airssys::daemoneye::agent {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// How long a process event may wait in the agent before it is stored (the
// exec-to-row latency the real-time sources are for).
constexpr std::chrono::milliseconds kEventDelay{10};

// At a stop, the events still queued on the bus are stored this many at a
// time (one transaction each, as while running) for at most
// database.stop_timeout (20 s by default) after the run loop reads the
// signal; what is left then is counted (for at most kStopCountTime), logged
// and given up. With the events spool's drain (kSpoolDrain) the default keeps
// a stop well inside the unit's TimeoutStopSec=60s; stop_budget.hpp warns at
// start of a stop_timeout that does not.
constexpr std::size_t kEventBatch = 4096;

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

// No process collection for this long and the agent says so (log, status
// `stale`, metrics): 3 scan intervals, plus the 2 s a collection may wait on
// a file system that does not answer before it gives up on it (docs "When
// collections stop").
std::chrono::milliseconds stale_after(std::chrono::milliseconds interval) { return 3 * interval + 2s; }
// ... and procmond is killed and restarted after this long without one
// (10 intervals + 10 s), doubled after each such restart that brought none
// (a first collection that is merely slow is not cut short forever).
// The doubling stops at kRestartAfterMax, but the wait is never shorter
// than its first 10 intervals + 10 s (a long interval is not cut short, and
// is never past the restart when it turns stale).
std::chrono::milliseconds restart_after(std::chrono::milliseconds interval, std::uint64_t restarts) {
  constexpr std::chrono::milliseconds kRestartAfterMax = 1h;
  const std::chrono::milliseconds first = 10 * interval + 10s;
  std::chrono::milliseconds d = first;
  for (std::uint64_t i = 0; i < restarts && d < kRestartAfterMax; ++i) d *= 2;
  return std::max(first, std::min(d, kRestartAfterMax));
}

// The audit ledger's tree head goes to the sinks this often, when the
// ledger grew since the last one (AlertPipeline::publish_tree_head).
constexpr std::chrono::minutes kTreeHeadEvery{10};

std::string seconds_text(std::chrono::steady_clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

// The rules directory itself was refused (missing, unreadable, a symbolic
// link, unsafe mode or owner): load_rules then returns one error naming it
// and no rule. At start that stops the agent, at a reload it keeps the rules
// in use; single rejected files are neither.
const RuleError* directory_refused(const RuleSet& set, const fs::path& dir) {
  if (set.rules.empty() && set.errors.size() == 1 && set.errors.front().file == dir) return &set.errors.front();
  return nullptr;
}

// The rules directory as start needs it: one that loads no rule at all stops
// the agent (see directory_refused). Exit 2 (RestartPreventExitStatus=2: no
// restart) only where the configuration is wrong and a retry fails the same
// way: a directory that is missing (ENOENT: a typo in rules.dir; a rules.dir
// on a late mount needs RequiresMountsFor= in a drop-in, docs "The agent"),
// a symbolic link, not a directory, or one with an unsafe owner or mode.
// Anything else the kernel says (EACCES, EIO, ESTALE, EMFILE, ENOMEM, ...)
// keeps its own category: exit 1, and systemd starts the agent again.
Result<void> require_rules_dir(const RuleSet& set, const fs::path& dir) {
  const RuleError* refused = directory_refused(set, dir);
  if (refused == nullptr) return {};
  const int e = refused->errno_value;
  const bool config_error = e == 0 || e == ENOENT || e == ENOTDIR || e == ELOOP;
  return fail(config_error ? ErrorCategory::invalid_input : refused->category,
              fmt::format("rules.dir: {} (no rule could be loaded, so no alert could be raised; fix the directory "
                          "or point rules.dir / --rules-dir at the rules)",
                          refused->message));
}

std::size_t enabled_count(const std::vector<Rule>& rules) {
  return static_cast<std::size_t>(std::ranges::count_if(rules, [](const Rule& r) { return r.enabled; }));
}

// At start and after every reload: an agent that raises nothing must say so.
void warn_if_none_enabled(std::size_t enabled, const fs::path& dir, std::string_view prefix) {
  if (enabled == 0)
    spdlog::warn("{}no rule is enabled: this agent stores what procmond sees but raises no alert (rules.dir {})", prefix,
                 dir.string());
}

// The rule exceptions (rules.exceptions) checked against `rules`: warnings
// and refusals logged with `prefix`, the refusals' messages added to
// `rejected` (status.json's exceptions_rejected).
ExceptionSet load_rule_exceptions(const Config& c, const std::vector<Rule>& rules, const QueryEngine& engine,
                                  std::string_view prefix, std::vector<std::string>& rejected) {
  ExceptionSet set = load_exceptions(c.rules.exceptions, rules, engine, unix_now());
  for (const auto& w : set.warnings) spdlog::warn("{}rule exception: {}", prefix, w.message);
  for (const auto& e : set.errors) {
    spdlog::error("{}rule exception rejected (its matches raise alerts): {}", prefix, e.message);
    rejected.push_back(e.message);
  }
  return set;
}

std::string host_name(const Config& c) {
  if (!c.host.empty()) return c.host;
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// `created`: there was no ledger (no directory, or an empty one) and an
// empty one was made. `unreadable`: a ledger is there, and opening it failed
// on what it holds for good (damaged_for_good: corrupt, a directory or a
// link where a file should be), not on an error that may pass (I/O, memory,
// descriptors, a full disk: exit 1, and systemd starts it again), another
// agent's lock (busy), a missing head (perhaps not a ledger at all) or
// permissions.
Result<std::shared_ptr<ledger::Ledger>> open_or_create_ledger(const fs::path& dir, bool& created,
                                                              bool* unreadable = nullptr) {
  // Made here and checked before the ledger writes in it: absent when the
  // start checked it, it may have been made since by another user.
  if (auto made = make_trusted_dir(dir, "ledger.dir"); !made)
    return std::unexpected(as_config_error(std::move(made.error())));
  std::error_code ec;
  const bool fresh = !fs::exists(dir, ec) || fs::is_empty(dir, ec);
  auto l = fresh ? ledger::Ledger::create(dir) : ledger::Ledger::open(dir);
  created = fresh && l.has_value();
  // Two first starts on one ledger.dir (different state directories, so no
  // agent.lock between them): the one that loses the race to create it
  // opens it instead, and so meets the writer lock (busy, exit 1) rather
  // than "already exists" (invalid input, exit 2: never retried).
  if (!l && fresh && l.error().category == ledger::ErrorCategory::already_exists) l = ledger::Ledger::open(dir);
  if (!l) {
    using LC = ledger::ErrorCategory;
    const LC lc = l.error().category;
    if (unreadable) *unreadable = !fresh && damaged_for_good(lc, l.error().errno_value);
    const ErrorCategory category = category_of(l.error());
    // The ledger's writer lock is what a second agent on the same state
    // runs into first (systemd's and one started by hand).
    return std::unexpected(Error{
        category, l.error().errno_value,
        fmt::format("ledger {}: {}{}", dir.string(), l.error().to_string(),
                    category == ErrorCategory::busy
                        ? " (is another daemoneye-agent writing to this ledger.dir? stop it first, or give each agent "
                          "its own)"
                        : "")});
  }
  for (const auto& w : (*l)->warnings()) spdlog::warn("ledger {}: {}", dir.string(), w);
  return std::shared_ptr<ledger::Ledger>(std::move(*l));
}

// A ledger that is there but cannot be read for good (a damaged file, a
// directory where a file should be) stopped every start, and monitoring
// with it, over evidence that can no longer be checked. It is moved aside
// as it is (DIR.unverifiable-<unix time>, never over anything there), said
// in the log at once, recorded in the store as a discontinuity not raised
// yet (`pending`, problem unverifiable, with why and where it went) and a
// new ledger made in its place; the start raises it once the alert pipeline
// exists, or the next start does. Another agent's lock (busy), an error
// that may pass (I/O), a refused ledger.dir, or a directory that is not a
// ledger (no head file) still stops the start, as does a ledger that cannot
// be moved. `dir` has no trailing slash (the aside is named beside it).
Result<std::shared_ptr<ledger::Ledger>> open_ledger(const fs::path& dir, Store& store,
                                                    std::vector<LedgerDiscontinuity>& pending, bool& created) {
  bool damaged = false;
  auto l = open_or_create_ledger(dir, created, &damaged);
  if (l || !damaged) return l;
  const std::string stem = dir.string() + fmt::format(".unverifiable-{}", unix_now());
  fs::path aside = stem;
  int moved = -1;
  for (int n = 2; (moved = ::renameat2(AT_FDCWD, dir.c_str(), AT_FDCWD, aside.c_str(), RENAME_NOREPLACE)) != 0 &&
                  errno == EEXIST && n <= 100;
       ++n)
    aside = fmt::format("{}-{}", stem, n);  // one set aside in the same second already
  if (moved != 0) {
    const int e = errno;
    return std::unexpected(Error{l.error().category, l.error().errno_value,
                                 fmt::format("{}; it cannot be set aside as {}: {}", l.error().message, aside.string(),
                                             std::strerror(e))});
  }
  spdlog::error("the audit ledger {} cannot be read ({}): set aside as it is, as {}; a new ledger is made in its "
                "place and this is raised as alert {} (problem unverifiable)",
                dir.string(), l.error().message, aside.string(), kLedgerDiscontinuityRule);
  pending.push_back(set_aside_ledger(store, fmt::format("{} (set aside as {})", l.error().message, aside.string()),
                                     pending.empty() ? nullptr : &pending.back()));
  if (auto r = store.save_pending_ledger_discontinuities(pending_text(pending)); !r)
    spdlog::error("cannot record the set-aside ledger in the store (should this start fail before raising it, the "
                  "next start cannot say where it went): {}",
                  r.error().message);
  auto made = open_or_create_ledger(dir, created);
  if (!made) {
    // What the failed create left (a directory with some of the ledger's
    // files and no head) would stop every later start as "not a ledger":
    // removed, so the next start makes the ledger again and raises the
    // recorded discontinuity.
    for (const char* name : {"head", "entries", "offsets", "tree", "lock"}) ::unlink((dir / name).c_str());
    ::rmdir(dir.c_str());
    return std::unexpected(Error{made.error().category, made.error().errno_value,
                                 fmt::format("{} (the ledger found there could not be read and is set aside as {}; "
                                             "no new one could be made in its place: the next start tries again and "
                                             "raises the discontinuity)",
                                             made.error().message, aside.string())});
  }
  return made;
}

// ledger.dir as the agent uses it: without a trailing slash, so that the
// aside of an unreadable ledger is named beside it (DIR.unverifiable-T, not
// DIR/.unverifiable-T, which rename refuses).
fs::path ledger_dir_of(const Config& config, const fs::path& db_dir) {
  fs::path dir = (config.ledger.dir.empty() ? db_dir / "ledger" : config.ledger.dir).lexically_normal();
  if (!dir.has_filename() && dir.has_relative_path()) dir = dir.parent_path();
  return dir;
}

// One agent per state directory: status.json, osl-audit.jsonl, the default
// ledger and bus socket all sit beside the database, so two agents there
// would trample each other whatever else their configurations name. An
// exclusive flock on DIR/agent.lock, held for the agent's life (the kernel
// drops it when the process ends, also by SIGKILL: no stale lock).
Result<osl::UniqueFd> lock_state_dir(const fs::path& db_dir) {
  const fs::path lock = db_dir / "agent.lock";
  osl::UniqueFd fd(::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
  if (!fd) return std::unexpected(Error::from_errno(errno, fmt::format("cannot open {}", lock.string())));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return std::unexpected(Error::from_errno(errno, fmt::format("cannot lock {}", lock.string())));
    return std::unexpected(Error{
        ErrorCategory::busy, EWOULDBLOCK,
        fmt::format("{}: another daemoneye-agent is running on this state directory (its database, ledger, bus "
                    "socket and status.json sit in {}); `daemoneye-cli status` with the same configuration says. "
                    "Stop it first, or give this agent a database.path in another directory",
                    lock.string(), db_dir.string())});
  }
  return fd;
}

// The bus refuses a socket directory others could enter (or plant a socket
// in): say which key it comes from and what fixes it. Other refusals (a
// path too long for a socket, a file in the socket's place) say it
// themselves.
Error bus_refused(const Config& c, const fs::path& socket, const bus::Error& e) {
  const bool unsafe_dir = e.category == bus::ErrorCategory::unsafe_directory;
  return Error{ErrorCategory::unavailable, 0,
               fmt::format("bus broker on {}: {}{}", socket.string(), e.to_string(),
                           !unsafe_dir ? ""
                           : c.bus.socket.empty()
                               ? " (the socket is bus.sock in the database's directory: make that directory the "
                                 "agent's own with mode 0700, e.g. chmod 700 it, or set bus.socket / --socket)"
                               : " (bus.socket / --socket: its directory must be the agent's own with mode 0700)")};
}

fs::path find_procmond(const Config& c, const fs::path& self_exe) {
  if (!c.procmond.path.empty()) return fs::absolute(c.procmond.path);
  return self_exe.parent_path() / "procmond";
}

std::string ms_text(std::chrono::milliseconds d) { return fmt::format("{}ms", d.count()); }

// At start: the alerts the ledger holds and the store lacks (an agent killed
// between the two, a store that refused them) go into the store, so that
// the dedup window read back from it knows them and `daemoneye-cli alerts`
// shows them. Ones it cannot store are returned, for the dedup window;
// the scans try again (AlertLedgerSync::behind).
std::vector<Alert> catch_up_alerts(AlertLedgerSync& sync, const fs::path& ledger_dir) {
  std::vector<Alert> found;
  auto r = sync.catch_up(unix_now(), &found);
  if (!r) {
    spdlog::error("the alerts of the ledger {} cannot be brought into the store now ({} found missing so far; they "
                  "are kept from being raised again, and the scans try again): {}",
                  ledger_dir.string(), found.size(), r.error().message);
    return found;
  }
  if (r->by_time && r->entries_read > 0)
    spdlog::info("the store had no mark of how far its alerts follow the ledger {}: {} ledger entries of the last "
                 "database.max_age read back",
                 ledger_dir.string(), r->entries_read);
  if (r->stored > 0)
    spdlog::warn("{} alerts the ledger {} holds were missing from the store (an agent stopped between raising and "
                 "storing them, or the store refused them); stored now, not raised again",
                 r->stored, ledger_dir.string());
  return {};
}

// Alerts raised within the dedup window by an earlier run are remembered, so
// restarting the agent does not raise them again; `unstored` are ones the
// ledger holds that catch_up_alerts could not store.
void remember_recent_alerts(const Config& c, AlertPipeline& pipeline, const std::vector<Alert>& unstored) {
  for (const Alert& a : unstored) pipeline.remember(a.dedup_key, a.time);
  if (c.alerts.dedup_window.count() <= 0) return;
  auto engine = QueryEngine::open(c.database.path,
                                  {.time = 10s, .max_rows = 100000, .temp_dir = directory_of(c.database.path)});
  if (!engine) {
    spdlog::warn("cannot read recent alerts back: {}", engine.error().message);
    return;
  }
  // dedup_check.hpp: `daemoneye-cli rules test` reads the same keys.
  bool cut = false;
  auto keys = recent_alert_keys(**engine, c.alerts.dedup_window, unix_now(), {}, &cut);
  if (!keys) {
    spdlog::warn("cannot read recent alerts back: {}", keys.error().message);
    return;
  }
  if (cut)
    spdlog::warn("more than {} dedup keys were raised within alerts.dedup_window: the newest {} are remembered, an "
                 "alert with an older one may be raised again",
                 keys->size(), keys->size());
  for (const RaisedKey& k : *keys) pipeline.remember(k.dedup_key, k.time);
  if (const std::size_t n = keys->size(); n > 0)
    spdlog::info("{} alerts raised in the last {} s are remembered and will not be raised again within it", n,
                 c.alerts.dedup_window.count());
}

}  // namespace

// How a reload went, for status.json (StatusReporter::reloaded): the worst
// result met, and each refusal as the log says it, joined with "; ".
struct ReloadOutcome {
  ReloadResult result = ReloadResult::ok;
  std::string error;
  void refused(ReloadResult r, std::string_view what) {
    if (r == ReloadResult::failed || result == ReloadResult::ok) result = r;
    if (!error.empty()) error += "; ";
    error += what;
  }
};

struct Agent::Impl {
  // DIR/agent.lock, held while the agent runs (lock_state_dir); first, so it
  // is released last, once everything else is closed.
  osl::UniqueFd state_lock;
  Config config;
  std::string host;
  std::unique_ptr<Store> store;
  std::unique_ptr<QueryEngine> engine;
  std::vector<Rule> rules;
  EventMarks event_marks;  // how far each Sigma rule has read process_events
  EventMarks saved_marks;  // what the store holds of them (sigma_marks)
  std::shared_ptr<ledger::Ledger> ledger;
  std::unique_ptr<AlertPipeline> alerts;
  // The store's alerts caught up with the ledger (declared after the ledger
  // and the store it refers to, so it goes first).
  std::unique_ptr<AlertLedgerSync> alert_sync;
  bool alerts_unstored = false;  // storing alerts fails: logged once per outage
  std::unique_ptr<EventForwarder> event_forwarder;  // events.nats: process events to JetStream
  std::unique_ptr<bus::Broker> broker;
  std::unique_ptr<bus::Client> client;
  bus::Subscription events;
  // The collections' chunks again, in a queue of their own that run() empties
  // first: a collection never waits behind an exec flood's event backlog in
  // `events` (which gets them too, and skips them), so scans go on.
  bus::Subscription snapshots;
  std::unique_ptr<ProcmondSupervision> procmond;
  // The rule exceptions in force (rules.exceptions); before `status`, which reads them.
  ExceptionFilter exceptions{[](std::string_view m) { spdlog::info("{}", m); },
                             [](std::string_view m) { spdlog::warn("{}", m); }};
  std::unique_ptr<StatusReporter> status;  // <database dir>/status.json, for daemoneye-cli
  std::unique_ptr<LiveQueryService> live_queries;  // live_query.enabled: signed queries over NATS

  ScanAssembler assembler;
  std::vector<ProcessEvent> pending_events;
  std::chrono::steady_clock::time_point pending_since{};  // arrival of the oldest pending event
  std::uint64_t scans = 0;
  std::uint64_t decode_errors = 0;
  std::int64_t last_retention = 0;
  bool told_unreadable = false;
  std::set<std::string> failing_rules;  // logged once until they succeed again
  // What the store refused (full disk, EIO), kept for a bounded retry.
  StoreBacklog backlog;
  BurstTrim burst_trim;  // malloc_trim after a burst of events (burst_trim.hpp)
  bool store_failing = false;  // logged once per outage
  std::int64_t store_failing_since = 0;  // Unix seconds; 0 while the store takes writes
  std::uint64_t outage_dropped = 0;      // events the full backlog dropped this outage (logged once, then at the end)

  // When collections stop (docs "When collections stop"): the last one's
  // arrival (or procmond's start or restart), whether the agent said so,
  // and the Sigma rules' own timer meanwhile.
  std::chrono::steady_clock::time_point last_collection = std::chrono::steady_clock::now();
  std::int64_t last_collection_unix = 0;
  bool collections_stale = false;
  std::int64_t stale_since = 0;
  std::uint64_t stale_restarts = 0;       // in this outage (the restart delay doubles)
  std::uint64_t stale_restarts_total = 0;
  std::chrono::steady_clock::time_point next_event_rules{};
  std::uint64_t event_rule_runs = 0;
  // The ledger's tree head to the sinks (kTreeHeadEvery).
  std::chrono::steady_clock::time_point next_tree_head = std::chrono::steady_clock::now() + kTreeHeadEvery;
  std::uint64_t tree_head_size = 0;

  // At start: the ledger found does not go on from the one the store
  // followed (ledger_continuity.hpp); one alert through submit, stored.
  // True once the alert is in the ledger (or was already: a dedup drop).
  bool raise_discontinuity(const LedgerDiscontinuity& d);
  // The ledger's tree head to the sinks now, the way the periodic one goes
  // (AlertPipeline::publish_tree_head); `when` names the moment in the log.
  void publish_tree_head(std::string_view when);
  // Hands pending_events to the backlog and writes what it holds: at once
  // when `force` or not backing off, else at the backoff's end.
  void flush_events(bool force = false);
  // A write of the backlog failed or succeeded: logs the outage's start and end.
  void store_outage(const Error& e, std::string_view what);
  void store_recovered();
  void on_collection(Collection c);
  void take_collection(Collection c);  // on_collection's work
  // Runs `which` (all rules, or the Sigma rules alone while collections are
  // stale), raises their alerts and stores them with the Sigma marks; fills
  // `scan`'s rule figures when given. `label` names the run in logs.
  void run_and_raise(const std::vector<Rule>& which, std::int64_t now, ScanRecord* scan, std::string_view label);
  // Called on every pass of the scan loop: notices collections that stopped
  // coming, runs the Sigma rules meanwhile, restarts procmond.
  void check_collections();
  void collections_status();
  // What the rate limit held back and had not told when the agent last
  // stopped (a SIGKILL, a crash: EventMarks::held in the store) is told now,
  // unless a summary found in `in_ledger` (the ledger past the store's mark,
  // read before the catch-up) or in the store told it.
  void tell_held_back_before_start(const std::map<AlertLedgerSync::SummaryKey, std::int64_t>& in_ledger);
  // Tells what the rate limit holds back now (a summary per rule) and
  // stores it with the marks; `when` names the moment in logs.
  void tell_held_back(std::string_view when);
  // Called on every pass of the scan loop: retries what is due.
  void retry_backlog();
  void maybe_retention(std::int64_t now);
  // SIGHUP: the rules and the trusted keys of `c` (see Agent::run); what it
  // refused, for status.json's reload (ReloadResult says what each result means).
  ReloadOutcome reload(const Config& c);
  // After procmond stopped: stores what waited and what it sent before, in
  // batches of kEventBatch, until `deadline`; logs and counts what is not
  // stored.
  void store_queued_at_stop(std::chrono::steady_clock::time_point deadline);
  // One message off the bus queue (waiting at most 50 ms): a process event
  // is appended to `into`. False once the queue is empty.
  bool take_queued(std::vector<ProcessEvent>& into);
  // Handles the snapshot chunks queued now (never waits), up to the first
  // complete collection: its rule pass may be long, and the run loop reads
  // signals between passes.
  void take_snapshots();
};

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Agent::~Agent() {
  if (!impl_) return;
  // Order: stop the producer first, then the transport, then flush.
  impl_->live_queries.reset();
  impl_->procmond.reset();
  impl_->events.unsubscribe();
  impl_->snapshots.unsubscribe();
  impl_->client.reset();
  impl_->broker.reset();
  impl_->flush_events(true);
}

Result<std::unique_ptr<Agent>> Agent::start(const Config& config, const fs::path& self_exe) {
  // SQLite's memory in this process, all connections together (set before
  // the store opens; the query engine would set the same otherwise). A
  // rule's SQL can be built so that merely compiling it doubles its memory
  // per nested CTE (the progress-handler time limit only starts once it
  // runs): past this limit SQLite fails that statement with "out of memory"
  // instead of the agent growing without bound. What a rule sorts beyond
  // its page cache spills to temporary files in the database directory,
  // capped per query (QueryLimits::temp_dir, max_temp_bytes). The store and
  // the rules need a few tens of MiB.
  sqlite3_hard_heap_limit64(kSqliteHeapLimit);
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  impl->host = host_name(config);
  const fs::path db_dir = config.database.path.parent_path().empty() ? fs::path(".") : config.database.path.parent_path();

  // An agent that runs without its rules raises nothing and looks healthy:
  // a typo in rules.dir, or a directory made group-writable, must stop it.
  // Checked first (the SQL is checked below, once the store exists), so a
  // bad directory creates and opens nothing.
  if (auto r = require_rules_dir(load_rules(config.rules.dir), config.rules.dir); !r) return std::unexpected(r.error());
  // Every other path it runs, writes or trusts (procmond.path, ledger.dir,
  // a file sink, key and credential files): owned by us or root and
  // writable by no one else, with the directories above it (path_trust.hpp).
  if (auto r = check_config_paths(config); !r) return std::unexpected(r.error());
  const fs::path procmond = find_procmond(config, self_exe);
  if (::access(procmond.c_str(), X_OK) != 0)
    return fail(ErrorCategory::not_found,
                fmt::format("procmond not found or not executable at {} (set procmond.path)", procmond.string()));
  // procmond's path is held to the owner/mode rule before every spawn, the
  // first and each restart (a crash, a stale procmond killed): a binary or
  // a directory above it made writable by others since is not run as root;
  // a restart is refused, logged, counted and tried again after the
  // backoff. It must exist, every component of it: a binary gone from a
  // sticky directory (/tmp) passes the rule, and any user could create it
  // there between the check and osl's exec. The default, beside the agent,
  // too: an agent run from a sticky directory (/tmp/x/daemoneye-agent) is
  // safe from others only while procmond is there. At start (check_config_
  // paths held a set procmond.path already) a refusal is a configuration
  // error, as check_config_paths' (exit 2), and made before anything is
  // created.
  const std::string procmond_key =
      config.procmond.path.empty() ? "procmond.path (default, beside the agent)" : "procmond.path";
  const auto procmond_trusted = [procmond, procmond_key] {
    return check_trusted_path(procmond, procmond_key, Missing::refused);
  };
  if (auto r = procmond_trusted(); !r) return std::unexpected(as_config_error(std::move(r.error())));

  // The state directory's lock first: a second agent on the same state
  // (the service and one started by hand) stops there, before it opens -
  // and, if it is newer, migrates - the store the first one is running on.
  if (auto r = Store::prepare_directory(config.database.path); !r) return std::unexpected(r.error());
  // The bus's own directory check, before the lock, the ledger and the
  // store put anything there: a refused directory is left as it was found.
  const fs::path socket = config.bus.socket.empty() ? db_dir / "bus.sock" : config.bus.socket;
  if (auto r = bus::Broker::check_directory({.socket_path = socket}); !r)
    return std::unexpected(bus_refused(config, socket, r.error()));
  auto state_lock = lock_state_dir(db_dir);
  if (!state_lock) return std::unexpected(state_lock.error());
  impl->state_lock = std::move(*state_lock);
  auto store = Store::open({.path = config.database.path,
                            .retention = {.max_age = config.database.max_age, .max_size_bytes = config.database.max_size},
                            .log = [](std::string_view m) { spdlog::warn("{}", m); }});
  if (!store) return std::unexpected(store.error());
  impl->store = std::move(*store);
  // The Sigma rules go on where the last stored scan left them: no event
  // read twice (duplicate alerts), none skipped across the restart.
  if (auto m = impl->store->event_marks()) {
    impl->event_marks = impl->saved_marks = std::move(*m);
  } else {
    spdlog::warn("cannot read the Sigma rules' marks back (they start from the last scan's events): {}",
                 m.error().message);
  }

  // The ledger after the store: a store that refuses the start (a newer
  // schema, ...) leaves an unreadable ledger where it is, and one that is
  // set aside is recorded in the store at once. Discontinuities an earlier
  // start found and did not raise (it failed after moving the mark) come
  // first; the ledger is compared with what the last of them found.
  std::vector<LedgerDiscontinuity> ledger_pending;
  if (auto p = impl->store->pending_ledger_discontinuities(); !p)
    spdlog::error("cannot read the audit ledger discontinuities an earlier start found and did not raise: {}",
                  p.error().message);
  else if (auto d = pending_from(*p); !d)
    spdlog::error("{}", d.error().message);
  else
    ledger_pending = std::move(*d);
  const std::size_t earlier = ledger_pending.size();
  if (earlier > 0)
    spdlog::warn("{} audit ledger discontinuit{} found by an earlier start that stopped before raising {}: raised now",
                 earlier, earlier == 1 ? "y" : "ies", earlier == 1 ? "it" : "them");
  bool ledger_created = false;
  auto ledger = open_ledger(ledger_dir_of(config, db_dir), *impl->store, ledger_pending, ledger_created);
  if (!ledger) return std::unexpected(ledger.error());
  impl->ledger = std::move(*ledger);

  // The ledger found against the store's mark of the one it followed, before
  // the catch-up moves the mark onto this one: a ledger moved away, deleted,
  // cut or rebuilt is said (raised below, once the pipeline exists), and the
  // agent goes on with the ledger it has. One that could not be compared (it
  // was unreadable and set aside above, or its root at the mark or the mark
  // could not be read) is raised too, as unverifiable. Saved in the store
  // before the catch-up moves the mark, cleared once raised.
  if (ledger_pending.size() == earlier) {  // not set aside
    const LedgerDiscontinuity* after = earlier > 0 ? &ledger_pending.back() : nullptr;
    std::optional<LedgerDiscontinuity> found;
    if (auto d = check_ledger_continuity(*impl->ledger, *impl->store, ledger_created, after); !d)
      found = unverifiable_ledger(*impl->ledger, *impl->store, d.error().message, after);
    else if (*d)
      found = std::move(*d);
    if (found) {
      ledger_pending.push_back(std::move(*found));
      if (auto r = impl->store->save_pending_ledger_discontinuities(pending_text(ledger_pending)); !r)
        spdlog::error("cannot record the audit ledger's discontinuity in the store (should this start fail before "
                      "raising it, the next start may not): {}",
                      r.error().message);
    }
  }
  for (std::size_t i = earlier; i < ledger_pending.size(); ++i)
    spdlog::error("{}; raised as alert {} and the agent goes on with this ledger (an operator's rotation looks the "
                  "same: docs/daemoneye.md \"Size and rotation\")",
                  describe(ledger_pending[i], impl->ledger->dir().string()), kLedgerDiscontinuityRule);

  // Before the dedup window is read back from the store (below).
  impl->alert_sync = std::make_unique<AlertLedgerSync>(*impl->ledger, *impl->store, config.database.max_age,
                                                       [](std::string_view m) { spdlog::warn("{}", m); });
  // A summary of what the rate limit held back that reached the ledger
  // before a kill lies past the store's mark: looked for before the
  // catch-up moves the mark, so it is found even when the catch-up cannot
  // store it (tell_held_back_before_start).
  std::map<AlertLedgerSync::SummaryKey, std::int64_t> summaries_in_ledger;
  if (!impl->event_marks.held.empty()) {
    if (auto s = impl->alert_sync->summaries_past_mark(); s)
      summaries_in_ledger = std::move(*s);
    else
      spdlog::warn("cannot read the rate limit's summaries back from the ledger (what the rate limit held back "
                   "before the restart is told unless the store holds its summary; it may be told twice): {}",
                   s.error().message);
  }
  const std::vector<Alert> unstored = catch_up_alerts(*impl->alert_sync, impl->ledger->dir());
  impl->alerts_unstored = impl->alert_sync->behind();  // logged already; the recovery is said by the scan

  auto engine = QueryEngine::open(config.database.path, {.time = config.rules.timeout,
                                                         .max_rows = config.rules.max_rows,
                                                         .max_bytes = config.rules.max_bytes,
                                                         .temp_dir = directory_of(config.database.path)});
  if (!engine) return std::unexpected(engine.error());
  impl->engine = std::move(*engine);

  RuleSet set = load_rules(config.rules.dir, impl->engine.get());
  // Again: the directory may have changed since the check above.
  if (auto r = require_rules_dir(set, config.rules.dir); !r) return std::unexpected(r.error());
  for (const auto& e : set.errors) spdlog::error("rule rejected: {}", e.message);
  for (const auto& note : set.ignored) spdlog::warn("{}", note);
  for (const auto& r : set.rules)
    for (const auto& w : r.warnings) spdlog::warn("{}", w);
  impl->rules = std::move(set.rules);
  const std::size_t enabled = enabled_count(impl->rules);
  spdlog::info("{} rules loaded from {} ({} enabled, {} rejected)", impl->rules.size(), config.rules.dir.string(), enabled,
               set.errors.size());
  warn_if_none_enabled(enabled, config.rules.dir, "");
  // At start the exceptions that pass load and the refused ones do not
  // (their matches raise): there are no older ones to keep.
  std::vector<std::string> exceptions_rejected;
  ExceptionSet exceptions = load_rule_exceptions(config, impl->rules, *impl->engine, "", exceptions_rejected);
  if (!config.rules.exceptions.empty())
    spdlog::info("{} rule exceptions loaded from {} ({} rejected)", exceptions.exceptions.size(),
                 config.rules.exceptions.string(), exceptions.errors.size());
  impl->exceptions.replace(std::move(exceptions.exceptions));

  auto alerts = AlertPipeline::create(config.alerts, impl->ledger, [](std::string_view m) { spdlog::warn("alerts: {}", m); });
  if (!alerts) return std::unexpected(alerts.error());
  impl->alerts = std::move(*alerts);
  remember_recent_alerts(config, *impl->alerts, unstored);
  if (!ledger_pending.empty()) {
    bool all_raised = true;
    for (const LedgerDiscontinuity& d : ledger_pending) all_raised = impl->raise_discontinuity(d) && all_raised;
    // In the ledger now (a dedup drop: it was, by a start that failed to
    // clear this): no later start raises them again.
    if (all_raised)
      if (auto r = impl->store->save_pending_ledger_discontinuities(""); !r)
        spdlog::error("the audit ledger's discontinuity is raised; clearing the store's record of it failed (the "
                      "next start finds it raised, within alerts.dedup_window): {}",
                      r.error().message);
  }
  impl->tell_held_back_before_start(summaries_in_ledger);
  // What the previous run left (and what this start appended) gets a tree
  // head at once, not 10 minutes from now.
  impl->publish_tree_head("starting");

  if (config.events.nats) {
    auto forwarder = EventForwarder::open(*config.events.nats, impl->host,
                                          [](std::string_view m) { spdlog::warn("events: {}", m); });
    if (!forwarder) return std::unexpected(forwarder.error());
    impl->event_forwarder = std::move(*forwarder);
  }

  if (config.live_query.enabled) {
    // Every decision goes to the audit ledger beside the alerts (an accepted
    // query only runs once its entry is synced).
    auto audit = [ledger = impl->ledger](const LiveQueryAuditRecord& r) -> Result<void> {
      const std::string entry = audit_json(r);
      if (auto a = ledger->append({reinterpret_cast<const std::uint8_t*>(entry.data()), entry.size()}); !a)
        return std::unexpected(Error{category_of(a.error()), a.error().errno_value,
                                     fmt::format("audit ledger {}: {}", ledger->dir().string(), a.error().to_string())});
      return {};
    };
    auto lq = LiveQueryService::start({.config = config.live_query,
                                       .host = impl->host,
                                       .database = config.database.path,
                                       .max_bytes = config.rules.max_bytes,
                                       .audit = std::move(audit),
                                       .log_info = [](std::string_view m) { spdlog::info("{}", m); },
                                       .log_warn = [](std::string_view m) { spdlog::warn("{}", m); },
                                       .now = {}});
    if (!lq) return std::unexpected(lq.error());
    impl->live_queries = std::move(*lq);
  }

  bus::BrokerOptions bo;
  bo.socket_path = socket;
  bo.log = [](std::string_view m) { spdlog::debug("bus: {}", m); };
  auto broker = bus::Broker::start(std::move(bo));
  if (!broker) return std::unexpected(bus_refused(config, socket, broker.error()));
  impl->broker = std::move(*broker);

  auto client = bus::Client::connect({.socket_path = socket, .on_error = [](const bus::Error& e) {
                                        spdlog::warn("bus: {}", e.to_string());
                                      }});
  if (!client) return fail(ErrorCategory::unavailable, "bus client: " + client.error().to_string());
  impl->client = std::move(*client);
  // The broker queues up to 64 Ki messages / 256 MiB for us; a full queue
  // drops the newest, which the assembler sees as a gap (an incomplete scan).
  // The collections' own subscription (taken ahead of the event backlog,
  // which also receives copies of them) has the same bounds.
  const bus::SubscribeOptions queue_bounds{.policy = bus::Policy::drop_newest,
                                           .max_msgs = 65536,
                                           .max_bytes = 256ull * 1024 * 1024,
                                           .pull_capacity = 65536};
  auto sub = impl->client->subscribe_pull(kSubjectAll, queue_bounds);
  if (!sub) return fail(ErrorCategory::unavailable, "bus subscribe: " + sub.error().to_string());
  impl->events = std::move(*sub);
  auto snap = impl->client->subscribe_pull(kSubjectSnapshot, queue_bounds);
  if (!snap) return fail(ErrorCategory::unavailable, "bus subscribe: " + snap.error().to_string());
  impl->snapshots = std::move(*snap);
  if (auto f = impl->client->flush(); !f) return fail(ErrorCategory::unavailable, "bus flush: " + f.error().to_string());

  std::vector<std::string> procmond_args{"--bus", socket.string(), "--interval", ms_text(config.scan.interval),
                                         "--hash-max-size", std::to_string(config.procmond.hash_max_size),
                                         "--events", config.procmond.events, "--event-budget",
                                         std::to_string(config.procmond.event_budget)};
  if (!config.procmond.sockets) procmond_args.emplace_back("--no-sockets");
  for (const auto& [flag, file] : {std::pair{"--passwd", &config.procmond.passwd}, {"--group", &config.procmond.group}}) {
    if (file->empty()) continue;
    procmond_args.emplace_back(flag);
    procmond_args.push_back(file->string());
  }
  ProcmondOptions po{.program = procmond,
                     .args = std::move(procmond_args),
                     .audit_log = db_dir / "osl-audit.jsonl",
                     .restart_initial = config.procmond.restart_initial,
                     .restart_max = config.procmond.restart_max,
                     .log_info = [](std::string_view m) { spdlog::info("{}", m); },
                     .log_error = [](std::string_view m) { spdlog::error("{}", m); },
                     .before_spawn = procmond_trusted};
  auto sup = ProcmondSupervision::start(std::move(po));
  if (!sup) return std::unexpected(sup.error());
  impl->procmond = std::move(*sup);
  auto status = StatusReporter::start({.path = status_file_for(config.database.path),
                                       .database = config.database.path,
                                       .host = impl->host,
                                       .scan_interval = config.scan.interval,
                                       .rules_loaded = impl->rules.size(),
                                       .rules_enabled = enabled,
                                       .rules_rejected = std::move(set.errors),
                                       .log_warn = [](std::string_view m) { spdlog::warn("{}", m); },
                                       .log_info = [](std::string_view m) { spdlog::info("{}", m); },
                                       .events = impl->event_forwarder.get(),
                                       .live_queries = impl->live_queries.get(),
                                       .exceptions = &impl->exceptions,
                                       .exceptions_rejected = std::move(exceptions_rejected)},
                                      *impl->client, *impl->procmond, *impl->alerts);
  if (!status) return std::unexpected(status.error());
  impl->status = std::move(*status);
  // procmond runs from now: its first collection is awaited from here.
  impl->last_collection = std::chrono::steady_clock::now();
  impl->collections_status();
  if (auto w = stop_timeout_warning(config, started_by_systemd())) spdlog::warn("{}", *w);
  spdlog::info("agent running: database {}, bus {}, scan interval {}, host {}", config.database.path.string(),
               socket.string(), ms_text(config.scan.interval), impl->host);
  return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::Impl::flush_events(bool force) {
  if (!pending_events.empty()) {
    // Forwarded whether or not the store takes them: only a spool append, never a wait for NATS.
    if (event_forwarder) event_forwarder->forward(pending_events);
    const auto dropped_before = backlog.counters().events_dropped;
    backlog.add_events(std::move(pending_events));
    pending_events.clear();
    if (const auto dropped = backlog.counters().events_dropped - dropped_before; dropped > 0) {
      // Once per outage (the count at its end): a full disk fills the
      // backlog every batch.
      if (outage_dropped == 0)
        spdlog::warn("the store backlog is full: the {} oldest waiting process events are dropped, and from now on "
                     "the oldest are dropped as new ones arrive until the store writes again (counted in "
                     "status.json's events_dropped)",
                     dropped);
      outage_dropped += dropped;
    }
  }
  if (!store || backlog.events_empty()) return;
  auto r = backlog.write_events(*store, std::chrono::steady_clock::now(), force);
  if (!r) {
    store_outage(r.error(), "storing process events");
  } else if (store_failing && backlog.empty()) {
    store_recovered();
  }
  if (status) status->store_counters(backlog.counters());
}

void Agent::Impl::store_outage(const Error& e, std::string_view what) {
  const auto c = backlog.counters();
  if (!store_failing) {
    store_failing = true;
    store_failing_since = unix_now();
    spdlog::error("{} failed: {}; kept for a retry: {} events{} (at most {} batches / {} MiB of events); no rule "
                  "runs until the store writes again (the rules read what is stored)",
                  what, e.message, c.events_pending, backlog.has_collection() ? " and the latest collection" : "",
                  StoreBacklogOptions{}.max_batches, StoreBacklogOptions{}.max_bytes >> 20);
  }
  if (status) {
    status->store_counters(c);
    status->store_failing_since(store_failing_since);
  }
}

void Agent::Impl::store_recovered() {
  store_failing = false;
  const auto c = backlog.counters();
  spdlog::info("the store writes again after {} s: what was kept is stored ({} failed writes, {} events dropped in "
               "this outage, {} so far)",
               unix_now() - store_failing_since, c.store_failures, outage_dropped, c.events_dropped);
  store_failing_since = 0;
  outage_dropped = 0;
  if (status) {
    status->store_counters(c);
    status->store_failing_since(0);
  }
}

void Agent::Impl::retry_backlog() {
  if (backlog.empty() || !backlog.due(std::chrono::steady_clock::now())) return;
  flush_events();
  if (backlog.events_empty() && backlog.has_collection()) {
    if (auto c = backlog.take_collection()) on_collection(std::move(*c));
  }
}

void Agent::Impl::maybe_retention(std::int64_t now) {
  if (now - last_retention < 60) return;
  last_retention = now;
  auto r = store->enforce_retention(now);
  if (!r) {
    spdlog::error("retention failed: {}", r.error().message);
    return;
  }
  if (r->events_deleted + r->alerts_deleted + r->scans_deleted > 0)
    spdlog::info("retention removed {} events, {} alerts, {} scans", r->events_deleted, r->alerts_deleted,
                 r->scans_deleted);
}

void Agent::Impl::on_collection(Collection c) {
  take_collection(std::move(c));
  // Stamped again once it is handled: the time the agent spent storing it
  // and running its own rules is no time procmond failed to send one (a
  // rule pass of minutes must not make procmond stale, nor get it killed).
  last_collection = std::chrono::steady_clock::now();
}

void Agent::Impl::take_collection(Collection c) {
  last_collection = std::chrono::steady_clock::now();
  last_collection_unix = unix_now();
  if (collections_stale) {
    spdlog::info("process collections arrive again (none for {} s{}); the rules over processes run again",
                 last_collection_unix - stale_since,
                 stale_restarts > 0 ? fmt::format(", procmond restarted {} times for it", stale_restarts) : "");
    collections_stale = false;
    stale_since = 0;
    stale_restarts = 0;
  }
  collections_status();
  // A new collection is the "next scan": what waits is retried now.
  flush_events(true);
  if (!backlog.events_empty()) {
    // Events older than this collection are still unwritten; it waits
    // behind them (the newest collection only: it supersedes older ones).
    backlog.keep_collection(std::move(c));
    if (status) status->store_counters(backlog.counters());
    return;
  }
  const std::int64_t now = unix_now();
  ScanRecord scan{.scan_id = c.scan_id, .time = c.time, .processes = static_cast<std::uint32_t>(c.processes.size()),
                  .unreadable = c.unreadable, .collect_us = c.collect_us};

  if (c.unreadable > 0 && !told_unreadable && ::geteuid() != 0) {
    told_unreadable = true;
    std::string some;
    int n = 0;
    for (const auto& p : c.processes) {
      if (!p.partial) continue;
      if (n++ < 10) some += fmt::format("{}{} ({})", some.empty() ? "" : ", ", p.pid, p.name);
    }
    spdlog::warn("not running as root: {} of {} processes could not be fully read (their cwd, executable hash or I/O "
                 "counters are missing), e.g. {}",
                 c.unreadable, c.processes.size(), some);
  }

  auto t0 = std::chrono::steady_clock::now();
  auto applied = store->apply_snapshot(c.processes);
  scan.store_us = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count());
  if (!applied) {
    // Nothing of this scan was written: kept, retried with backoff, and
    // superseded by the next collection if that comes first.
    backlog.failed(applied.error(), std::chrono::steady_clock::now());
    const Error e = applied.error().prefixed(fmt::format("scan {}", c.scan_id));
    backlog.keep_collection(std::move(c));
    store_outage(e, "storing a collection");
    return;
  }
  backlog.succeeded();
  if (store_failing && backlog.empty()) store_recovered();
  scan.applied = *applied;
  // The sockets of this collection; a failure leaves the previous rows (one
  // scan stale at most while the store is sound) and is logged.
  if (auto r = store->replace_sockets(c.sockets); !r)
    spdlog::error("storing the sockets of scan {} failed: {}", c.scan_id, r.error().message);
  if (auto r = store->replace_memory_maps(c.memory_maps); !r)
    spdlog::error("storing the memory maps of scan {} failed: {}", c.scan_id, r.error().message);
  // The accounts, when this collection carried them (likewise).
  if (c.users)
    if (auto r = store->replace_users(*c.users); !r)
      spdlog::error("storing the users of scan {} failed: {}", c.scan_id, r.error().message);
  if (c.groups)
    if (auto r = store->replace_groups(*c.groups); !r)
      spdlog::error("storing the groups of scan {} failed: {}", c.scan_id, r.error().message);

  run_and_raise(rules, now, &scan, fmt::format("scan {}", c.scan_id));
  if (auto r = store->record_scan(scan); !r) spdlog::error("recording scan {} failed: {}", c.scan_id, r.error().message);
  status->scan_done(scan, failing_rules,
                    c.unreadable > 0 ? unreadable_sample(c.processes) : std::vector<UnreadableProcess>{});
  if (++scans == 1)
    spdlog::info("first scan stored: {} processes ({} inserted) in {} ms, rules in {} ms", scan.processes,
                 scan.applied.inserted, scan.store_us / 1000, scan.rules_us / 1000);
  spdlog::debug("scan {}: {} processes, +{} ~{} -{}, {} alerts, collect {} us, store {} us, rules {} us", c.scan_id,
                scan.processes, scan.applied.inserted, scan.applied.updated, scan.applied.deleted, scan.alerts,
                scan.collect_us, scan.store_us, scan.rules_us);
  maybe_retention(now);
}

void Agent::Impl::run_and_raise(const std::vector<Rule>& which, std::int64_t now, ScanRecord* scan,
                                std::string_view label) {
  // The rules' marks as they were (`held` changes only with a submit that
  // succeeded, so it is not copied every scan).
  auto covered_before = event_marks.covered;
  auto narrowed_before = event_marks.narrowed;
  // What an operator declared known and fine (rule exceptions) raises
  // nothing, before dedup, the rate limit and the ledger; it is counted.
  // Taken as the rows are read, so excepted rows use none of max_rows.
  RuleRun run = run_rules(which, *engine, host, now, event_marks, &exceptions);
  // A cut result hides the rows past it: said every time, and counted.
  for (const RuleCut& c : run.cut) {
    spdlog::warn("rule {}: its result was cut at {} rows ({} more taken by rule exceptions): rows past the cut are "
                 "not seen this run (rules.max_rows {}, rules.max_bytes; at most {} rows read in all with "
                 "exceptions)",
                 c.rule_id, c.rows, c.excepted, engine->limits().max_rows,
                 kMaxRowsReadFactor * engine->limits().max_rows);
    if (status) status->rule_cut(c.rule_id);
  }
  // What the exceptions logged, kept queryable (excepted_alerts).
  if (auto rec = exceptions.take_recorded(); !rec.empty()) {
    std::vector<ExceptedAlert> rows;
    rows.reserve(rec.size());
    for (auto& r : rec)
      rows.push_back({r.time, std::move(r.rule_id), std::move(r.exception_id), std::move(r.dedup_key),
                      std::move(r.row_json)});
    if (auto w = store->insert_excepted(rows); !w)
      spdlog::warn("storing {} rows rule exceptions silenced in excepted_alerts failed (they are in the log): {}",
                   rows.size(), w.error().message);
  }
  if (scan) {
    scan->rules_us = static_cast<std::uint64_t>(run.elapsed.count());
    scan->rule_errors = static_cast<std::uint32_t>(run.failures.size());
  }
  // Rules not run now (the rules over processes, while only the Sigma rules
  // run) keep their state of failing.
  std::set<std::string> failing_now;
  for (const auto& id : failing_rules)
    if (std::ranges::none_of(which, [&](const Rule& r) { return r.id == id; })) failing_now.insert(id);
  for (const auto& f : run.failures) {
    failing_now.insert(f.rule_id);
    if (!failing_rules.contains(f.rule_id)) spdlog::error("rule {} failed: {}", f.rule_id, f.message);
  }
  for (const auto& id : failing_rules)
    if (!failing_now.contains(id)) spdlog::info("rule {} runs again", id);
  failing_rules = std::move(failing_now);

  std::vector<Alert> raised;
  // Also without candidates while the rate limit holds alerts back: their
  // summary is raised once it is due (AlertPipeline::holds_back).
  if (!run.candidates.empty() || alerts->holds_back()) {
    const std::uint64_t ledger_before = ledger->size();
    auto outcome = alerts->submit(std::move(run.candidates), now);
    if (!outcome) {
      // Not raised: the Sigma rules read the same events again next scan.
      spdlog::error("alerts of {} not raised: {}", label, outcome.error().message);
      event_marks.covered = std::move(covered_before);
      event_marks.narrowed = std::move(narrowed_before);
      // The ledger's head on disk may count them all the same (a head write
      // that failed late): the next start keeps them out of the store.
      if (auto r = alert_sync->append_failed(ledger_before); !r)
        spdlog::error("noting in the store that alerts past ledger entry {} were not raised failed: {}", ledger_before,
                      r.error().message);
    } else {
      raised = std::move(outcome->raised);
      // What is still owed a summary goes into the store with the marks
      // past its events (EventMarks::held).
      if (event_marks.held != alerts->held_state()) event_marks.held = alerts->held_state();
    }
  }
  // The raised alerts (durable in the ledger already) and the marks past
  // their events, one transaction; the marks only when they moved. Alerts
  // the store refused stay in the ledger and are stored with a later scan
  // (or at the next start): AlertLedgerSync::behind.
  if (!raised.empty() || event_marks != saved_marks || alert_sync->behind()) {
    if (scan) scan->alerts = static_cast<std::uint32_t>(raised.size());
    if (auto r = alert_sync->store(raised, event_marks, now); !r) {
      if (!alerts_unstored)
        spdlog::error("storing {} alerts and the Sigma rules' marks failed (the alerts are in the ledger; they are "
                      "stored once the store takes them): {}",
                      raised.size(), r.error().message);
      alerts_unstored = true;
    } else {
      saved_marks = event_marks;
      if (alerts_unstored)
        spdlog::info("the store takes alerts again: {} stored, with those it refused before", *r);
      alerts_unstored = false;
    }
  }
}

void Agent::Impl::tell_held_back_before_start(const std::map<AlertLedgerSync::SummaryKey, std::int64_t>& in_ledger) {
  if (event_marks.held.empty()) return;
  // A summary that reached the ledger before the kill is past the store's
  // mark (`in_ledger`), or in the store (a catch-up of an earlier start
  // moved the mark past it): what it told is not told again.
  const auto raised = [&](const std::string& rule, const std::string& key) -> std::optional<std::int64_t> {
    if (const auto it = in_ledger.find(AlertLedgerSync::SummaryKey{rule, key}); it != in_ledger.end())
      return it->second;
    auto at = store->alert_raised_at(rule, key);
    if (!at) {
      spdlog::warn("cannot tell whether the rate limit's summary for rule {} was raised: {}", rule, at.error().message);
      return std::nullopt;
    }
    return *at;
  };
  const HeldRestore r = alerts->restore_held_back(event_marks.held, raised);
  for (const auto& rule : r.unreadable)
    spdlog::error("what the rate limit held back of rule {} before the restart cannot be read back from the store; "
                  "it is not told (its events are in process_events)",
                  rule);
  event_marks.held = alerts->held_state();
  if (r.restored > 0) {
    spdlog::warn("the rate limit held back alerts of {} rule{} that no summary told before the agent stopped (killed "
                 "or crashed): told now",
                 r.restored, r.restored == 1 ? "" : "s");
    tell_held_back("starting");
  } else if (event_marks != saved_marks) {
    // Told before the kill: the store's copy goes (else the next start
    // finds the same summary again).
    if (auto stored = alert_sync->store({}, event_marks, unix_now()); stored)
      saved_marks = event_marks;
    else
      spdlog::error("starting: the rate limit's summaries raised before the restart told what the store holds as "
                    "owed; removing that from the store failed (a later scan does it): {}",
                    stored.error().message);
  }
}

void Agent::Impl::tell_held_back(std::string_view when) {
  const std::int64_t now = unix_now();
  auto told = alerts->tell_held_back(now);
  if (!told) {
    spdlog::error("{}: the summary of the alerts the rate limit held back is not raised: {}", when,
                  told.error().message);
    return;
  }
  event_marks.held = alerts->held_state();
  if (auto r = alert_sync->store(told->raised, event_marks, now); !r)
    spdlog::error("{}: storing the rate limit's summary failed (it is in the ledger; the next start stores it): {}",
                  when, r.error().message);
  else
    saved_marks = event_marks;
}

bool Agent::Impl::raise_discontinuity(const LedgerDiscontinuity& d) {
  const std::int64_t now = unix_now();
  auto outcome = alerts->submit({discontinuity_alert(d, ledger->dir().string(), host, now)}, now);
  if (!outcome) {
    spdlog::error("starting: the alert {} is not raised (the store keeps it for the next start): {}",
                  kLedgerDiscontinuityRule, outcome.error().message);
    return false;
  }
  if (auto r = alert_sync->store(outcome->raised, event_marks, now); !r)
    spdlog::error("starting: storing the alert {} failed (it is in the ledger; a later scan or start stores it): {}",
                  kLedgerDiscontinuityRule, r.error().message);
  else
    saved_marks = event_marks;
  return true;
}

void Agent::Impl::publish_tree_head(std::string_view when) {
  tree_head_size = alerts->publish_tree_head(unix_now(), host);
  next_tree_head = std::chrono::steady_clock::now() + kTreeHeadEvery;
  spdlog::info("{}: the audit ledger's tree head is handed to the sinks: {} entries", when, tree_head_size);
}

void Agent::Impl::collections_status() {
  if (!status) return;
  status->collections({.last = last_collection_unix,
                       .stale = collections_stale,
                       .stale_since = stale_since,
                       .stale_after_ms = stale_after(config.scan.interval).count(),
                       .restarts = stale_restarts_total});
}

void Agent::Impl::check_collections() {
  using Clock = std::chrono::steady_clock;
  const auto now = Clock::now();
  const auto gap = now - last_collection;
  if (!collections_stale && gap > stale_after(config.scan.interval)) {
    collections_stale = true;
    stale_since = unix_now();
    next_event_rules = now;
    spdlog::error("no process collection from procmond for {} (stale after {}: 3 scan intervals + 2 s): the rules "
                  "over processes do not run; the Sigma rules run over the stored process events every scan "
                  "interval meanwhile; procmond is restarted if none arrives within {} of the last",
                  seconds_text(gap), seconds_text(stale_after(config.scan.interval)),
                  seconds_text(restart_after(config.scan.interval, stale_restarts)));
    collections_status();
  }
  if (!collections_stale) return;
  if (now >= next_event_rules) {
    next_event_rules = now + config.scan.interval;
    // The time of this run is the agent's own, not procmond's: it does not
    // count towards the restart (as on_collection's rule pass does not).
    struct Excluded {
      Clock::time_point& last;
      Clock::time_point t0 = Clock::now();
      ~Excluded() { last += Clock::now() - t0; }
    } excluded{last_collection};
    // What procmond's event source sent is stored first, so the rules see it.
    flush_events(true);
    std::vector<Rule> sigma;
    for (const Rule& r : rules)
      if (r.enabled && r.sigma) sigma.push_back(r);
    if (!sigma.empty() && backlog.events_empty()) {
      run_and_raise(sigma, unix_now(), nullptr, "the Sigma rules' run without a collection");
      ++event_rule_runs;
    }
  }
  if (gap > restart_after(config.scan.interval, stale_restarts)) {
    const auto pid = procmond->procmond_pid();
    if (auto k = procmond->kill_procmond(); !k) {
      spdlog::error("no process collection for {}: cannot restart procmond: {}", seconds_text(gap), k.error().message);
    } else {
      ++stale_restarts;
      ++stale_restarts_total;
      spdlog::error("no process collection for {}: procmond (pid {}) killed (SIGKILL) to be restarted (restart {} "
                    "for it in this outage; the next after {})",
                    seconds_text(gap), pid.value_or(-1), stale_restarts,
                    seconds_text(restart_after(config.scan.interval, stale_restarts)));
    }
    last_collection = now;  // the restarted procmond's time starts now
    collections_status();
  }
}

ReloadOutcome Agent::Impl::reload(const Config& c) {
  ReloadOutcome out;
  // A secret of the configuration (NATS credentials, a TLS private key)
  // readable by others is said now, not only at the next start (exit 2). It
  // does not stop the reload: a reload reads no secret (the sinks keep what
  // they read at start), and refusing it would keep a revoked key trusted.
  if (auto secrets = check_config_secrets(c); !secrets) {
    spdlog::error("reload: {} (the next start refuses it; the reload goes on)",
                  secrets.error().message);
    out.refused(ReloadResult::partial, fmt::format("the next start refuses the configuration: {}", secrets.error().message));
  }
  // The owner/mode rule of the start (check_config_paths) holds for what a
  // reload takes again: rules.dir's chain and each trusted key.
  const Result<void> dir_trusted = check_trusted_path(c.rules.dir, "rules.dir");
  RuleSet set = dir_trusted ? load_rules(c.rules.dir, engine.get()) : RuleSet{};
  if (!dir_trusted) {
    spdlog::error("reload: rules not loaded, the {} rules in use are kept: {}", rules.size(),
                  dir_trusted.error().message);
    out.refused(ReloadResult::failed, fmt::format("rules not loaded, the rules in use are kept: {}",
                                                  dir_trusted.error().message));
  } else if (const RuleError* refused = directory_refused(set, c.rules.dir)) {
    spdlog::error("reload: rules not loaded, the {} rules in use are kept: {}", rules.size(), refused->message);
    out.refused(ReloadResult::failed, fmt::format("rules not loaded, the rules in use are kept: {}", refused->message));
  } else {
    if (!set.errors.empty()) {
      std::string files = fmt::format("{} rule file{} rejected (not run)", set.errors.size(),
                                      set.errors.size() == 1 ? "" : "s");
      for (std::size_t i = 0; i < set.errors.size(); ++i) files += (i == 0 ? ": " : ", ") + set.errors[i].message;
      out.refused(ReloadResult::partial, files);
    }
    for (const auto& e : set.errors) spdlog::error("rule rejected: {}", e.message);
    for (const auto& note : set.ignored) spdlog::warn("reload: {}", note);
    for (const auto& r : set.rules)
      for (const auto& w : r.warnings) spdlog::warn("reload: {}", w);
    // Which rules the reload changed, not only how many there are: an
    // edited file, or one now rejected (its rule no longer runs), is named.
    const RuleChanges changes = rule_changes(rules, set.rules);
    rules = std::move(set.rules);
    // A rule gone with the reload neither fails nor "runs again".
    std::erase_if(failing_rules, [&](const std::string& id) {
      return std::ranges::none_of(rules, [&](const Rule& r) { return r.id == id && r.enabled; });
    });
    const std::size_t enabled = enabled_count(rules);
    spdlog::info("reload: {} rules loaded from {} ({} enabled, {} rejected)", rules.size(), c.rules.dir.string(),
                 enabled, set.errors.size());
    spdlog::info("reload: {}", describe(changes));
    warn_if_none_enabled(enabled, c.rules.dir, "reload: ");
    status->rules_loaded(rules.size(), enabled, set.errors);
  }
  // The rule exceptions, checked against the rules now in force. A load that
  // refuses something keeps the old version only of what it could not judge
  // (an entry refused by id, the entries of a file refused as a whole):
  // an entry removed in the same edit as a typo elsewhere is gone, not kept
  // in force by the typo (merge_on_reload). A missing file is none.
  {
    std::vector<std::string> rejected;
    ExceptionSet x = load_rule_exceptions(c, rules, *engine, "reload: ", rejected);
    if (!rejected.empty()) {
      std::vector<std::string> kept;
      const std::size_t loaded = x.exceptions.size();
      std::vector<RuleException> merged = merge_on_reload(exceptions.exceptions(), x, kept);
      std::string what =
          fmt::format("rule exceptions: {} refused, {} loaded, the old version of {} kept{}{}", rejected.size(), loaded,
                      kept.size(), kept.empty() ? "" : " (", kept.empty() ? "" : fmt::format("{})", fmt::join(kept, ", ")));
      spdlog::error("reload: {}", what);
      for (std::size_t i = 0; i < rejected.size(); ++i) what += (i == 0 ? ": " : ", ") + rejected[i];
      out.refused(ReloadResult::partial, what);
      exceptions.replace(std::move(merged));
    } else {
      if (!c.rules.exceptions.empty() || !exceptions.exceptions().empty())
        spdlog::info("reload: {} rule exceptions loaded from {}", x.exceptions.size(),
                     c.rules.exceptions.empty() ? std::string("nowhere (rules.exceptions is empty)")
                                                : c.rules.exceptions.string());
      exceptions.replace(std::move(x.exceptions));
    }
    status->exceptions_rejected(std::move(rejected));
  }
  // Each key file on its own (fail closed): one refused by the owner/mode
  // rule, or that does not load, is dropped and the others load, so a bad
  // file never keeps a revoked key trusted (reload_trusted_keys).
  if (live_queries && c.live_query.enabled) {
    const TrustedKeysReload k = live_queries->reload_trusted_keys(c.live_query.trusted_keys);
    for (const auto& e : k.dropped) {
      spdlog::error("reload: a trusted key file did not load, its key is not trusted: {}", e.message);
      out.refused(ReloadResult::partial, fmt::format("a trusted key file did not load: {}", e.message));
    }
    if (k.trusted == 0)
      spdlog::error("reload: live queries trust no key now: every query is refused until a reload loads one");
    else
      spdlog::info("reload: live queries trust {} keys", k.trusted);
  } else if (c.live_query.enabled != (live_queries != nullptr)) {
    spdlog::warn("reload: live_query.enabled changed; that takes effect at a restart");
  }
  return out;
}

void Agent::Impl::take_snapshots() {
  while (auto msg = snapshots.next(0ms)) {
    auto chunk = decode_snapshot(msg->payload);
    if (!chunk) {
      if (decode_errors++ < 10) spdlog::warn("bad snapshot message: {}", chunk.error().message);
      continue;
    }
    if (auto c = assembler.add(std::move(*chunk))) {
      on_collection(std::move(*c));
      return;
    }
  }
}

bool Agent::Impl::take_queued(std::vector<ProcessEvent>& into) {
  auto msg = events.next(50ms);
  if (!msg) return false;
  if (msg->subject != kSubjectSnapshot)
    if (auto event = decode_event(msg->payload)) into.push_back(std::move(*event));
  return true;
}

void Agent::Impl::store_queued_at_stop(std::chrono::steady_clock::time_point deadline) {
  using Clock = std::chrono::steady_clock;
  // First what waited from before the stop (the events of the last few ms,
  // a backlog kept while the store failed): one forced flush, started only
  // before the deadline (its own length is not bounded by it: docs "The
  // agent"). The counts come from the backlog, so an event the backlog
  // dropped on the way is never counted as stored.
  const StoreBacklogCounters before = backlog.counters();
  const std::uint64_t waited = before.events_pending + pending_events.size();
  std::uint64_t stored_waiting = 0;
  if (waited > 0 && Clock::now() < deadline) {
    flush_events(true);
    const StoreBacklogCounters after = backlog.counters();
    stored_waiting = waited - after.events_pending - (after.events_dropped - before.events_dropped);
  }
  // Then the bus queue, a batch at a time, each stored before the next is
  // taken: memory stays bounded and the deadline is looked at between
  // transactions. A batch the store refuses stays in the backlog and ends it.
  std::uint64_t stored_taken = 0, batches = 0;
  bool queue_empty = false;
  while (backlog.events_empty() && Clock::now() < deadline) {
    while (!queue_empty && pending_events.size() < kEventBatch) queue_empty = !take_queued(pending_events);
    if (pending_events.empty()) break;
    const std::size_t n = pending_events.size();
    flush_events(true);
    if (!backlog.events_empty()) break;
    stored_taken += n;
    ++batches;
  }
  if (stored_waiting + stored_taken > 0)
    spdlog::info("stopping: {} process events stored: {} that waited from before the stop, {} taken off the bus at "
                 "the stop in {} batch{}",
                 stored_waiting + stored_taken, stored_waiting, stored_taken, batches, batches == 1 ? "" : "es");

  // Given up: what the store refused or the deadline left waiting, and what
  // is still on the bus (it dies with the broker). Counted as status.json's
  // events_dropped and said, never lost silently.
  const bool store_refused = !backlog.events_empty();
  backlog.add_events(std::move(pending_events));
  pending_events.clear();
  // A collection kept from while the store was failing goes too: said, as
  // the events are (its scan row and process table are the next start's).
  if (backlog.has_collection())
    spdlog::error("stopping: the last process collection, kept while the store was failing, is not stored (the next "
                  "start collects afresh)");
  std::uint64_t lost = backlog.drop_all();
  bool counted_all = true;
  if (!queue_empty) {
    // Counted, not decoded: every message but a collection's is a process
    // event (one that would not decode counts too).
    std::uint64_t rest = 0;
    counted_all = false;
    for (const auto until = Clock::now() + kStopCountTime; !counted_all && Clock::now() < until;) {
      auto msg = events.next(50ms);
      if (!msg)
        counted_all = true;
      else if (msg->subject != kSubjectSnapshot)
        ++rest;
    }
    lost += rest;
    backlog.count_dropped(rest);
  }
  if (lost > 0 || !counted_all)
    spdlog::error("stopping: {}{} process events were not stored {} and are lost (process_events misses them; the "
                  "next start's first collection brings processes up to date)",
                  counted_all ? "" : "at least ", lost,
                  store_refused ? std::string("because the store still fails")
                                : fmt::format("within {} of the stop (database.stop_timeout)",
                                              ms_text(config.database.stop_timeout)));
  status->store_counters(backlog.counters());
}

int Agent::run(int signal_fd, std::function<Result<Config>()> reload) {
  Impl& s = *impl_;
  for (;;) {
    signalfd_siginfo si{};
    ssize_t n = ::read(signal_fd, &si, sizeof si);
    if (n == static_cast<ssize_t>(sizeof si) && si.ssi_signo == SIGHUP) {
      if (!reload) continue;
      spdlog::info("SIGHUP received: loading the rules and the trusted keys again (other settings need a restart)");
      // The outcome goes to status.json too: `systemctl reload` succeeds
      // whatever happens here, and the log alone is easy to miss.
      if (auto c = reload()) {
        ReloadOutcome o = s.reload(*c);
        s.status->reloaded(o.result, std::move(o.error));
      } else {
        spdlog::error("reload: the configuration cannot be read, nothing changed: {}", c.error().message);
        s.status->reloaded(ReloadResult::failed,
                           fmt::format("the configuration cannot be read, nothing changed: {}", c.error().message));
      }
      continue;
    }
    if (n == static_cast<ssize_t>(sizeof si)) {
      spdlog::info("signal {} received: stopping", si.ssi_signo);
      break;
    }
    s.retry_backlog();
    s.take_snapshots();
    s.check_collections();
    if (const auto now = std::chrono::steady_clock::now(); now >= s.next_tree_head) {
      s.next_tree_head = now + kTreeHeadEvery;
      if (s.ledger->size() != s.tree_head_size) s.tree_head_size = s.alerts->publish_tree_head(unix_now(), s.host);
    }
    s.status->tick();
    // An event is stored within kEventDelay of its arrival: at once when the
    // stream pauses, else when the oldest waiting one is that old (a
    // steady stream is stored in batches, one commit each).
    const auto now = std::chrono::steady_clock::now();
    // (Idle, 100 ms: the longest a collection's chunks wait in `snapshots`.)
    const auto wait = s.pending_events.empty()
                          ? std::chrono::milliseconds(100)
                          : std::max(std::chrono::milliseconds(0), std::chrono::duration_cast<std::chrono::milliseconds>(
                                                                       s.pending_since + kEventDelay - now));
    const bool idle = s.pending_events.empty();
    auto msg = s.events.next(wait);
    if (!msg) {
      s.flush_events();  // idle, or the oldest has waited long enough: stored now
      // The bus queue drained: what a burst grew (queue, batches) goes back.
      if (idle && s.backlog.events_empty()) s.burst_trim.quiet();
      continue;
    }
    if (msg->subject == kSubjectSnapshot) continue;  // taken from `snapshots`
    auto event = decode_event(msg->payload);
    if (!event) {
      if (s.decode_errors++ < 10) spdlog::warn("bad event message on {}: {}", msg->subject, event.error().message);
      continue;
    }
    if (s.pending_events.empty()) s.pending_since = std::chrono::steady_clock::now();
    s.pending_events.push_back(std::move(*event));
    s.burst_trim.count();
    if (s.pending_events.size() >= kEventBatch || std::chrono::steady_clock::now() - s.pending_since >= kEventDelay) {
      s.flush_events();
    }
  }
  const auto stop_deadline = std::chrono::steady_clock::now() + s.config.database.stop_timeout;
  const auto crashes = s.procmond->counters().crashes.load();
  s.procmond.reset();  // SIGTERM to procmond, wait for it
  s.store_queued_at_stop(stop_deadline);
  // The events of the last batches are only spooled yet: give the sender a
  // moment to hand them over, so that a clean stop leaves nothing behind when
  // the server is there (what is left waits for the next start).
  if (s.event_forwarder) {
    if (const std::size_t left = s.event_forwarder->drain(kSpoolDrain); left > 0)
      spdlog::warn("{} process events still wait in the events spool; they are sent at the next start", left);
  }
  // What the rate limit still holds back is told now (in the ledger and at
  // the sinks; the next start stores it: Alerts across a crash).
  if (s.alerts->holds_back()) s.tell_held_back("stopping");
  // The alerts of the last minutes get a tree head before the sinks close
  // (they close with the pipeline, after run returns).
  s.publish_tree_head("stopping");
  s.status->stopped();
  const auto st = s.alerts->stats();
  spdlog::info("stopped after {} scans: {} alerts raised, {} deduplicated, {} rate-limited, {} procmond crashes", s.scans,
               st.raised, st.deduplicated, st.rate_limited, crashes);
  return 0;
}

}  // namespace airssys::daemoneye::agent
