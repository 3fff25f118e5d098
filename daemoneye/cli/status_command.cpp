// daemoneye-cli status: is the agent running, and what its status file says.

#include "commands.hpp"
#include "liveness.hpp"
#include "output.hpp"

#include <airssys/daemoneye/agent_status.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <ctime>

namespace airssys::daemoneye::cli {

std::filesystem::path Context::status_file() const { return status_file_for(config.database.path); }

// Cannot throw: fmt::print(stderr, ...) did with `2>/dev/full`, and the
// program aborted (134) instead of exiting with its code.
void say(std::string_view message) { airssys::osl::detail::print_stderr("daemoneye-cli: {}\n", message); }

namespace {

std::string ms(std::uint64_t us) { return us >= 10000 ? fmt::format("{} ms", us / 1000) : fmt::format("{:.1f} ms", static_cast<double>(us) / 1000.0); }

std::string plural(std::uint64_t n, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string event_section(const AgentStatus& s, std::int64_t now) {
  if (!s.procmond_status) {
    return "events:    no report from procmond yet (it sends one on status.procmond each interval); tier unknown\n";
  }
  const ProcmondStatus& p = *s.procmond_status;
  std::string out = fmt::format("events:    tier {}{}\n", to_string(p.tier),
                                p.tier_reason.empty() ? std::string() : " — " + printable(p.tier_reason));
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < kEventSources; ++i) {
    const auto& c = p.sources[i];
    rows.push_back({std::string(to_string(static_cast<EventSource>(i))), fmt::format("{}", c.events),
                    fmt::format("{}", c.dropped), fmt::format("{}", c.lost)});
  }
  const std::string table = format_table({"SOURCE", "EVENTS", "DROPPED", "LOST"}, rows, 0);
  std::size_t start = 0;
  while (start < table.size()) {
    const auto end = table.find('\n', start);
    out += "           " + table.substr(start, end - start + 1);
    start = end + 1;
  }
  out += fmt::format("           budget {} events/s; procmond pid {}, report {} old\n", p.budget_per_second, p.pid,
                     age_text(now - s.procmond_status_received));
  if (!p.sockets) {
    out += "sockets:   not collected (procmond --no-sockets, procmond.sockets: false, or an older procmond)\n";
  } else {
    const SocketCounters& k = *p.sockets;
    out += fmt::format("sockets:   {} rows in the last collection ({:.1f} ms)", k.rows, static_cast<double>(k.us) / 1000.0);
    std::string missed;
    const auto note = [&](std::uint64_t n, std::string_view what) {
      if (n > 0) missed += fmt::format("{}{} {}", missed.empty() ? "" : ", ", n, what);
    };
    note(k.truncated, "processes cut by the collection's budget");
    note(k.unreadable, "processes unreadable");
    note(k.fds_capped, "processes over the fd cap");
    note(k.tables_capped, "tables over the line cap");
    note(k.unmatched, "socket fds in no table");
    note(k.ambiguous, "ambiguous unix inodes");
    out += missed.empty() ? "; nothing missed\n" : "; " + missed + "\n";
    if (k.other_namespace > 0) out += fmt::format("           {} found in another network namespace\n", k.other_namespace);
  }
  return out;
}

std::string store_section(const StoreBacklogCounters& c) {
  if (c.store_failures == 0) return "store:     every write stored, no failures\n";
  std::string out = fmt::format(
      "store:     store_failures {}, batches_pending {} ({} events), events_dropped {}, snapshots_superseded {}{}\n",
      c.store_failures, c.batches_pending, c.events_pending, c.events_dropped, c.snapshots_superseded,
      c.batches_pending == 0 ? " — all kept batches stored" : " — retrying");
  if (!c.last_error.empty()) out += "           last failure: " + printable(c.last_error) + "\n";
  return out;
}

// The last reload (SIGHUP), under the rules it concerns. A failed or partial
// one is in capitals with its error: the agent runs on with the rules it had,
// and `systemctl reload` (kill -HUP) succeeded whatever happened.
std::string reload_section(const ReloadStatus& r, std::int64_t now) {
  const std::string counts = fmt::format("{} ok, {} partial, {} failed since the start", r.ok, r.partial, r.failed);
  const std::string in_force = fmt::format("rules in force loaded {} ({} ago)", utc_time(r.rules_loaded_at),
                                           age_text(now - r.rules_loaded_at));
  if (!r.last) return fmt::format("reload:    none since the start; {}\n", in_force);
  const LastReload& l = *r.last;
  const std::string when = fmt::format("{} ({} ago)", utc_time(l.time), age_text(now - l.time));
  switch (l.result) {
    case ReloadResult::ok:
      return fmt::format("reload:    last at {}: ok; {} ({})\n", when, in_force, counts);
    case ReloadResult::partial:
      return fmt::format("reload:    PARTIAL at {}: its rules run, but refused: {}\n           {} ({})\n", when,
                         printable(l.error), in_force, counts);
    case ReloadResult::failed:
      break;
  }
  return fmt::format("reload:    FAILED at {}: {}\n           the old configuration runs: {} ({})\n", when,
                     printable(l.error), in_force, counts);
}

std::string human(const std::filesystem::path& file, const AgentStatus& s, const LivenessReport& l, std::int64_t now) {
  std::string out;
  out += fmt::format("agent:     {} — {}\n", to_string(l.state), l.reason);
  out += fmt::format("           version {}, host {}, started {} ({} ago)\n", printable(s.version), printable(s.host),
                     utc_time(s.started_at), age_text(now - s.started_at));
  out += fmt::format("status:    {} (written {})\n", file.string(), utc_time(s.updated_at));
  out += fmt::format("database:  {}\n", printable(s.database));
  if (s.last_scan) {
    const LastScan& l2 = *s.last_scan;
    out += fmt::format("scans:     {} stored, every {} ms; last at {} ({} ago): {}{}, collect {}, store {}, rules {}, {}\n",
                       s.scans, s.scan_interval_ms, utc_time(l2.time), age_text(now - l2.time),
                       plural(l2.processes, "process", "processes"),
                       l2.unreadable > 0 ? fmt::format(" ({} partly unreadable)", l2.unreadable) : std::string(),
                       ms(l2.collect_us), ms(l2.store_us), ms(l2.rules_us), plural(l2.alerts, "alert", "alerts"));
    // Which ones, and what of each could not be read (the first few; an
    // older agent's file names none).
    for (const auto& p : l2.unreadable_sample) {
      std::string what;
      for (const auto& m : p.missing) what += (what.empty() ? "" : ", ") + printable(m);
      out += fmt::format("           unreadable: {} ({}): {}\n", p.pid, printable(p.name), what);
    }
    if (!l2.unreadable_sample.empty() && l2.unreadable > l2.unreadable_sample.size())
      out += fmt::format("           … and {} more partly unreadable\n", l2.unreadable - l2.unreadable_sample.size());
  } else {
    out += fmt::format("scans:     none stored yet (every {} ms)\n", s.scan_interval_ms);
  }
  if (s.collections && s.collections->stale)
    out += fmt::format("collect:   STALE since {}: no process collection from procmond for more than {} ms; the Sigma "
                       "rules run over stored events meanwhile; procmond restarted {} times for it\n",
                       utc_time(s.collections->stale_since), s.collections->stale_after_ms, s.collections->restarts);
  else if (s.collections && s.collections->restarts > 0)
    out += fmt::format("collect:   collections arrive; procmond was restarted {} times because none came\n",
                       s.collections->restarts);
  out += fmt::format("rules:     {} loaded, {} enabled, {} rejected, {} failing\n", s.rules.loaded, s.rules.enabled,
                     s.rules.rejected_count, s.rules.failing.size());
  for (const auto& r : s.rules.rejected) out += "           rejected: " + printable(r.message) + "\n";
  if (s.rules.rejected_count > s.rules.rejected.size())
    out += fmt::format("           … and {} more rejected\n", s.rules.rejected_count - s.rules.rejected.size());
  for (const auto& id : s.rules.failing) out += "           failing at run time: " + printable(id) + "\n";
  if (s.reload) out += reload_section(*s.reload, now);
  out += fmt::format("alerts:    {} raised, {} deduplicated, {} rate-limited, {} sink errors\n", s.alerts.raised,
                     s.alerts.deduplicated, s.alerts.rate_limited, s.alerts.sink_errors);
  if (s.nats) {
    out += fmt::format("nats:      {} acked, {} waiting in the spool, {} dropped (spool full), {} publish attempts, {} "
                       "reconnects\n",
                       s.nats->acked, s.nats->spooled, s.nats->dropped, s.nats->published, s.nats->reconnects);
  }
  if (s.events_nats) {
    const auto& e = *s.events_nats;
    out += fmt::format("events:    to nats: {} acked, {} waiting in the spool, {} dropped, {} publish attempts, {} "
                       "reconnects\n",
                       e.acked, e.spooled, e.dropped, e.published, e.reconnects);
  }
  if (s.live_query) {
    const auto& q = *s.live_query;
    std::uint64_t refused = 0;
    std::string reasons;
    for (const auto& [reason, n] : q.refused) {
      refused += n;
      if (n > 0) reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", n, printable(reason));
    }
    const std::uint64_t failed_query = q.failed >= q.failed_ledger ? q.failed - q.failed_ledger : 0;
    out += fmt::format("queries:   {} accepted ({} failed), {} not run (the ledger failed), {} refused{}, {} replies "
                       "with {} rows, {} expired, replayed or over the nonce cache not answered, {} refusals not "
                       "recorded (ledger rate limit)\n",
                       q.accepted, failed_query, q.failed_ledger, refused, reasons.empty() ? "" : " (" + reasons + ")", q.answered, q.rows,
                       q.dropped, q.audit_suppressed);
  }
  out += fmt::format("procmond:  {}, {} since the agent started\n",
                     s.procmond.running ? fmt::format("running (pid {})", s.procmond.pid) : std::string("not running"),
                     s.procmond.crashes == 0 ? std::string("no crashes")
                                             : plural(s.procmond.crashes, "crash (restarted)", "crashes (each restarted)"));
  if (s.procmond.spawns_refused > 0)
    out += fmt::format("           {} not made: procmond.path failed its check, or the spawn failed (see the agent's log)\n",
                       plural(s.procmond.spawns_refused, "start", "starts"));
  out += event_section(s, now);
  out += store_section(s.store);
  if (s.store_failing_since > 0)
    out += fmt::format("           FAILING since {} ({} ago): nothing new is stored\n", utc_time(s.store_failing_since),
                       age_text(now - s.store_failing_since));
  return out;
}

}  // namespace

int run_status(const Context& ctx, bool json) {
  const auto file = ctx.status_file();
  auto read = read_status_file(file);
  if (!read) {
    return fail_with(read.error());
  }
  const std::int64_t now = static_cast<std::int64_t>(::time(nullptr));
  if (!read->has_value()) {
    const std::string reason = fmt::format(
        "no status file at {}: the agent has not run with the database {} (another --db or --config?)", file.string(),
        ctx.config.database.path.string());
    if (json) {
      nlohmann::json j{{"agent", {{"state", "not_running"}, {"reason", reason}, {"status_file", file.string()}}},
                       {"status", nullptr}};
      write_stdout(json_text(j, 2) + "\n");
    } else {
      write_stdout(fmt::format("agent:     not_running — {}\n", reason));
    }
    return kExitFailed;
  }
  const AgentStatus& s = **read;
  const LivenessReport l = assess(s, now);
  if (json) {
    nlohmann::ordered_json j{{"agent",
                      {{"state", to_string(l.state)},
                       {"reason", l.reason},
                       {"status_file", file.string()},
                       {"age", l.age},
                       {"stale_after", stale_after_seconds(s)}}},
                     {"status", nlohmann::ordered_json::parse(encode(s))}};
    write_stdout(json_text(j, 2) + "\n");
  } else {
    write_stdout(human(file, s, l, now));
  }
  return l.state == Liveness::running ? kExitOk : kExitFailed;
}

}  // namespace airssys::daemoneye::cli
