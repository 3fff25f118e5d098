#pragma once
// The statement `alerts --follow` polls with (store_commands.cpp), in a
// header of its own so a test can check its query plan: every poll must
// reach the new alerts through an index (the primary key, alerts_time), not
// by reading the whole table.

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace airssys::daemoneye::cli {

// The alerts after a watch's mark, oldest first, at most `limit`, in one
// statement (one snapshot). `select` is "SELECT <columns> FROM alerts";
// `rule` is empty or a checked rule id (it is quoted into the text). Bind
// :id and :time, the mark's row: while that row is still there (same id and
// time), the alerts with a larger id; otherwise (gone, or its id handed out
// again) every alert from :time on. The two halves exclude each other
// through a condition on no row, which SQLite tests once before it reads
// any; each takes its own index and stops at `limit`. `+rule_id` and `+id`
// keep the planner off alerts_rule_id and off a walk in id order, either of
// which may read the whole table. Only the ids are sorted: the rows are then
// read in id order as stored, never copied into a sorter, whose records
// SQLite caps at its value limit (an alert of several large values would
// fail there, though each value can be read).
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

}  // namespace airssys::daemoneye::cli
