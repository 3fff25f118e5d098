#include "alert_reader.hpp"

#include "alert_queries.hpp"
#include "output.hpp"
#include "store_access.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace airssys::daemoneye::cli {

namespace {

// Ids per statement: few enough that one statement's text stays short,
// enough that a listing of a million alerts takes thousands of statements,
// not a million.
constexpr std::size_t kBatch = 256;

// "alert N (rule R) not printed: why"; without the rule when it cannot be
// read either.
std::string unreadable_message(QueryEngine& engine, const AlertKey& key, std::string_view why) {
  auto rule = engine.run(fmt::format("SELECT rule_id FROM alerts WHERE id = {}", key.id));
  if (rule && !rule->rows.empty())
    return fmt::format("alert {} (rule {}) not printed: {}", key.id, printable(str_of(rule->rows[0][0])), why);
  return fmt::format("alert {} not printed: {}", key.id, why);
}

}  // namespace

bool value_too_big(const Error& e) {
  return e.category == ErrorCategory::resource_exhausted && e.message == "string or blob too big";
}

bool worth_retrying(const Error& e) {
  return e.category == ErrorCategory::busy || e.category == ErrorCategory::timeout ||
         (e.category == ErrorCategory::resource_exhausted && !value_too_big(e));
}

ReadOutcome read_alerts(QueryEngine& engine, std::span<const AlertKey> keys, const AlertVisitor& visit) {
  const std::size_t batch = std::clamp<std::size_t>(engine.limits().max_rows, 1, kBatch);
  const std::string too_large = fmt::format("larger than rules.max_bytes ({} bytes)", engine.limits().max_bytes);
  ReadOutcome out;
  // Keys before this one are read one per statement: a batch of them failed
  // with a value past the value limit, which names no row.
  std::size_t alone_until = 0;
  while (out.done < keys.size()) {
    const std::size_t n = out.done < alone_until ? 1 : std::min(batch, keys.size() - out.done);
    const auto ids = keys.subspan(out.done, n);
    std::vector<std::int64_t> numbers;
    for (const auto& k : ids) numbers.push_back(k.id);
    auto r = engine.run(alerts_with_ids(numbers));
    // A value past the value limit fails the statement; values past
    // max_bytes together cut the result, before the row that would pass it:
    // with no row, the first alert still stored is past max_bytes alone.
    const bool too_big = r ? r->rows.empty() && r->truncated : value_too_big(r.error());
    if (too_big && n > 1) {
      alone_until = out.done + (r ? 1 : n);
      continue;
    }
    if (too_big) {
      visit.unreadable(unreadable_message(engine, ids[0], r ? std::string_view(too_large) : r.error().message));
      ++out.done;
      continue;
    }
    if (!r) {
      out.error = r.error();
      return out;
    }
    // Rows come in the keys' order, a key deleted meanwhile without one; a
    // cut result holds the keys up to its last row, and the next statement
    // starts after it, so no alert is read twice, whatever order the ids
    // are in (a clock stepped back makes them run against time).
    std::size_t handled = 0;
    std::size_t next_row = 0;
    for (const auto& key : ids) {
      if (next_row == r->rows.size() && r->truncated) break;  // not reached: the next statement reads it
      ++handled;
      if (next_row == r->rows.size() || int_of(r->rows[next_row][0]) != key.id) continue;  // deleted meanwhile
      const auto& row = r->rows[next_row++];
      if (int_of(row[1]) != key.time) continue;  // deleted, and its id handed out again
      if (!visit.row(row)) {
        out.done += handled;
        out.stopped = true;
        return out;
      }
    }
    out.done += handled;
    if (next_row != r->rows.size()) {  // SQLite did not keep the list's order (alert_queries.hpp)
      out.error = Error::make(ErrorCategory::internal, "alerts came back out of the order they were asked for");
      return out;
    }
  }
  return out;
}

}  // namespace airssys::daemoneye::cli
