// daemoneye-cli query / alerts / events: read the store through the guarded
// QueryEngine (read-only connection, authorizer, time/row/byte limits) —
// the same guard the agent's rules run under.

#include "commands.hpp"
#include "follow_query.hpp"
#include "output.hpp"

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <ctime>
#include <span>

#include <poll.h>
#include <unistd.h>

namespace airssys::daemoneye::cli {

namespace {

using nlohmann::ordered_json;

Result<std::unique_ptr<QueryEngine>> open_engine(const Context& ctx, std::size_t max_rows,
                                                 std::chrono::milliseconds timeout) {
  return QueryEngine::open(ctx.config.database.path,
                           {.time = timeout, .max_rows = max_rows, .max_bytes = ctx.config.rules.max_bytes});
}

std::string as_json_array(const QueryResult& r) {
  std::string out = "[";
  for (std::size_t i = 0; i < r.rows.size(); ++i) out += (i ? ",\n " : "\n ") + row_to_json(r, i);
  out += r.rows.empty() ? "]\n" : "\n]\n";
  return out;
}

std::string as_csv(const QueryResult& r) {
  std::string out;
  for (std::size_t c = 0; c < r.columns.size(); ++c) out += (c ? "," : "") + csv_field(r.columns[c]);
  out += "\r\n";
  for (const auto& row : r.rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      out += c ? "," : "";
      if (!std::holds_alternative<std::monostate>(row[c])) out += csv_field(cell_text(row[c]));
    }
    out += "\r\n";
  }
  return out;
}

void tell_truncated(const QueryResult& r, std::size_t max_rows, std::uint64_t max_bytes) {
  if (r.truncated)
    say(fmt::format("result cut after {} rows (the limits are {} rows and {} bytes of text)", r.rows.size(), max_rows,
                    max_bytes));
}

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

// Rule ids are [A-Za-z0-9_.-]+ (rule.hpp), so an id that passes this is safe in a quoted SQL literal.
bool valid_rule_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 && id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string_view::npos;
}

// The JSON text of a stored column, parsed; kept as a string if it is not JSON.
ordered_json parsed(const Value& v) {
  const auto* s = std::get_if<std::string>(&v);
  if (!s) return nullptr;
  auto j = ordered_json::parse(*s, nullptr, false);
  return j.is_discarded() ? ordered_json(*s) : j;
}

std::int64_t int_of(const Value& v) {
  const auto* i = std::get_if<std::int64_t>(&v);
  return i ? *i : 0;
}
std::string str_of(const Value& v) {
  const auto* s = std::get_if<std::string>(&v);
  return s ? *s : std::string();
}

std::optional<Severity> severity_from(std::string_view s) {
  for (auto sev : {Severity::low, Severity::medium, Severity::high, Severity::critical})
    if (to_string(sev) == s) return sev;
  return std::nullopt;
}

}  // namespace

int run_query(const Context& ctx, const QueryArgs& args) {
  const std::size_t max_rows = args.max_rows.value_or(ctx.config.rules.max_rows);
  auto engine = open_engine(ctx, max_rows, args.timeout.value_or(ctx.config.rules.timeout));
  if (!engine) {
    return fail_with(engine.error());
  }
  auto r = (*engine)->run(args.sql);
  if (!r) {
    return fail_with(r.error(), "query refused");
  }
  switch (args.format) {
    case Format::json: write_stdout(as_json_array(*r)); break;
    case Format::csv: write_stdout(as_csv(*r)); break;
    case Format::table: {
      std::vector<std::vector<std::string>> rows;
      rows.reserve(r->rows.size());
      for (const auto& row : r->rows) {
        auto& out = rows.emplace_back();
        for (const auto& v : row) out.push_back(cell_text(v));
      }
      write_stdout(format_table(r->columns, rows, terminal_width()));
      if (::isatty(STDOUT_FILENO)) fmt::print(stderr, "({} rows)\n", r->rows.size());
      break;
    }
  }
  tell_truncated(*r, max_rows, ctx.config.rules.max_bytes);
  return kExitOk;
}

namespace {

// The alerts table's columns in the order alert_json / alert_line read them.
constexpr const char* kAlertColumns = "SELECT id, time, host, rule_id, rule_name, severity, tags, dedup_key, \"row\" FROM alerts";

ordered_json alert_json(const std::vector<Value>& row) {
  return ordered_json{{"id", int_of(row[0])},        {"time", int_of(row[1])},      {"host", str_of(row[2])},
                      {"rule_id", str_of(row[3])},   {"rule_name", str_of(row[4])}, {"severity", str_of(row[5])},
                      {"tags", parsed(row[6])},      {"dedup_key", str_of(row[7])}, {"row", parsed(row[8])}};
}

std::string dump(const ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, ordered_json::error_handler_t::replace);
}

// The stdout sink's human line, control bytes as '?', cut to `width` (0: not cut).
std::string alert_line(const std::vector<Value>& row, std::size_t width) {
  Alert a{.rule_id = str_of(row[3]),
          .rule_name = str_of(row[4]),
          .severity = severity_from(str_of(row[5])).value_or(Severity::medium),
          .row_json = str_of(row[8]),
          .host = str_of(row[2]),
          .time = int_of(row[1])};
  std::string line = printable(alert_to_human(a));
  if (width > 0) truncate_utf8(line, width);
  return line;
}

// Where a --follow watch is: the newest alert it has accounted for. `id`
// alone is not enough: alerts.id is INTEGER PRIMARY KEY without
// AUTOINCREMENT, so once retention (or an operator) deletes the newest rows
// the store hands out their ids again. Its time tells whether the row called
// `id` is still the one the watch saw (a new row given the same id within
// the same second passes for it). Not its dedup_key: a key past the engine's
// value limit could not be read, and the watch would stop at it.
struct FollowMark {
  std::int64_t id = 0;  // 0: no row (ids start at 1), so the watch reads from `time` on
  std::int64_t time = 0;
};

FollowMark mark_of(const Value& id, const Value& time) { return {.id = int_of(id), .time = int_of(time)}; }

// Waits a second; true when stdout's reader is gone meanwhile (a pipe whose
// reader exited reports POLLERR, a hung-up terminal POLLHUP), so `| head`
// ends the watch without waiting for the next alert to fail its write.
bool reader_gone_within_a_second() {
  pollfd p{.fd = STDOUT_FILENO, .events = 0, .revents = 0};
  const int n = ::poll(&p, 1, 1000);
  return n > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

// SQLITE_TOOBIG: a value past the engine's value limit (256 KiB). The engine
// reports it as resource_exhausted with SQLite's own text, the one thing
// that tells it from the other bounds of that category (query_engine_test
// HugeStringsHitTheLengthLimit holds both).
bool value_too_big(const Error& e) {
  return e.category == ErrorCategory::resource_exhausted && e.message == "string or blob too big";
}

bool worth_retrying(const Error& e) {
  // The agent holding its write lock past the busy timeout, or a slow disk;
  // out of memory, disk or temporary-file room (not one alert's fault: the
  // next try may have it).
  return e.category == ErrorCategory::busy || e.category == ErrorCategory::timeout ||
         (e.category == ErrorCategory::resource_exhausted && !value_too_big(e));
}

// The next alert after `mark` is one no query can read whole: `why`. Says
// so on stderr and returns the mark past it, or the watch would stop there.
Result<FollowMark> skip_unreadable(QueryEngine& engine, const HistoryArgs& args, const FollowMark& mark,
                                   std::span<const QueryParam> params, std::string_view why) {
  // Not its row: a value past the value limit fails even length().
  auto next = engine.run(alerts_after_mark("SELECT id, time, rule_id FROM alerts", args.rule, 1), params);
  if (!next) return std::unexpected(next.error());
  if (next->rows.empty()) return mark;
  const auto& row = next->rows[0];
  say(fmt::format("alert {} (rule {}) not printed: {}", int_of(row[0]), printable(str_of(row[2])), why));
  return mark_of(row[0], row[1]);
}

// --follow: every second, the alerts stored after `mark`, one line each (a
// JSON object per line with --json), until stdout's reader is gone or a
// signal ends the process. A full batch is followed at once by the next, so
// a burst of more than --limit alerts a second does not fall behind.
int follow_alerts(QueryEngine& engine, const Context& ctx, const HistoryArgs& args, FollowMark mark, std::size_t width) {
  // 1 while looking for the alert that made a batch unreadable, one at a time.
  std::size_t limit = args.limit;
  bool wait = true;
  for (;;) {
    if (wait && reader_gone_within_a_second()) return kExitOk;
    wait = true;
    const QueryParam params[] = {{.name = ":id", .value = mark.id}, {.name = ":time", .value = mark.time}};
    auto r = engine.run(alerts_after_mark(kAlertColumns, args.rule, limit), params);
    // A value past the engine's value limit fails the whole statement; a row
    // past rules.max_bytes alone comes back as no rows, cut.
    const bool too_big = r ? r->rows.empty() && r->truncated : value_too_big(r.error());
    if (too_big && limit > 1) {
      limit = 1;
      wait = false;
      continue;
    }
    if (too_big) {
      const std::string why =
          r ? fmt::format("larger than rules.max_bytes ({} bytes)", ctx.config.rules.max_bytes) : r.error().message;
      auto past = skip_unreadable(engine, args, mark, params, why);
      if (!past) {
        if (worth_retrying(past.error())) continue;
        return fail_with(past.error(), "reading alerts");
      }
      mark = std::move(*past);
      limit = args.limit;
      wait = false;
      continue;
    }
    if (!r) {
      if (worth_retrying(r.error())) continue;
      return fail_with(r.error(), "reading alerts");
    }
    std::string out;
    for (const auto& row : r->rows) out += (args.json ? dump(alert_json(row), -1) : alert_line(row, width)) + "\n";
    if (!r->rows.empty()) mark = mark_of(r->rows.back()[0], r->rows.back()[1]);
    if (!out.empty() && !write_stdout(out)) return kExitOk;  // the reader went away (| head)
    // More may be waiting: a full batch, or one cut by rules.max_bytes.
    const bool more = r->rows.size() == limit || (r->truncated && !r->rows.empty());
    if (limit == 1 && !r->rows.empty()) {
      wait = false;  // on to the unreadable one
    } else {
      limit = args.limit;
      wait = !more;
    }
  }
}

}  // namespace

int run_alerts(const Context& ctx, const HistoryArgs& args) {
  if (!args.rule.empty() && !valid_rule_id(args.rule)) {
    say(fmt::format("--rule '{}': a rule id holds only letters, digits, '_', '.' and '-'", printable(args.rule)));
    return kExitUsage;
  }
  auto engine = open_engine(ctx, args.limit, std::max<std::chrono::milliseconds>(ctx.config.rules.timeout, std::chrono::seconds(10)));
  if (!engine) {
    return fail_with(engine.error());
  }
  const std::int64_t from = unix_now() - args.since.count();
  std::string sql = fmt::format("{} WHERE time >= {}", kAlertColumns, from);
  if (!args.rule.empty()) sql += fmt::format(" AND rule_id = '{}'", args.rule);
  sql += fmt::format(" ORDER BY time DESC, id DESC LIMIT {}", args.limit);
  if (args.follow) {
    // The watch starts after the newest alert there is now, printed or not:
    // read in the same statement as the listing, so nothing stored between
    // the two is skipped. Columns 9-10 of each row.
    sql = fmt::format("SELECT * FROM ({}), (SELECT id AS top_id, time AS top_time FROM alerts "
                      "ORDER BY id DESC LIMIT 1) ORDER BY time DESC, id DESC",
                      sql);
  }
  auto r = (*engine)->run(sql);
  // --follow waits for a store busy at start as it does for one busy later.
  while (!r && args.follow && worth_retrying(r.error())) {
    if (reader_gone_within_a_second()) return kExitOk;
    r = (*engine)->run(sql);
  }
  if (!r) {
    return fail_with(r.error(), "reading alerts");
  }
  std::reverse(r->rows.begin(), r->rows.end());  // oldest first, like a log
  const std::size_t width = args.json ? 0 : terminal_width();
  std::string out;
  if (args.json && !args.follow) {
    ordered_json all = ordered_json::array();
    for (const auto& row : r->rows) all.push_back(alert_json(row));
    out = dump(all, 2) + "\n";
  } else {
    for (const auto& row : r->rows) out += (args.json ? dump(alert_json(row), -1) : alert_line(row, width)) + "\n";
  }
  if (!write_stdout(out) && args.follow) return kExitOk;
  if (r->rows.empty() && !args.json) {
    say(fmt::format("no alerts in the last {} s{}{}", args.since.count(),
                    args.rule.empty() ? std::string() : " for rule " + args.rule,
                    args.follow ? "; waiting for new ones" : ""));
  }
  tell_truncated(*r, args.limit, ctx.config.rules.max_bytes);
  if (!args.follow) return kExitOk;
  // No row listed: no mark row, so the watch reads every alert from the
  // listing's start time on (the listing had none of them).
  const FollowMark mark =
      r->rows.empty() ? FollowMark{.time = from} : mark_of(r->rows[0][9], r->rows[0][10]);
  return follow_alerts(**engine, ctx, args, mark, width);
}

int run_events(const Context& ctx, const HistoryArgs& args) {
  auto engine = open_engine(ctx, args.limit, std::max<std::chrono::milliseconds>(ctx.config.rules.timeout, std::chrono::seconds(10)));
  if (!engine) {
    return fail_with(engine.error());
  }
  // Every column (the store gains some as event sources grow), picked by name for the table.
  std::string sql = fmt::format("SELECT * FROM process_events WHERE time >= {}", unix_now() - args.since.count());
  if (args.pid) sql += fmt::format(" AND pid = {}", *args.pid);
  sql += fmt::format(" ORDER BY time DESC, id DESC LIMIT {}", args.limit);
  auto r = (*engine)->run(sql);
  if (!r) {
    return fail_with(r.error(), "reading events");
  }
  std::reverse(r->rows.begin(), r->rows.end());
  if (args.json) {
    write_stdout(as_json_array(*r));
  } else {
    auto col = [&](std::string_view name) {
      return static_cast<std::size_t>(std::find(r->columns.begin(), r->columns.end(), name) - r->columns.begin());
    };
    const std::size_t time = col("time"), event = col("event"), source = col("source"), pid = col("pid"),
                      parent = col("parent"), uid = col("uid"), username = col("username"), name = col("name"),
                      cmdline = col("cmdline");
    auto at = [&](const std::vector<Value>& row, std::size_t i) -> const Value& {
      static const Value null;
      return i < row.size() ? row[i] : null;
    };
    std::vector<std::vector<std::string>> rows;
    for (const auto& row : r->rows) {
      const std::string user = str_of(at(row, username)).empty() ? cell_text(at(row, uid)) : str_of(at(row, username));
      const std::string cmd =
          str_of(at(row, cmdline)).empty() ? "[" + str_of(at(row, name)) + "]" : str_of(at(row, cmdline));
      rows.push_back({utc_time(int_of(at(row, time))), str_of(at(row, event)), str_of(at(row, source)),
                      cell_text(at(row, pid)), cell_text(at(row, parent)), user, str_of(at(row, name)), cmd});
    }
    write_stdout(format_table({"TIME", "EVENT", "SOURCE", "PID", "PARENT", "USER", "NAME", "CMDLINE"}, rows,
                              terminal_width()));
    if (r->rows.empty()) say(fmt::format("no process events in the last {} s{}", args.since.count(),
                                         args.pid ? fmt::format(" for pid {}", *args.pid) : std::string()));
  }
  tell_truncated(*r, args.limit, ctx.config.rules.max_bytes);
  return kExitOk;
}

}  // namespace airssys::daemoneye::cli
