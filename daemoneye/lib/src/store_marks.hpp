#pragma once
// The Sigma rules' marks in the store (table sigma_marks, schema in
// store_schema.cpp): saved with each scan's alerts in one transaction, read
// back when the agent starts, so a restart neither reads an event twice nor
// skips one (event_marks.hpp).

#include <sqlite3.h>

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/event_marks.hpp>

namespace airssys::daemoneye::marks {

// Every saved mark.
[[nodiscard]] Result<EventMarks> load(sqlite3* db);
// Replaces the saved marks with `m` (rules without a mark lose their row).
// Runs inside the caller's transaction.
[[nodiscard]] Result<void> save(sqlite3* db, const EventMarks& m);

}  // namespace airssys::daemoneye::marks
