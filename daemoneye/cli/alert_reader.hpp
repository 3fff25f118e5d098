#pragma once
// Reading stored alerts whole, by id (`alerts` and `alerts --follow`),
// once they have been picked and ordered by id and time alone
// (alert_queries.hpp says why). At most `engine.limits().max_bytes` of
// values (rules.max_bytes) is held at a time, however many alerts a
// listing has. An alert that no query can
// read whole -- one value past 256 KiB, or values past rules.max_bytes
// together -- is passed on as unreadable, with the reason; the others are
// read as usual.

#include <airssys/daemoneye/query_engine.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye::cli {

// An alert's id and time: both are needed to name one alert over time,
// because the store hands ids out again once retention has deleted the
// newest alerts (alerts.id is INTEGER PRIMARY KEY without AUTOINCREMENT).
struct AlertKey {
  std::int64_t id = 0;
  std::int64_t time = 0;
};

// What read_alerts does with each alert, in the order of the keys.
struct AlertVisitor {
  // The alert's columns (kAlertColumns, alert_queries.hpp). False: stop reading (the output
  // failed).
  std::function<bool(const std::vector<Value>& row)> row;
  // An alert no query can read whole, and why, as one line for the
  // operator: "alert 5 (rule R) not printed: string or blob too big".
  std::function<void(const std::string& message)> unreadable;
};

struct ReadOutcome {
  // Keys dealt with, from the first: read, unreadable, or no longer stored
  // (retention deleted them meanwhile; they are passed over silently).
  std::size_t done = 0;
  bool stopped = false;         // visitor.row returned false
  std::optional<Error> error;   // the store failed (busy, timeout, corrupt, ...): keys from `done` on were not read
};

// Reads the alerts `keys` name and hands each to `visit`, in the order of
// `keys`, a batch of ids per statement (one at a time around an alert
// that makes a batch fail).
[[nodiscard]] ReadOutcome read_alerts(QueryEngine& engine, std::span<const AlertKey> keys, const AlertVisitor& visit);

// SQLITE_TOOBIG: a value past the engine's value limit (256 KiB). The engine
// reports it as resource_exhausted with SQLite's own text, the one thing
// that tells it from the other bounds of that category (query_engine_test
// HugeStringsHitTheLengthLimit holds both).
[[nodiscard]] bool value_too_big(const Error& e);

// The agent holding its write lock past the busy timeout, or a slow disk;
// out of memory, disk or temporary-file room (not one alert's fault: the
// next try may have it).
[[nodiscard]] bool worth_retrying(const Error& e);

}  // namespace airssys::daemoneye::cli
