#pragma once
// The Sigma rules' marks in the store (table sigma_marks, schema in
// store_schema.cpp): saved with each scan's alerts in one transaction, read
// back when the agent starts, so a restart neither reads an event twice nor
// skips one (event_marks.hpp).

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace airssys::daemoneye::marks {

// Every saved mark, and what the rate limit still owed with them. A mark no
// scan can have saved (covered < 0, narrowed outside 1..kMaxEventsPerScan: a
// damaged or hand-edited row) is reset — covered dropped (the rule starts as
// new), narrowed dropped (a full window) — and `log` is told which and why.
[[nodiscard]] Result<EventMarks> load(sqlite3* db, const std::function<void(std::string_view)>& log);
// Replaces the saved marks with `m` (rules without a mark lose their row),
// and makes held_alerts hold `m.held`: `stored` is what it holds now (known
// from the last load or committed save; nullptr when unknown), so only rules
// whose text changed are written — a rule whose HeldText is the one stored
// is passed over without its text being read. Runs inside the caller's
// transaction.
[[nodiscard]] Result<void> save(sqlite3* db, const EventMarks& m, const HeldTexts* stored);

}  // namespace airssys::daemoneye::marks
