// AlertLedgerSync (alert_ledger_sync.hpp): the store's alerts caught up with
// the audit ledger.
#include <airssys/daemoneye/alert_ledger_sync.hpp>
#include <airssys/daemoneye/component_errors.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <string_view>
#include <tuple>

namespace airssys::daemoneye {

namespace {

Error ledger_error(const ledger::Ledger& l, const ledger::Error& e, std::string_view what) {
  return Error{category_of(e), e.errno_value,
               fmt::format("audit ledger {}: {}: {}", l.dir().string(), what, e.to_string())};
}

Result<std::string> root_hex(const ledger::Ledger& l, std::uint64_t size) {
  auto root = l.root(size);
  if (!root) return std::unexpected(ledger_error(l, root.error(), fmt::format("root at size {}", size)));
  return ledger::to_hex(*root);
}

Result<std::string> entry_text(const ledger::Ledger& l, std::uint64_t index) {
  auto bytes = l.entry(index);
  if (!bytes) return std::unexpected(ledger_error(l, bytes.error(), fmt::format("entry {}", index)));
  return std::string(bytes->begin(), bytes->end());
}

// Where the store stops being known complete in a ledger of `size`
// entries: its mark, when the mark was taken on this ledger; else the first
// entry of the last `max_age` (read back from the end: an entry's "time",
// alert or audit record, is when it was appended, so the entries are in
// time order but for a clock set back).
Result<std::uint64_t> start_of(const ledger::Ledger& l, Store& store, std::uint64_t size, std::int64_t now,
                               std::chrono::seconds max_age, bool& by_time) {
  auto mark = store.alert_ledger_mark();
  if (!mark) return std::unexpected(mark.error());
  by_time = false;
  if (*mark && (*mark)->size <= size) {
    auto root = root_hex(l, (*mark)->size);
    if (!root) return std::unexpected(root.error());
    if (*root == (*mark)->root) return (*mark)->size;
  }
  by_time = true;
  if (max_age.count() <= 0) return 0;
  const std::int64_t cutoff = now - max_age.count();
  for (std::uint64_t i = size; i > 0; --i) {
    auto text = entry_text(l, i - 1);
    if (!text) return std::unexpected(text.error());
    const auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) continue;
    const auto t = j.find("time");
    if (t != j.end() && t->is_number_integer() && t->get<std::int64_t>() < cutoff) return i;
  }
  return 0;
}

// The alerts among ledger entries [from, to) that the store lacks: of each
// (time, rule id, dedup key), as many as the range holds beyond what the
// store counts, the last ones; in ledger order.
Result<std::vector<Alert>> missing_alerts(const ledger::Ledger& l, Store& store, std::uint64_t from, std::uint64_t to) {
  std::vector<Alert> in_range;
  for (std::uint64_t i = from; i < to; ++i) {
    auto text = entry_text(l, i);
    if (!text) return std::unexpected(text.error());
    if (auto a = alert_from_json(*text)) in_range.push_back(std::move(*a));
  }
  std::map<std::tuple<std::int64_t, std::string_view, std::string_view>, std::vector<std::size_t>> same;
  for (std::size_t i = 0; i < in_range.size(); ++i)
    same[{in_range[i].time, in_range[i].rule_id, in_range[i].dedup_key}].push_back(i);
  std::vector<bool> lacking(in_range.size(), false);
  for (const auto& [key, indices] : same) {
    auto stored = store.count_alerts(std::get<0>(key), std::get<1>(key), std::get<2>(key));
    if (!stored) return std::unexpected(stored.error());
    for (std::size_t k = *stored; k < indices.size(); ++k) lacking[indices[k]] = true;
  }
  std::vector<Alert> out;
  for (std::size_t i = 0; i < in_range.size(); ++i)
    if (lacking[i]) out.push_back(std::move(in_range[i]));
  return out;
}

}  // namespace

Result<AlertCatchUp> AlertLedgerSync::sync(std::int64_t now, const EventMarks* marks, std::vector<Alert>* found) {
  behind_ = true;
  // Alerts are appended by the caller's thread only, so every alert entry is
  // below this size; entries other threads append meanwhile are not alerts.
  const std::uint64_t size = ledger_.size();
  AlertCatchUp out;
  auto from = start_of(ledger_, store_, size, now, max_age_, out.by_time);
  if (!from) return std::unexpected(from.error());
  out.entries_read = size - *from;
  auto missing = missing_alerts(ledger_, store_, *from, size);
  if (!missing) return std::unexpected(missing.error());
  if (found) *found = *missing;
  auto root = root_hex(ledger_, size);
  if (!root) return std::unexpected(root.error());
  const AlertLedgerMark mark{.size = size, .root = std::move(*root)};
  auto inserted = marks ? store_.insert_alerts(*missing, *marks, mark) : store_.insert_alerts(*missing, mark);
  if (!inserted) return std::unexpected(inserted.error());
  behind_ = false;
  out.missing = std::move(*missing);
  return out;
}

Result<AlertCatchUp> AlertLedgerSync::catch_up(std::int64_t now, std::vector<Alert>* found) {
  return sync(now, nullptr, found);
}

Result<std::size_t> AlertLedgerSync::store(std::span<const Alert> raised, const EventMarks& marks, std::int64_t now) {
  if (behind_) {
    auto r = sync(now, &marks, nullptr);
    if (!r) return std::unexpected(r.error());
    return r->missing.size();
  }
  behind_ = true;  // until the commit
  const std::uint64_t size = ledger_.size();
  auto root = root_hex(ledger_, size);
  if (!root) return std::unexpected(root.error());
  if (auto r = store_.insert_alerts(raised, marks, {.size = size, .root = std::move(*root)}); !r)
    return std::unexpected(r.error());
  behind_ = false;
  return raised.size();
}

}  // namespace airssys::daemoneye
