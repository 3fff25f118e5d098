#pragma once
// The statements `alerts` and `alerts --follow` read the store with
// (alerts_command.cpp, alert_reader.cpp), in a header of their own so a
// test can check their query plans (cli_test AlertsAreReadThroughIndexes).
//
// An alert can be large (a rule's row carries a process's command line; one
// value may hold up to 256 KiB), so alerts are picked and ordered by their
// id and time alone, and only then read whole, each reached through the
// primary key. No statement copies whole alerts into a sorter, whose
// records SQLite caps at its value limit: an alert of several large values
// failed there, and with it the whole listing.

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace airssys::daemoneye::cli {

// The columns an alert is read with, in this order (alert_json and
// alert_line read them by position).
inline constexpr std::string_view kAlertColumns =
    "SELECT id, time, host, rule_id, rule_name, severity, tags, dedup_key, \"row\"";

// The listing: the ids and times of the newest `limit` alerts from `from`
// on, newest first, only `rule`'s when it is not empty (a checked rule id:
// it is quoted into the text). With `newest`, columns 2 and 3 of every row
// are the id and time of the newest alert stored, listed or not, read in
// the same statement (one snapshot), so a watch that starts after it skips
// nothing stored in between.
inline std::string alert_listing(std::int64_t from, std::string_view rule, std::size_t limit, bool newest) {
  return fmt::format(
      "SELECT id, time{} FROM alerts WHERE time >= {}{} ORDER BY time DESC, id DESC LIMIT {}",
      newest ? ", (SELECT max(id) FROM alerts), (SELECT time FROM alerts WHERE id = (SELECT max(id) FROM alerts))" : "",
      from, rule.empty() ? std::string() : fmt::format(" AND rule_id = '{}'", rule), limit);
}

// `alerts --rule P`: whether an alert of rule `id` is stored (a row, or
// none), and the smallest stored rule id after `after` that begins with
// `prefix` (one row: NULL when there is none). Both checked rule ids (they
// are quoted into the text). Each is one seek in alerts_rule_time: the
// candidates of a prefix are found one at a time, not by reading every
// alert of theirs. '~' sorts after every character of a rule id.
inline std::string rule_stored(std::string_view id) {
  return fmt::format("SELECT 1 FROM alerts WHERE rule_id = '{}' LIMIT 1", id);
}
inline std::string next_rule_with_prefix(std::string_view prefix, std::string_view after) {
  return fmt::format("SELECT min(rule_id) FROM alerts WHERE rule_id > '{}' AND rule_id < '{}~'",
                     after.empty() ? prefix : after, prefix);
}

// The alerts after a watch's mark, oldest first, at most `limit`, in one
// statement (one snapshot). `select` is "SELECT <columns> FROM alerts";
// `rule` is empty or a checked rule id (it is quoted into the text). Bind
// :id and :time, the mark's row: while that row is still there (same id and
// time), the alerts with a larger id; otherwise (gone, or its id handed out
// again) every alert from :time on. The two halves exclude each other
// through a condition on no row, which SQLite tests once before it reads
// any; each takes its own index and stops at `limit`. `+rule_id` and `+id`
// keep the planner off alerts_rule_time and off a walk in id order, either of
// which may read the whole table. Only the ids are sorted.
inline std::string alerts_after_mark(std::string_view select, std::string_view rule, std::size_t limit) {
  constexpr std::string_view kMarkThere = "EXISTS (SELECT 1 FROM alerts WHERE id = :id AND time = :time)";
  const std::string rule_is = rule.empty() ? std::string() : fmt::format(" AND +rule_id = '{}'", rule);
  return fmt::format(
      "{0} WHERE id IN ("
      "SELECT id FROM (SELECT id FROM alerts WHERE id > :id AND {1}{2} ORDER BY id LIMIT {3}) UNION ALL "
      "SELECT id FROM (SELECT id FROM alerts WHERE time >= :time AND NOT {1}{2} ORDER BY +id LIMIT {3})) "
      "ORDER BY id LIMIT {3}",
      select, kMarkThere, rule_is, limit);
}

// The alerts with these ids, whole (kAlertColumns), in the order of `ids`
// (an id no longer stored has no row), each reached through the primary
// key. The ids are a list of constant rows joined to `alerts` by CROSS
// JOIN, which holds the list as the outer loop, so the rows come out in
// the list's order with no sorter: a result that rules.max_bytes cuts is a
// prefix of the list (alert_reader.cpp relies on it, and checks it; cli_test
// AlertsAreReadThroughIndexes holds the plan). The ids are integers: safe
// in the text.
inline std::string alerts_with_ids(std::span<const std::int64_t> ids) {
  std::string sql = std::string(kAlertColumns) + " FROM (VALUES ";
  for (std::size_t i = 0; i < ids.size(); ++i) sql += fmt::format("{}({})", i ? "," : "", ids[i]);
  return sql + ") AS wanted CROSS JOIN alerts ON alerts.id = wanted.column1";
}

}  // namespace airssys::daemoneye::cli
