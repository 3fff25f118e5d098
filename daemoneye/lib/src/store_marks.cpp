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
  auto held = sqlite::prepare(db, "SELECT rule_id, held FROM held_alerts");
  if (!held) return std::unexpected(held.error().prefixed("read what the rate limit held back"));
  while ((rc = ::sqlite3_step(held->get())) == SQLITE_ROW) {
    const auto* id = reinterpret_cast<const char*>(::sqlite3_column_text(held->get(), 0));
    const auto* text = reinterpret_cast<const char*>(::sqlite3_column_text(held->get(), 1));
    if (id == nullptr || text == nullptr) continue;
    out.held.emplace(std::string(id, static_cast<std::size_t>(::sqlite3_column_bytes(held->get(), 0))),
                     HeldText(std::string(text, static_cast<std::size_t>(::sqlite3_column_bytes(held->get(), 1)))));
  }
  if (rc != SQLITE_DONE) return std::unexpected(sqlite::error(db, "read what the rate limit held back", rc));
  return out;
}

namespace {

Result<void> save_held(sqlite3* db, const HeldTexts& held, const HeldTexts* stored) {
  const auto failed = [](const Error& e) { return std::unexpected(e.prefixed("save what the rate limit held back")); };
  if (stored == nullptr)
    if (auto r = sqlite::exec(db, "DELETE FROM held_alerts"); !r) return failed(r.error());
  auto del = sqlite::prepare(db, "DELETE FROM held_alerts WHERE rule_id = ?");
  if (!del) return failed(del.error());
  if (stored != nullptr) {
    for (const auto& [rule, text] : *stored) {
      if (held.contains(rule)) continue;
      sqlite::bind(del->get(), 1, std::string_view(rule));
      if (auto r = sqlite::run(db, del->get()); !r) return failed(r.error());
    }
  }
  auto put = sqlite::prepare(db, "INSERT OR REPLACE INTO held_alerts (rule_id, held) VALUES (?, ?)");
  if (!put) return failed(put.error());
  for (const auto& [rule, text] : held) {
    if (stored != nullptr)
      if (const auto it = stored->find(rule); it != stored->end() && it->second == text) continue;
    sqlite::bind(put->get(), 1, std::string_view(rule));
    sqlite::bind(put->get(), 2, std::string_view(text.text()));
    if (auto r = sqlite::run(db, put->get()); !r) return failed(r.error());
  }
  return {};
}

}  // namespace

Result<void> save(sqlite3* db, const EventMarks& m, const HeldTexts* stored) {
  if (auto r = save_held(db, m.held, stored); !r) return r;
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
