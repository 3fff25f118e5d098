// AlertLedgerSync (alert_ledger_sync.hpp): the store's alerts caught up with
// the audit ledger.
#include <airssys/daemoneye/alert_ledger_sync.hpp>
#include <airssys/daemoneye/component_errors.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "alert_held.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

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

// An entry's top-level "time", read without parsing the rest: the SAX
// parse stops at its value (an alert entry's first member, so a large row
// is not parsed to find it).
class TimeOnly final : public nlohmann::json_sax<nlohmann::json> {
 public:
  std::optional<std::int64_t> time;

  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t v) override { return take(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return v <= static_cast<number_unsigned_t>(std::numeric_limits<std::int64_t>::max())
               ? take(static_cast<std::int64_t>(v))
               : value();
  }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool string(string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    at_time_ = false;
    ++depth_;
    return true;
  }
  bool key(string_t& k) override {
    at_time_ = depth_ == 1 && k == "time";
    return true;
  }
  bool end_object() override {
    --depth_;
    return depth_ > 0;  // the top-level object ended without "time": stop
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return false;  // not an object
    at_time_ = false;
    ++depth_;
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool value() {
    if (depth_ == 0) return false;  // a scalar document
    at_time_ = false;
    return true;
  }
  bool take(std::int64_t v) {
    if (depth_ == 0) return false;
    if (at_time_) {
      time = v;
      return false;  // found: stop
    }
    return true;
  }
  int depth_ = 0;
  bool at_time_ = false;
};

std::optional<std::int64_t> time_of(const ledger::Ledger& l, std::uint64_t index) {
  auto bytes = l.entry(index);
  if (!bytes) return std::nullopt;
  TimeOnly reader;
  (void)nlohmann::json::sax_parse(bytes->begin(), bytes->end(), &reader);
  return reader.time;
}

// The first entry of [0, size) whose time is after `floor`, by binary
// search (entries are in time order but for a clock set back; an entry
// without a time takes the next one's).
std::uint64_t first_after(const ledger::Ledger& l, std::uint64_t size, std::int64_t floor) {
  std::uint64_t lo = 0, hi = size;
  while (lo < hi) {
    const std::uint64_t mid = lo + (hi - lo) / 2;
    std::optional<std::int64_t> t;
    std::uint64_t j = mid;
    for (; j < hi && !(t = time_of(l, j)); ++j) {
    }
    if (!t || *t > floor)
      hi = mid;
    else
      lo = j + 1;
  }
  return lo;
}

}  // namespace

Result<std::string> AlertLedgerSync::root_at(std::uint64_t size) {
  auto root = root_hex(ledger_, size);
  if (!root) ledger_failed_now_ = true;
  return root;
}

void AlertLedgerSync::tell(std::string_view message) const {
  if (log_) log_(message);
}

Result<AlertCatchUp> AlertLedgerSync::sync(std::int64_t now, const EventMarks* marks, std::vector<Alert>* found,
                                           int max_chunks, bool at_start) {
  behind_ = true;
  // Alerts are appended by the caller's thread only, so every alert entry is
  // below this size; entries other threads append meanwhile are not alerts.
  const std::uint64_t size = ledger_.size();
  AlertCatchUp out;

  auto mark = store_.alert_ledger_mark();
  if (!mark) return std::unexpected(mark.error());
  auto cut = store_.alert_ledger_cut();
  if (!cut) return std::unexpected(cut.error());
  std::int64_t floor = std::numeric_limits<std::int64_t>::min();
  if (max_age_.count() > 0) floor = now - max_age_.count() - 1;  // retention deletes time < now - max_age
  if (*cut) floor = std::max(floor, **cut);

  bool usable = false;
  if (*mark && (*mark)->size <= size) {
    auto root = root_at((*mark)->size);
    if (!root) return std::unexpected(root.error());
    usable = *root == (*mark)->root;
  }
  std::uint64_t from = 0;
  std::int64_t base = -1;  // rows above this count as stored
  if (usable) {
    from = (*mark)->size;
    base = (*mark)->alerts_id.value_or(-1);
  } else {
    out.by_time = true;
    // History older than the store's oldest scan is not the store's any more
    // (retention, or it never was): kept out, also by the later calls.
    auto oldest = store_.oldest_scan_time();
    if (!oldest) return std::unexpected(oldest.error());
    if (*oldest && **oldest - 1 > floor) {
      floor = **oldest - 1;
      if (auto r = store_.raise_alert_ledger_cut(floor); !r) return std::unexpected(r.error());
    }
    from = floor == std::numeric_limits<std::int64_t>::min() ? 0 : first_after(ledger_, size, floor);
  }
  if (base != base_) consumed_.clear();
  base_ = base;
  // At start: alerts whose append was reported failed (the ledger's head
  // write or sync failed after its data was written, so the head on disk
  // may count them) were never handed to the sinks; they stay out of the
  // store, so the dedup window does not hold them back when raised again.
  std::uint64_t unraised_from = size;
  if (at_start) {
    auto u = store_.alerts_not_raised_from();
    if (!u) return std::unexpected(u.error());
    if (*u) unraised_from = std::min(**u, size);
  }
  const bool clear_unraised = at_start;

  bool committed = false;
  for (int chunk = 0; from < size && chunk < max_chunks; ++chunk) {
    std::vector<Alert> alerts;
    std::uint64_t end = from, bytes = 0;
    for (; end < size && end - from < kChunkEntries && bytes < kChunkBytes; ++end) {
      // Damage (`corrupt`: offsets or a length that contradict each other, a
      // file that ends early) is skipped for good; a system call that failed
      // (`io`) fails the read, to be tried again.
      auto entry = ledger_.entry(end);
      std::string why;
      if (!entry) {
        if (entry.error().category != ledger::ErrorCategory::corrupt) {
          ledger_failed_now_ = true;
          return std::unexpected(ledger_error(ledger_, entry.error(), fmt::format("entry {}", end)));
        }
        why = fmt::format("it cannot be read ({})", entry.error().to_string());
      } else {
        bytes += entry->size();
        auto leaf = ledger_.leaf_hash(end);
        if (!leaf && leaf.error().category != ledger::ErrorCategory::corrupt) {
          ledger_failed_now_ = true;
          return std::unexpected(ledger_error(ledger_, leaf.error(), fmt::format("leaf hash {}", end)));
        }
        if (!leaf)
          why = fmt::format("its leaf hash cannot be read ({})", leaf.error().to_string());
        else if (*leaf != ledger::leaf_hash(*entry))
          why = "its bytes do not match the tree's leaf hash (edited in place: tampering)";
      }
      if (!why.empty()) {
        ++out.skipped;
        if (end >= told_below_)
          tell(fmt::format("audit ledger {}: entry {} is skipped, not brought into the store: {}; run "
                           "airssys-ledger verify",
                           ledger_.dir().string(), end, why));
        told_below_ = std::max(told_below_, end + 1);
        continue;
      }
      auto a = alert_from_json(std::string_view(reinterpret_cast<const char*>(entry->data()), entry->size()));
      if (a && end >= unraised_from) {
        ++out.not_raised;
        continue;
      }
      if (a && a->time > floor) alerts.push_back(std::move(*a));
    }
    out.entries_read += end - from;

    // Of each (time, rule id, dedup key): as many as the chunk holds beyond
    // the rows stored after the base that earlier chunks did not match, the
    // last ones; in ledger order.
    std::map<std::tuple<std::int64_t, std::string, std::string>, std::vector<std::size_t>> same;
    for (std::size_t k = 0; k < alerts.size(); ++k)
      same[{alerts[k].time, alerts[k].rule_id, alerts[k].dedup_key}].push_back(k);
    std::vector<bool> lacking(alerts.size(), false);
    for (const auto& [key, indices] : same) {
      auto stored = store_.count_alerts(std::get<0>(key), std::get<1>(key), std::get<2>(key), base);
      if (!stored) return std::unexpected(stored.error());
      const auto used = consumed_.find(key);
      const std::uint64_t matched = used == consumed_.end() ? 0 : used->second;
      const std::uint64_t available = *stored > matched ? *stored - matched : 0;
      for (std::size_t k = available; k < indices.size(); ++k) lacking[indices[k]] = true;
    }
    std::vector<Alert> missing;
    for (std::size_t k = 0; k < alerts.size(); ++k)
      if (lacking[k]) missing.push_back(std::move(alerts[k]));

    auto root = root_at(end);
    if (!root) return std::unexpected(root.error());
    // The last chunk saves the largest id (every row is below the mark's
    // entries now); the others keep the base, so the rows they insert and
    // those stored past the mark before still count for the chunks to come.
    const bool last = end == size;
    AlertLedgerMark next{.size = end, .root = std::move(*root)};
    if (!last) next.alerts_id = base;
    next.clear_unraised = last && clear_unraised;
    auto inserted = marks ? store_.insert_alerts(missing, *marks, next) : store_.insert_alerts(missing, next);
    if (!inserted) {
      if (found) *found = std::move(missing);
      return std::unexpected(inserted.error());
    }
    out.stored += missing.size();
    committed = true;
    if (last) {
      consumed_.clear();
      base_ = -2;
    } else {
      for (const auto& [key, indices] : same) consumed_[key] += indices.size();
    }
    from = end;
  }
  if (!committed && from == size) {
    // Nothing to read (the mark is at the end, or nothing past the floor):
    // the mark and the scan's Sigma marks still go in.
    auto root = root_at(size);
    if (!root) return std::unexpected(root.error());
    const AlertLedgerMark next{.size = size, .root = std::move(*root), .clear_unraised = clear_unraised};
    if (auto r = marks ? store_.insert_alerts({}, *marks, next) : store_.insert_alerts({}, next); !r)
      return std::unexpected(r.error());
  }
  out.complete = from == size;
  behind_ = !out.complete;
  return out;
}

Result<std::map<AlertLedgerSync::SummaryKey, std::int64_t>> AlertLedgerSync::summaries_past_mark() {
  std::map<SummaryKey, std::int64_t> out;
  const std::uint64_t size = ledger_.size();
  auto mark = store_.alert_ledger_mark();
  if (!mark) return std::unexpected(mark.error());
  if (!*mark || (*mark)->size > size) return out;
  auto root = root_hex(ledger_, (*mark)->size);
  if (!root) return std::unexpected(root.error());
  if (*root != (*mark)->root) return out;
  auto unraised = store_.alerts_not_raised_from();
  if (!unraised) return std::unexpected(unraised.error());
  const std::uint64_t end = *unraised ? std::min(**unraised, size) : size;
  // Damage (`corrupt`) is passed over, as catch_up() skips it; a system call
  // that failed fails the read.
  const auto failed = [](const ledger::Error& e) { return e.category != ledger::ErrorCategory::corrupt; };
  for (std::uint64_t i = (*mark)->size; i < end; ++i) {
    auto entry = ledger_.entry(i);
    if (!entry) {
      if (failed(entry.error()))
        return std::unexpected(ledger_error(ledger_, entry.error(), fmt::format("entry {}", i)));
      continue;
    }
    const std::string_view text(reinterpret_cast<const char*>(entry->data()), entry->size());
    if (text.find(detail::kRateLimitedTag) == std::string_view::npos) continue;
    auto leaf = ledger_.leaf_hash(i);
    if (!leaf) {
      if (failed(leaf.error()))
        return std::unexpected(ledger_error(ledger_, leaf.error(), fmt::format("leaf hash {}", i)));
      continue;
    }
    if (*leaf != ledger::leaf_hash(*entry)) continue;
    auto a = alert_from_json(text);
    if (!a || std::ranges::find(a->tags, detail::kRateLimitedTag) == a->tags.end()) continue;
    out.insert_or_assign(SummaryKey{a->rule_id, a->dedup_key}, a->time);
  }
  return out;
}

Result<AlertCatchUp> AlertLedgerSync::catch_up(std::int64_t now, std::vector<Alert>* found) {
  return sync(now, nullptr, found, std::numeric_limits<int>::max(), /*at_start=*/true);
}

Result<std::size_t> AlertLedgerSync::store(std::span<const Alert> raised, const EventMarks& marks, std::int64_t now) {
  Error why;  // why the ledger cannot be read
  ledger_failed_now_ = false;
  if (behind_) {
    auto r = sync(now, &marks, nullptr, kChunksPerScan, /*at_start=*/false);
    if (r) {
      ledger_failed_ = false;
      return r->stored;
    }
    if (!ledger_failed_now_) return std::unexpected(r.error());  // the store's own failure
    why = r.error();
  } else {
    behind_ = true;  // until the commit
    const std::uint64_t size = ledger_.size();
    auto root = root_at(size);
    if (root) {
      // Alerts appended and raised: an append failure noted before was not
      // the ledger's head (the ledger goes on), nothing past it is unraised.
      const AlertLedgerMark next{.size = size, .root = std::move(*root), .clear_unraised = !raised.empty()};
      if (auto r = store_.insert_alerts(raised, marks, next); !r) return std::unexpected(r.error());
      behind_ = false;
      return raised.size();
    }
    why = root.error();
  }
  // The ledger cannot be read: the scan's alerts and marks still go in,
  // the mark stays where it was (they
  // lie past it, and count as stored when a later call reads them).
  if (auto r = store_.insert_alerts(raised, marks); !r) return std::unexpected(r.error());
  if (!ledger_failed_)
    tell(fmt::format("the alerts past the store's mark cannot be brought in from the audit ledger now ({}); this "
                     "scan's alerts are stored, the rest when the ledger can be read",
                     why.message));
  ledger_failed_ = true;
  return raised.size();
}

Result<void> AlertLedgerSync::append_failed(std::uint64_t size_before) {
  return store_.note_alerts_not_raised_from(size_before);
}

}  // namespace airssys::daemoneye
