// The scan window of Sigma rules (sigma_window.hpp).

#include "sigma_window.hpp"

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
  return EventRange{after, std::min(newest_, after + kMaxEventsPerScan)};
}

std::int64_t ScanWindow::covered(const QueryResult& result, EventRange range) {
  if (!result.truncated) return range.upto;
  const auto col = std::ranges::find(result.columns, "event_id");
  if (col == result.columns.end() || result.rows.empty()) return range.upto;  // nothing to resume from
  const auto& last = result.rows.back()[static_cast<std::size_t>(col - result.columns.begin())];
  return std::holds_alternative<std::int64_t>(last) ? std::get<std::int64_t>(last) : range.upto;
}

}  // namespace airssys::daemoneye::sigma
