// Ledger continuity at start (ledger_continuity.hpp).
#include <airssys/daemoneye/component_errors.hpp>
#include <airssys/daemoneye/ledger_continuity.hpp>
#include <airssys/daemoneye/store.hpp>

#include <airssys/ledger/error.hpp>
#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <cerrno>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace airssys::daemoneye {

namespace {

Result<std::string> root_hex(const ledger::Ledger& l, std::uint64_t size) {
  auto root = l.root(size);
  if (!root)
    return std::unexpected(Error{category_of(root.error()), root.error().errno_value,
                                 fmt::format("audit ledger {}: root at size {}: {}", l.dir().string(), size,
                                             root.error().to_string())});
  return ledger::to_hex(*root);
}

std::string_view problem_name(LedgerDiscontinuity::Kind k) {
  switch (k) {
    case LedgerDiscontinuity::Kind::missing: return "missing";
    case LedgerDiscontinuity::Kind::shorter: return "shorter";
    case LedgerDiscontinuity::Kind::other_root: return "other_root";
    case LedgerDiscontinuity::Kind::unverifiable: return "unverifiable";
  }
  return "unknown";
}

std::optional<LedgerDiscontinuity::Kind> kind_named(std::string_view name) {
  for (const auto k : {LedgerDiscontinuity::Kind::missing, LedgerDiscontinuity::Kind::shorter,
                       LedgerDiscontinuity::Kind::other_root, LedgerDiscontinuity::Kind::unverifiable})
    if (problem_name(k) == name) return k;
  return std::nullopt;
}

// What the ledger is expected to go on from: what an unraised discontinuity
// found, else the store's mark.
Result<std::optional<AlertLedgerMark>> expected_mark(Store& store, const LedgerDiscontinuity* after) {
  if (after) return AlertLedgerMark{.size = after->found_size, .root = after->found_root};
  return store.alert_ledger_mark();
}

LedgerDiscontinuity unverifiable(Store& store, std::string_view error, const LedgerDiscontinuity* after) {
  LedgerDiscontinuity d{.kind = LedgerDiscontinuity::Kind::unverifiable, .reason = fmt::format("unverifiable: {}", error)};
  if (auto mark = expected_mark(store, after); mark && *mark) {
    d.expected_size = (*mark)->size;
    d.expected_root = (*mark)->root;
  }
  return d;
}

}  // namespace

Result<std::optional<LedgerDiscontinuity>> check_ledger_continuity(const ledger::Ledger& ledger, Store& store,
                                                                   bool created, const LedgerDiscontinuity* after) {
  auto mark = expected_mark(store, after);
  if (!mark) return std::unexpected(mark.error());
  // A mark at 0 counts nothing a ledger could have lost.
  if (!*mark || (*mark)->size == 0) return std::nullopt;
  const AlertLedgerMark& m = **mark;
  LedgerDiscontinuity d{.expected_size = m.size, .expected_root = m.root, .found_size = ledger.size()};
  if (created || d.found_size < m.size) {
    d.kind = created ? LedgerDiscontinuity::Kind::missing : LedgerDiscontinuity::Kind::shorter;
    auto root = root_hex(ledger, d.found_size);
    if (!root) return std::unexpected(root.error());
    d.found_root = std::move(*root);
    return d;
  }
  auto root = root_hex(ledger, m.size);
  if (!root) return std::unexpected(root.error());
  if (*root == m.root) return std::nullopt;
  d.kind = LedgerDiscontinuity::Kind::other_root;
  d.found_root = std::move(*root);
  return d;
}

LedgerDiscontinuity unverifiable_ledger(const ledger::Ledger& in_use, Store& store, std::string_view error,
                                        const LedgerDiscontinuity* after) {
  LedgerDiscontinuity d = unverifiable(store, error, after);
  const ledger::Ledger::Head head = in_use.head();
  d.found_size = head.size;
  d.found_root = ledger::to_hex(head.root);
  return d;
}

LedgerDiscontinuity set_aside_ledger(Store& store, std::string_view error, const LedgerDiscontinuity* after) {
  LedgerDiscontinuity d = unverifiable(store, error, after);
  d.found_size = 0;
  d.found_root = ledger::to_hex(ledger::empty_tree_hash());
  return d;
}

bool damaged_for_good(ledger::ErrorCategory category, int errno_value) noexcept {
  if (category == ledger::ErrorCategory::corrupt) return true;
  return category == ledger::ErrorCategory::invalid_argument && (errno_value == EISDIR || errno_value == ELOOP);
}

std::string pending_text(std::span<const LedgerDiscontinuity> pending) {
  if (pending.empty()) return {};
  nlohmann::json all = nlohmann::json::array();
  for (const LedgerDiscontinuity& d : pending)
    all.push_back({{"problem", problem_name(d.kind)},
                   {"expected_size", d.expected_size},
                   {"expected_root", d.expected_root},
                   {"found_size", d.found_size},
                   {"found_root", d.found_root},
                   {"reason", d.reason}});
  return all.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::vector<LedgerDiscontinuity>> pending_from(std::string_view text) {
  std::vector<LedgerDiscontinuity> out;
  if (text.empty()) return out;
  const auto bad = [&] {
    return fail(ErrorCategory::corrupt,
                fmt::format("the store's record of ledger discontinuities not raised yet cannot be read: {}",
                            text.substr(0, 200)));
  };
  const nlohmann::json all = nlohmann::json::parse(text, nullptr, false);
  if (!all.is_array()) return bad();
  for (const auto& j : all) {
    if (!j.is_object() || !j.contains("problem") || !j["problem"].is_string()) return bad();
    const auto kind = kind_named(j["problem"].get<std::string>());
    if (!kind) return bad();
    try {
      out.push_back({.kind = *kind,
                     .expected_size = j.at("expected_size").get<std::uint64_t>(),
                     .expected_root = j.at("expected_root").get<std::string>(),
                     .found_size = j.at("found_size").get<std::uint64_t>(),
                     .found_root = j.at("found_root").get<std::string>(),
                     .reason = j.value("reason", "")});
    } catch (const nlohmann::json::exception&) {
      return bad();  // a field missing or of another type
    }
  }
  return out;
}

std::string describe(const LedgerDiscontinuity& d, std::string_view ledger_dir) {
  const std::string expected = fmt::format("the store's mark expects at least {} entries with root {} at {}",
                                           d.expected_size, d.expected_root, d.expected_size);
  switch (d.kind) {
    case LedgerDiscontinuity::Kind::missing:
      return fmt::format("the audit ledger {} is missing (moved away or deleted): {}, found no ledger (an empty one "
                         "is made)",
                         ledger_dir, expected);
    case LedgerDiscontinuity::Kind::shorter:
      return fmt::format("the audit ledger {} is shorter than it was (entries cut or the ledger replaced): {}, found "
                         "{} entries with root {}",
                         ledger_dir, expected, d.found_size, d.found_root);
    case LedgerDiscontinuity::Kind::other_root:
      return fmt::format("the audit ledger {} is not the one the store followed (replaced or rebuilt): {}, found {} "
                         "entries with root {} at {}",
                         ledger_dir, expected, d.found_size, d.found_root, d.expected_size);
    case LedgerDiscontinuity::Kind::unverifiable:
      return fmt::format("the audit ledger {} cannot be verified against the store's mark ({}): {}; the ledger in use "
                         "has {} entries with root {}",
                         ledger_dir, d.reason, expected, d.found_size, d.found_root);
  }
  return std::string(ledger_dir);
}

Alert discontinuity_alert(const LedgerDiscontinuity& d, std::string_view ledger_dir, const std::string& host,
                          std::int64_t now) {
  Alert a;
  a.rule_id = std::string(kLedgerDiscontinuityRule);
  a.rule_name = "audit ledger missing, cut short or replaced since the agent last ran";
  a.severity = Severity::high;
  a.tags = {"daemoneye.ledger"};
  a.host = host;
  a.time = now;
  const bool unverifiable = d.kind == LedgerDiscontinuity::Kind::unverifiable;
  a.dedup_key = fmt::format("{}|expected={}:{}|found={}:{}{}", kLedgerDiscontinuityRule, d.expected_size,
                            d.expected_root, d.found_size, d.found_root, unverifiable ? "|unverifiable" : "");
  nlohmann::json row{{"problem", problem_name(d.kind)},
                     {"ledger_dir", std::string(ledger_dir)},
                     {"expected_size", d.expected_size},
                     {"expected_root", d.expected_root},
                     {"found_size", d.found_size},
                     {"found_root", d.found_root}};
  if (unverifiable) row["reason"] = d.reason;
  a.row_json = row.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return a;
}

}  // namespace airssys::daemoneye
