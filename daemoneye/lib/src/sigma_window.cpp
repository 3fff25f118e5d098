// The scan window of Sigma rules (sigma_window.hpp).

#include "sigma_window.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <variant>

namespace airssys::daemoneye::sigma {

namespace {

Result<std::int64_t> one_integer(QueryEngine& engine, std::string_view sql, std::span<const QueryParam> params = {}) {
  auto r = engine.run(sql, params);
  if (!r) return std::unexpected(r.error());
  if (r->rows.size() != 1 || r->rows[0].size() != 1 || !std::holds_alternative<std::int64_t>(r->rows[0][0]))
    return std::unexpected(Error{ErrorCategory::internal, 0, "the scan window's query returned no integer"});
  return std::get<std::int64_t>(r->rows[0][0]);
}

}  // namespace

Result<ScanWindow> ScanWindow::begin(QueryEngine& engine, std::int64_t now) {
  auto newest = one_integer(engine, "SELECT coalesce(max(id), 0) FROM process_events");
  if (!newest) return std::unexpected(newest.error().prefixed("reading the newest event id"));
  return ScanWindow(now, *newest);
}

Result<EventRange> ScanWindow::range(QueryEngine& engine, const EventMarks& marks, std::string_view rule_id) {
  std::int64_t after = 0;
  const auto mark = marks.covered.find(rule_id);
  if (mark != marks.covered.end() && mark->second <= newest_) {
    after = mark->second;
  } else {
    if (!recent_) {
      // Through the index on time (it holds the id): the work follows the
      // events since the last scan, not the table.
      const std::array params{QueryParam{":since", now_ - kFirstScanSeconds}, QueryParam{":newest", newest_}};
      auto floor = one_integer(engine,
                               "SELECT coalesce(min(id) - 1, :newest) FROM process_events\n"
                               "WHERE time >= min(coalesce((SELECT max(time) FROM scans), :since), :since)",
                               params);
      if (!floor) return std::unexpected(floor.error().prefixed("reading the first scan's events"));
      recent_ = std::min(*floor, newest_);
    }
    after = *recent_;
  }
  const auto narrowed = marks.narrowed.find(rule_id);
  const std::int64_t limit = narrowed != marks.narrowed.end() ? narrowed->second : kMaxEventsPerScan;
  return EventRange{after, std::min(newest_, after + limit), limit};
}

std::int64_t ScanWindow::covered(const QueryResult& result, EventRange range) {
  if (!result.truncated) return range.upto;
  const auto col = std::ranges::find(result.columns, "event_id");
  if (result.rows.empty()) return range.after;  // cut before its first row: nothing read (see record())
  if (col == result.columns.end()) return range.upto;  // nothing to resume from
  const auto& last = result.rows.back()[static_cast<std::size_t>(col - result.columns.begin())];
  return std::holds_alternative<std::int64_t>(last) ? std::get<std::int64_t>(last) : range.upto;
}

std::string ScanWindow::record(std::string_view rule_id, EventRange range, const Result<QueryResult>& result,
                               EventMarks& next) {
  const std::string id(rule_id);
  // A result cut off before its first row (one row passes max_bytes) read
  // nothing: like running out of memory, it keeps the window, narrows it,
  // and is a failure the caller reports.
  const bool cut_empty = result && result->truncated && result->rows.empty();
  if (result && !cut_empty) {
    next.covered[id] = covered(*result, range);
    if (range.limit < kMaxEventsPerScan) next.narrowed[id] = std::min(kMaxEventsPerScan, range.limit * 2);
    return {};
  }
  const std::string what =
      cut_empty ? "the result was cut off before its first row (a row passes rules.max_bytes)" : "";
  next.covered[id] = range.after;
  const auto why = cut_empty ? ErrorCategory::resource_exhausted : result.error().category;
  if (why != ErrorCategory::timeout && why != ErrorCategory::resource_exhausted) {
    if (range.limit < kMaxEventsPerScan) next.narrowed[id] = range.limit;
    return {};
  }
  const std::int64_t held = range.upto - range.after;
  if (held > 1) {
    next.narrowed[id] = std::max<std::int64_t>(1, std::min(range.limit, held) / 2);
    return fmt::format("{} (its next window holds at most {} events)", what, next.narrowed[id]);
  }
  next.narrowed[id] = 1;
  if (held == 1) {
    next.covered[id] = range.upto;
    return fmt::format("{} (process_events id {} alone passes the limits: skipped by this rule)", what, range.upto);
  }
  return what;
}

}  // namespace airssys::daemoneye::sigma
