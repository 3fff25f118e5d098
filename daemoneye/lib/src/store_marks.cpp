// The Sigma rules' marks in the store (store_marks.hpp).

#include "store_marks.hpp"

#include <fmt/format.h>

#include "sigma_window.hpp"
#include "sqlite_util.hpp"

namespace airssys::daemoneye::marks {

Result<EventMarks> load(sqlite3* db, const std::function<void(std::string_view)>& log) {
  auto st = sqlite::prepare(db, "SELECT rule_id, covered, narrowed FROM sigma_marks");
  if (!st) return std::unexpected(st.error().prefixed("read the Sigma rules' marks"));
  EventMarks out;
  int rc = SQLITE_ROW;
  while ((rc = ::sqlite3_step(st->get())) == SQLITE_ROW) {
    const auto* id = reinterpret_cast<const char*>(::sqlite3_column_text(st->get(), 0));
    if (id == nullptr) continue;
    const std::string rule(id, static_cast<std::size_t>(::sqlite3_column_bytes(st->get(), 0)));
    const std::int64_t covered = ::sqlite3_column_int64(st->get(), 1);
    if (covered >= 0)
      out.covered[rule] = covered;
    else if (log)
      log(fmt::format("the Sigma rule {}'s saved mark {} is negative: reset (the rule starts as a new one)", rule, covered));
    if (::sqlite3_column_type(st->get(), 2) != SQLITE_INTEGER) continue;
    const std::int64_t narrowed = ::sqlite3_column_int64(st->get(), 2);
    if (narrowed >= 1 && narrowed <= sigma::kMaxEventsPerScan)
      out.narrowed[rule] = narrowed;
    else if (log)
      log(fmt::format("the Sigma rule {}'s saved window {} is outside 1..{}: reset (a full window)", rule, narrowed,
                      sigma::kMaxEventsPerScan));
  }
  if (rc != SQLITE_DONE) return std::unexpected(sqlite::error(db, "read the Sigma rules' marks", rc));
  return out;
}

Result<void> save(sqlite3* db, const EventMarks& m) {
  if (auto r = sqlite::exec(db, "DELETE FROM sigma_marks"); !r) return std::unexpected(r.error().prefixed("save the Sigma rules' marks"));
  auto st = sqlite::prepare(db, "INSERT INTO sigma_marks (rule_id, covered, narrowed) VALUES (?, ?, ?)");
  if (!st) return std::unexpected(st.error().prefixed("save the Sigma rules' marks"));
  for (const auto& [rule, covered] : m.covered) {
    sqlite::bind(st->get(), 1, std::string_view(rule));
    sqlite::bind(st->get(), 2, covered);
    if (const auto n = m.narrowed.find(rule); n != m.narrowed.end())
      sqlite::bind(st->get(), 3, n->second);
    else
      ::sqlite3_bind_null(st->get(), 3);
    if (auto r = sqlite::run(db, st->get()); !r) return std::unexpected(r.error().prefixed("save the Sigma rules' marks"));
  }
  return {};
}

}  // namespace airssys::daemoneye::marks
