#include "alert_reader.hpp"

#include "alert_queries.hpp"
#include "output.hpp"
#include "store_access.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <unordered_map>

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
  // Keys before this one are read one per statement: a batch of them failed.
  std::size_t alone_until = 0;
  while (out.done < keys.size()) {
    const std::size_t n = out.done < alone_until ? 1 : std::min(batch, keys.size() - out.done);
    const auto ids = keys.subspan(out.done, n);
    std::vector<std::int64_t> numbers;
    for (const auto& k : ids) numbers.push_back(k.id);
    auto r = engine.run(alerts_with_ids(numbers));
    // A value past the value limit fails the statement; values past
    // max_bytes together cut the result, before the row that would pass it.
    const bool too_big = r ? r->rows.empty() && r->truncated : value_too_big(r.error());
    if (too_big && n > 1) {
      alone_until = out.done + n;
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
    // Rows come in id order; a cut result holds those up to its last id.
    std::unordered_map<std::int64_t, const std::vector<Value>*> by_id;
    for (const auto& row : r->rows) by_id.emplace(int_of(row[0]), &row);
    const std::int64_t last = r->truncated ? int_of(r->rows.back()[0]) : INT64_MAX;
    std::size_t handled = 0;
    for (const auto& key : ids) {
      if (key.id > last) break;  // not reached: the next statement reads it
      const auto it = by_id.find(key.id);
      ++handled;
      // Deleted meanwhile (or deleted, and its id handed out again).
      if (it == by_id.end() || int_of((*it->second)[1]) != key.time) continue;
      if (!visit.row(*it->second)) {
        out.done += handled;
        out.stopped = true;
        return out;
      }
    }
    // A cut result that reached none of these keys in their order: the
    // first one alone next.
    if (handled == 0) alone_until = out.done + 1;
    out.done += handled;
  }
  return out;
}

}  // namespace airssys::daemoneye::cli
