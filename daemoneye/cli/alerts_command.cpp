// daemoneye-cli alerts [--follow]: the alerts stored within --since, then
// (--follow) each one the agent stores from then on. The alerts are picked
// and ordered by (time, id) alone and read whole by id (alert_reader.hpp):
// however large they are, the listing holds one batch of them at a time.

#include "alert_queries.hpp"
#include "alert_reader.hpp"
#include "commands.hpp"
#include "output.hpp"
#include "store_access.hpp"

#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>

#include <poll.h>
#include <unistd.h>

namespace airssys::daemoneye::cli {

namespace {

using nlohmann::ordered_json;

// The JSON text of a stored column, parsed; kept as a string if it is not JSON.
ordered_json parsed(const Value& v) {
  const auto* s = std::get_if<std::string>(&v);
  if (!s) return nullptr;
  auto j = ordered_json::parse(*s, nullptr, false);
  return j.is_discarded() ? ordered_json(*s) : j;
}

std::optional<Severity> severity_from(std::string_view s) {
  for (auto sev : {Severity::low, Severity::medium, Severity::high, Severity::critical})
    if (to_string(sev) == s) return sev;
  return std::nullopt;
}

ordered_json alert_json(const std::vector<Value>& row) {
  return ordered_json{{"id", int_of(row[0])},        {"time", int_of(row[1])},      {"host", str_of(row[2])},
                      {"rule_id", str_of(row[3])},   {"rule_name", str_of(row[4])}, {"severity", str_of(row[5])},
                      {"tags", parsed(row[6])},      {"dedup_key", str_of(row[7])}, {"row", parsed(row[8])}};
}

std::string dump(const ordered_json& j, int indent) { return json_text(j, indent); }

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

// The listing's alerts as --json wants them: one array, laid out as
// nlohmann's dump(2) lays it out, written an element at a time.
class JsonArray {
 public:
  explicit JsonArray(Printer& out) : out_(out) {}
  bool add(const ordered_json& element) {
    std::string text = std::exchange(first_, false) ? "[\n  " : ",\n  ";
    // Strings hold no raw line feed (dump escapes it), so each '\n' starts a line of the element.
    for (const char c : dump(element, 2)) {
      text += c;
      if (c == '\n') text += "  ";
    }
    return out_.add(text);
  }
  bool close() { return out_.add(first_ ? "[]\n" : "\n]\n"); }

 private:
  Printer& out_;
  bool first_ = true;
};

// Waits a second; true when stdout's reader is gone meanwhile (a pipe whose
// reader exited reports POLLERR, a hung-up terminal POLLHUP), so `| head`
// ends the watch without waiting for the next alert to fail its write.
bool reader_gone_within_a_second() {
  pollfd p{.fd = STDOUT_FILENO, .events = 0, .revents = 0};
  const int n = ::poll(&p, 1, 1000);
  return n > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL)) != 0;
}

// Reads and prints the alerts `keys` name (read_alerts), naming each
// unreadable one on stderr. With `retry` (--follow), a store that is busy
// or short of room is read again after a second, from where it stopped.
// The exit code: 0 also when stdout failed (main tells how to end then).
int print_alerts(QueryEngine& engine, std::span<const AlertKey> keys, const std::function<bool(const std::vector<Value>&)>& print,
                 bool retry) {
  const AlertVisitor visit{.row = print, .unreadable = [](const std::string& message) { say(message); }};
  while (!keys.empty()) {
    const ReadOutcome r = read_alerts(engine, keys, visit);
    keys = keys.subspan(r.done);
    if (r.stopped || !r.error) return kExitOk;
    if (!retry || !worth_retrying(*r.error)) return fail_with(*r.error, "reading alerts");
    if (reader_gone_within_a_second()) {
      note_stdout_failure(EPIPE);
      return kExitOk;
    }
  }
  return kExitOk;
}

// --follow: every second, the alerts stored after `mark`, one line each (a
// JSON object per line with --json), until stdout's reader is gone or a
// signal ends the process. A full batch is followed at once by the next, so
// a burst of more than --limit alerts a second does not fall behind. `mark`
// is the newest alert the watch has accounted for (follow_query.hpp; its
// id alone is not enough: ids are reused after retention).
int follow_alerts(QueryEngine& engine, const HistoryArgs& args, AlertKey mark, std::size_t width) {
  Printer out;
  const auto print = [&](const std::vector<Value>& row) {
    return out.add((args.json ? dump(alert_json(row), -1) : alert_line(row, width)) + "\n");
  };
  bool wait = true;
  for (;;) {
    if (wait && reader_gone_within_a_second()) {
      note_stdout_failure(EPIPE);
      return kExitOk;
    }
    wait = true;
    const QueryParam params[] = {{.name = ":id", .value = mark.id}, {.name = ":time", .value = mark.time}};
    auto r = engine.run(alerts_after_mark("SELECT id, time FROM alerts", args.rule, args.limit), params);
    if (!r) {
      if (worth_retrying(r.error())) continue;
      return fail_with(r.error(), "reading alerts");
    }
    std::vector<AlertKey> keys;
    for (const auto& row : r->rows) keys.push_back({.id = int_of(row[0]), .time = int_of(row[1])});
    if (const int code = print_alerts(engine, keys, print, true); code != kExitOk) return code;
    if (!out.flush() || stdout_write_failure()) return kExitOk;
    if (!keys.empty()) mark = keys.back();
    wait = keys.size() < args.limit;  // a full batch: more may be waiting
  }
}

// Whether `id` can be only the beginning of a Sigma rule's id (a UUID,
// 8-4-4-4-12 hex digits): shorter than one, with its dashes where a UUID
// has them. No native rule id written in words (exec-from-tmp) is, so one
// is never taken for a longer one (exec-from-tmp-v2).
bool uuid_beginning(std::string_view id) {
  if (id.empty() || id.size() >= 36) return false;
  for (std::size_t i = 0; i < id.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? id[i] != '-' : !std::isxdigit(static_cast<unsigned char>(id[i]))) return false;
  }
  return true;
}

bool uuid(std::string_view id) {
  return id.size() == 36 && uuid_beginning(id.substr(0, 35)) && std::isxdigit(static_cast<unsigned char>(id[35]));
}

// --rule as given when alerts of that rule are stored, or when it is not
// the beginning of a UUID (a complete id: a rule whose first alert is still
// to come, `known` false). Else the one stored Sigma rule id it begins, said
// on stderr; several are an error naming them (exit 2). With --follow
// (`follow`) the id is never widened, the watch would stay on the one rule
// chosen now: a beginning of stored ids is an error there. The exit code of
// a failure, or nothing.
std::optional<int> resolve_rule(QueryEngine& engine, std::string& rule, bool follow, bool& known) {
  constexpr std::size_t kShown = 20;
  known = true;
  auto exact = engine.run(rule_stored(rule));
  if (!exact) return fail_with(exact.error(), "reading alerts");
  if (!exact->rows.empty()) return std::nullopt;
  known = false;
  if (!uuid_beginning(rule)) return std::nullopt;
  std::vector<std::string> found;
  bool more = false;
  for (std::string after;;) {
    auto next = engine.run(next_rule_with_prefix(rule, after));
    if (!next) return fail_with(next.error(), "reading alerts");
    if (next->rows.empty() || !std::holds_alternative<std::string>(next->rows[0][0])) break;
    after = str_of(next->rows[0][0]);
    if (!uuid(after)) continue;  // only a Sigma rule's id is taken from its beginning
    if (found.size() == kShown) {
      more = true;
      break;
    }
    found.push_back(after);
  }
  if (found.empty()) return std::nullopt;
  std::string names;
  for (const auto& id : found) names += (names.empty() ? "" : ", ") + printable(id);
  if (follow) {
    say(fmt::format("--rule {}: --follow needs the full id (it watches that one id; the stored rules beginning with "
                    "it are {}{})",
                    printable(rule), names, more ? ", and more" : ""));
    return kExitUsage;
  }
  if (found.size() > 1) {
    say(fmt::format("--rule {}: ambiguous, the rules of the stored alerts beginning with it are {}{}; give more of the id",
                    printable(rule), names, more ? ", and more" : ""));
    return kExitUsage;
  }
  say(fmt::format("--rule {}: rule {}", printable(rule), printable(found[0])));
  rule = found[0];
  known = true;
  return std::nullopt;
}

}  // namespace

int run_alerts(const Context& ctx, const HistoryArgs& given) {
  HistoryArgs args = given;
  if (!args.rule.empty() && !valid_rule_id(args.rule)) {
    say(fmt::format("--rule '{}': a rule id holds only letters, digits, '_', '.' and '-'", printable(args.rule)));
    return kExitUsage;
  }
  auto engine = open_engine(ctx, args.limit, std::max<std::chrono::milliseconds>(ctx.config.rules.timeout, std::chrono::seconds(10)));
  if (!engine) {
    return fail_with(engine.error());
  }
  bool known = true;
  if (!args.rule.empty())
    if (const auto failed = resolve_rule(**engine, args.rule, args.follow, known)) return *failed;
  // The listing's alerts, newest first, by id and time alone; with
  // --follow also where the watch starts: the newest alert there is now.
  const std::int64_t from = unix_now() - args.since.count();
  const std::string sql = alert_listing(from, args.rule, args.limit, args.follow);
  auto r = (*engine)->run(sql);
  // --follow waits for a store busy at start as it does for one busy later.
  while (!r && args.follow && worth_retrying(r.error())) {
    if (reader_gone_within_a_second()) {
      note_stdout_failure(EPIPE);
      return kExitOk;
    }
    r = (*engine)->run(sql);
  }
  if (!r) {
    return fail_with(r.error(), "reading alerts");
  }
  std::vector<AlertKey> keys;  // oldest first, like a log
  for (auto row = r->rows.rbegin(); row != r->rows.rend(); ++row) keys.push_back({.id = int_of((*row)[0]), .time = int_of((*row)[1])});

  const std::size_t width = args.json ? 0 : terminal_width();
  Printer out;
  JsonArray array(out);
  const bool as_array = args.json && !args.follow && !args.json_lines;
  const auto print = [&](const std::vector<Value>& row) {
    if (as_array) return array.add(alert_json(row));
    return out.add((args.json ? dump(alert_json(row), -1) : alert_line(row, width)) + "\n");
  };
  // A store that fails part-way (corrupt, I/O, busy past the timeout) ends
  // the listing with its code and reason, after what was read is printed:
  // --json closes its array, so stdout holds valid JSON of those alerts.
  const int code = print_alerts(**engine, keys, print, args.follow);
  if (as_array && !stdout_write_failure()) array.close();
  if (!out.flush() || stdout_write_failure()) return code;  // main ends the command as the rule for stdout says
  if (code != kExitOk) return code;
  if (keys.empty() && !args.json) {
    say(fmt::format("no alerts in the last {} s{}{}{}", args.since.count(),
                    args.rule.empty() ? std::string() : " for rule " + args.rule,
                    known ? "" : " (no alert stored has that rule id)",
                    args.follow ? "; waiting for new ones" : ""));
  }
  if (!args.follow) return kExitOk;
  // No alert listed: no mark row, so the watch reads every alert from the
  // listing's start time on (the listing had none of them).
  const AlertKey mark = r->rows.empty() ? AlertKey{.time = from}
                                        : AlertKey{.id = int_of(r->rows[0][2]), .time = int_of(r->rows[0][3])};
  return follow_alerts(**engine, args, mark, width);
}

}  // namespace airssys::daemoneye::cli
