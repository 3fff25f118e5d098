// Rule exceptions (rule_exception.hpp): one file's text → its entries, and
// whether an entry matches an alert's row. File access and the column check
// are rule_exception_load.cpp's.

#include <airssys/daemoneye/rule_exception.hpp>
#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/utf8.hpp>

#include <fmt/format.h>
#include <fnmatch.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <ctime>
#include <optional>
#include <set>

#include "utc_time.hpp"
#include "yaml_document.hpp"

namespace airssys::daemoneye {

namespace {

constexpr std::size_t kMaxFileBytes = 1024 * 1024;
constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxConditions = 32;
constexpr std::array<std::string_view, 7> kFields{"id", "rule", "reason", "match", "expires", "owner", "ticket"};

// Thrown inside this file only, caught per entry: keeps each check one line.
struct Fault {
  int line = 0;
  std::string message;
};

int line_of(const YAML::Node& n, int fallback) { return detail::line_of(n, fallback); }

[[noreturn]] void fault(const YAML::Node& at, int fallback, std::string message) {
  throw Fault{line_of(at, fallback), std::move(message)};
}

std::string shown(std::string_view s) { return osl::detail::shown_text(s); }

bool is_id(std::string_view s) {
  return !s.empty() && s.size() <= kMaxIdBytes && std::ranges::all_of(s, [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '_' || c == '.' || c == '-';
  });
}

std::string text_of(const YAML::Node& v, int key_line, std::string_view field) {
  if (!v.IsScalar()) fault(v, key_line, fmt::format("{} must be a string (got {})", field, detail::describe(v)));
  return v.Scalar();
}

bool blank(std::string_view s) {
  return std::ranges::all_of(s, [](unsigned char c) { return std::isspace(c) != 0; });
}

ExceptionCondition condition_of(const std::string& column, const YAML::Node& v, int key_line) {
  ExceptionCondition c{.column = column};
  // fnmatch and the comparisons see C strings: "*\0x" would be "*".
  const auto no_nul = [&](const YAML::Node& at) {
    if (c.value.find('\0') != std::string::npos)
      fault(at, key_line, fmt::format("match: {}: a NUL byte in the value (it would cut the pattern there)", shown(column)));
  };
  if (v.IsScalar()) {
    c.value = v.Scalar();
    no_nul(v);
    return c;
  }
  if (v.IsMap() && v.size() == 1 && v["glob"] && v["glob"].IsScalar()) {
    c.glob = true;
    c.value = v["glob"].Scalar();
    if (c.value.empty()) fault(v, key_line, fmt::format("match: {}: the glob is empty", shown(column)));
    no_nul(v["glob"]);
    return c;
  }
  fault(v, key_line,
        fmt::format("match: {}: must be a value (equal) or {{glob: PATTERN}} (got {})", shown(column),
                    detail::describe(v)));
}

RuleException entry_of(const YAML::Node& item, int list_line, std::set<std::string>& ids, std::string& rule_out) {
  const int line = line_of(item, list_line);
  if (!item.IsMap()) fault(item, list_line, fmt::format("an exception must be a mapping (id, rule, reason, match, ...), got {}",
                                                        detail::describe(item)));
  RuleException e;
  e.line = line;
  std::set<std::string, std::less<>> seen;
  // The id and rule first, so every later message names them.
  if (const YAML::Node id = item["id"]; id && id.IsScalar()) e.id = id.Scalar();
  if (const YAML::Node r = item["rule"]; r && r.IsScalar()) rule_out = r.Scalar();
  for (const auto& kv : item) {
    const YAML::Node k = kv.first;
    const YAML::Node v = kv.second;
    const int kline = line_of(k, line);
    if (!k.IsScalar()) fault(k, line, fmt::format("keys must be plain words (got {})", detail::describe(k)));
    const std::string& key = k.Scalar();
    if (std::ranges::find(kFields, key) == kFields.end())
      fault(k, line, fmt::format("unknown field '{}' (known: id, rule, reason, match, expires, owner, ticket)", shown(key)));
    if (!seen.insert(key).second) fault(k, line, fmt::format("duplicate field '{}'", shown(key)));
    if (key == "id") {
      e.id = text_of(v, kline, "id");
      if (!is_id(e.id))
        fault(v, kline, fmt::format("id: '{}' must be 1 to {} letters, digits, '_', '.' or '-'", shown(e.id), kMaxIdBytes));
    } else if (key == "rule") {
      e.rule = text_of(v, kline, "rule");
      if (!is_id(e.rule))
        fault(v, kline, fmt::format("rule: '{}' is not a rule id (an exception names one rule: no wildcard)", shown(e.rule)));
    } else if (key == "reason") {
      e.reason = v.IsNull() ? std::string() : text_of(v, kline, "reason");
      if (blank(e.reason)) fault(v, kline, "reason: must not be empty (say why this match is fine)");
    } else if (key == "owner") {
      e.owner = v.IsNull() ? std::string() : text_of(v, kline, "owner");
    } else if (key == "ticket") {
      e.ticket = v.IsNull() ? std::string() : text_of(v, kline, "ticket");
    } else if (key == "expires") {
      const std::string t = text_of(v, kline, "expires");
      e.expires = parse_expiry(t);
      if (!e.expires)
        fault(v, kline, fmt::format("expires: '{}' is not a date (2027-03-31) or a UTC time (2027-03-31T12:00:00Z, "
                                    "or with an offset +02:00)",
                                    shown(t)));
    } else if (key == "match") {
      if (!v.IsMap() || v.size() == 0)
        fault(v, kline, fmt::format("match: must be a mapping of at least one column to a value or {{glob: PATTERN}} "
                                    "(got {})",
                                    detail::describe(v)));
      std::set<std::string, std::less<>> columns;
      for (const auto& cv : v) {
        const YAML::Node ck = cv.first;
        if (!ck.IsScalar() || ck.Scalar().empty())
          fault(ck, kline, fmt::format("match: column names must be plain words (got {})", detail::describe(ck)));
        if (!columns.insert(ck.Scalar()).second) fault(ck, kline, fmt::format("match: duplicate column '{}'", shown(ck.Scalar())));
        if (e.match.size() == kMaxConditions) fault(ck, kline, fmt::format("match: at most {} columns", kMaxConditions));
        e.match.push_back(condition_of(ck.Scalar(), cv.second, line_of(ck, kline)));
      }
    }
  }
  for (std::string_view required : {"id", "rule", "reason", "match"})
    if (!seen.contains(required)) fault(item, list_line, fmt::format("missing required field '{}'", required));
  if (!ids.insert(e.id).second) fault(item, list_line, fmt::format("duplicate id '{}'", shown(e.id)));
  return e;
}

std::string where(const std::filesystem::path& file, int line) {
  const std::string f = osl::detail::shown_path(file.native());
  return line > 0 ? fmt::format("{}:{}", f, line) : f;
}

}  // namespace

std::optional<std::int64_t> parse_expiry(std::string_view t) {
  const auto num = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > t.size()) return false;
    const auto [p, ec] = std::from_chars(t.data() + at, t.data() + at + n, out);
    return ec == std::errc{} && p == t.data() + at + n && std::isdigit(static_cast<unsigned char>(t[at])) != 0;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!num(0, 4, y) || t.size() < 10 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' || !num(8, 2, d)) return std::nullopt;
  std::int64_t offset = 0;
  if (t.size() > 10) {
    if (t.size() < 20 || t[10] != 'T' || !num(11, 2, h) || t[13] != ':' || !num(14, 2, mi) || t[16] != ':' ||
        !num(17, 2, s))
      return std::nullopt;
    const std::string_view zone = t.substr(19);
    int oh = 0, om = 0;
    if (zone == "Z") {
      offset = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && num(20, 2, oh) && zone[3] == ':' &&
               num(23, 2, om) && oh <= 23 && om <= 59) {
      offset = (zone[0] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    } else {
      return std::nullopt;  // a time without a zone is ambiguous
    }
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t at = ::timegm(&tm);
  // timegm normalises 2027-02-30 to March 2: refused instead.
  if (tm.tm_mday != d || tm.tm_mon != mo - 1) return std::nullopt;
  return static_cast<std::int64_t>(at) - offset;
}

ExceptionSet parse_exceptions(std::string_view yaml, const std::filesystem::path& source, std::int64_t now) {
  ExceptionSet out;
  const auto file_error = [&](int line, std::string message) {
    out.errors.push_back({fmt::format("{}: {}", where(source, line), message), {}, {}, source});
    return out;
  };
  auto root = detail::load_yaml_document(yaml, kMaxFileBytes, "an exception file");
  if (!root) return file_error(root.error().line, root.error().message);
  try {
    if (root->IsNull()) return file_error(0, "empty file (expected exceptions: [...])");
    if (!root->IsMap() || root->size() != 1 || !(*root)["exceptions"])
      return file_error(line_of(*root, 0), fmt::format("expected one key, exceptions: a list of exceptions (got {})",
                                                       detail::describe(*root)));
    const YAML::Node list = (*root)["exceptions"];
    const int list_line = line_of(list, 1);
    if (list.IsNull()) return out;  // "exceptions:" with none yet
    if (!list.IsSequence())
      return file_error(list_line, fmt::format("exceptions must be a list (got {})", detail::describe(list)));
    std::set<std::string> ids;
    for (const auto& item : list) {
      std::string rule;
      try {
        RuleException e = entry_of(item, list_line, ids, rule);
        e.file = source;
        e.weak = weakness(e);
        if (!e.weak.empty())
          out.warnings.push_back({fmt::format("{}: exception '{}': weak: {}", where(source, e.line), e.id, e.weak),
                                  e.rule});
        if (e.expires && *e.expires <= now)
          out.warnings.push_back({fmt::format("{}: exception '{}': expired at {}: it no longer applies (remove it)",
                                              where(source, e.line), e.id, detail::utc_timestamp(*e.expires)),
                                  e.rule});
        out.exceptions.push_back(std::move(e));
      } catch (const Fault& f) {
        const YAML::Node id = item.IsMap() ? item["id"] : YAML::Node();
        const std::string named =
            id && id.IsScalar() ? fmt::format("exception '{}': ", shown(id.Scalar())) : std::string();
        out.errors.push_back({fmt::format("{}: {}{}", where(source, f.line), named, f.message), rule,
                              id && id.IsScalar() ? id.Scalar() : std::string(), source});
      }
    }
  } catch (const YAML::Exception& e) {
    return file_error(e.mark.is_null() ? 0 : e.mark.line + 1, fmt::format("invalid YAML: {}", e.msg));
  }
  return out;
}

bool in_force(const RuleException& e, std::int64_t now) noexcept { return !e.expires || now < *e.expires; }

std::vector<RuleException> merge_on_reload(const std::vector<RuleException>& old, const ExceptionSet& fresh,
                                           std::vector<std::string>& kept) {
  std::vector<RuleException> out = fresh.exceptions;
  const auto under = [](const std::filesystem::path& file, const std::filesystem::path& refused) {
    if (refused.empty() || file == refused) return true;
    const std::string& r = refused.native();
    return file.native().starts_with(r.ends_with('/') ? r : r + "/");
  };
  for (const RuleException& o : old) {
    if (std::ranges::any_of(out, [&](const RuleException& n) { return n.id == o.id; })) continue;
    const bool unjudged = std::ranges::any_of(fresh.errors, [&](const ExceptionError& e) {
      return e.id.empty() ? under(o.file, e.file) : e.id == o.id;
    });
    if (!unjudged) continue;
    kept.push_back(o.id);
    out.push_back(o);
  }
  return out;
}

bool path_like_column(std::string_view column) noexcept {
  return column == "cwd" || column == "exe" || column.ends_with("path") || column == "path_given";
}

std::string weakness(const RuleException& e) {
  // Columns the kernel sets and a process cannot choose for itself (uid and
  // the others only by holding the privilege that makes it that user).
  // `parent` is not one: an orphan is reparented to pid 1 (or a subreaper),
  // and pid is reused.
  constexpr std::array<std::string_view, 7> kPinning{"uid", "euid", "gid", "egid", "start_time", "loginuid", "auid"};
  for (const ExceptionCondition& c : e.match)
    if (c.glob && c.value.find_first_not_of('*') == std::string::npos)
      return fmt::format("match: {}: the glob '{}' matches any value", shown(c.column), c.value);
  const bool pinned = std::ranges::any_of(e.match, [&](const ExceptionCondition& c) {
    return !c.glob && std::ranges::find(kPinning, c.column) != kPinning.end();
  });
  if (pinned) return {};
  return "no exact condition on a column the kernel gives (uid, euid, gid, egid, start_time, loginuid, auid): name, "
         "cmdline, cwd, path and parent are the process's to choose, so any user's process can match it";
}

namespace {

bool holds_string(const ExceptionCondition& c, const std::string& s) {
  const int flags = path_like_column(c.column) ? FNM_PATHNAME : 0;
  if (c.glob) return s.find('\0') == std::string::npos && ::fnmatch(c.value.c_str(), s.c_str(), flags) == 0;
  return s == c.value;
}

bool holds_integer(const ExceptionCondition& c, std::int64_t v) {
  if (c.glob) return ::fnmatch(c.value.c_str(), std::to_string(v).c_str(), 0) == 0;
  std::int64_t n = 0;
  const auto [p, ec] = std::from_chars(c.value.data(), c.value.data() + c.value.size(), n);
  return ec == std::errc{} && p == c.value.data() + c.value.size() && n == v;
}

bool holds_real(const ExceptionCondition& c, double v) {
  if (c.glob) return false;
  double d = 0;
  const auto [p, ec] = std::from_chars(c.value.data(), c.value.data() + c.value.size(), d);
  return ec == std::errc{} && p == c.value.data() + c.value.size() && d == v;
}

bool holds(const ExceptionCondition& c, const nlohmann::json& v) {
  if (v.is_string()) return holds_string(c, v.get_ref<const std::string&>());
  if (v.is_number_integer()) return holds_integer(c, v.get<std::int64_t>());
  if (v.is_number_float()) return holds_real(c, v.get<double>());
  return false;  // NULL, or what a row never holds
}

bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = osl::detail::utf8_sequence_length(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// As holds() on the value in the row's JSON (row_to_json, parsed again):
// a real that is not finite is null there, and a string that is not valid
// UTF-8 has its bad bytes replaced (U+FFFD) by the dump, so such a string
// takes that same road (rare: a process's bytes).
bool holds(const ExceptionCondition& c, const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) {
    if (valid_utf8(*s)) return holds_string(c, *s);
    const std::string dumped = nlohmann::json(*s).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return holds(c, nlohmann::json::parse(dumped, nullptr, /*allow_exceptions=*/false));
  }
  if (const auto* i = std::get_if<std::int64_t>(&v)) return holds_integer(c, *i);
  if (const auto* d = std::get_if<double>(&v)) return std::isfinite(*d) && holds_real(c, *d);
  return false;  // NULL
}

}  // namespace

namespace {

bool matches_row(const RuleException& e, const nlohmann::json& row) {
  if (!row.is_object()) return false;
  return std::ranges::all_of(e.match, [&](const ExceptionCondition& c) {
    const auto it = row.find(c.column);
    return it != row.end() && holds(c, *it);
  });
}

}  // namespace

bool matches(const RuleException& e, const std::string& row_json) {
  return matches_row(e, nlohmann::json::parse(row_json, nullptr, /*allow_exceptions=*/false));
}

const RuleException* exception_for(std::span<const RuleException> exceptions, const Alert& alert, std::int64_t now) {
  // The row is parsed once, on the first exception of its rule in force,
  // not once per exception.
  std::optional<nlohmann::json> row;
  for (const RuleException& e : exceptions) {
    if (e.rule != alert.rule_id || !in_force(e, now)) continue;
    if (!row) row = nlohmann::json::parse(alert.row_json, nullptr, /*allow_exceptions=*/false);
    if (matches_row(e, *row)) return &e;
  }
  return nullptr;
}

std::vector<std::string> row_keys(std::span<const std::string> columns) {
  std::vector<std::string> keys;
  keys.reserve(columns.size());
  for (const std::string& c : columns) {
    std::string key = c;
    for (int n = 2; std::ranges::find(keys, key) != keys.end(); ++n) key = fmt::format("{}_{}", c, n);
    keys.push_back(std::move(key));
  }
  return keys;
}

namespace {

// The characters of a glob before its first special one ('*', '?', '[' or
// a backslash escape): a value that does not begin with them cannot match
// (fnmatch without FNM_PERIOD matches them literally), so most rows are
// told apart without calling fnmatch. None when it holds U+FFFD: a value's
// invalid bytes become that in the row's JSON, which holds() matches.
std::string_view literal_prefix(const std::string& glob) {
  const std::string_view p = std::string_view(glob).substr(0, std::min(glob.find_first_of("*?[\\"), glob.size()));
  return p.find("\xEF\xBF\xBD") == std::string_view::npos ? p : std::string_view();
}

}  // namespace

RowMatcher::RowMatcher(std::span<const RuleException> exceptions, std::string_view rule_id,
                       std::span<const std::string> keys, std::int64_t now) {
  for (const RuleException& e : exceptions) {
    if (e.rule != rule_id || !in_force(e, now)) continue;
    Entry entry{&e, {}};
    bool possible = true;
    for (const ExceptionCondition& c : e.match) {
      const auto at = std::ranges::find(keys, c.column);
      if (at == keys.end()) {
        possible = false;  // a column the result lacks holds for no row
        break;
      }
      entry.conditions.push_back({&c, static_cast<std::size_t>(at - keys.begin()),
                                  c.glob ? literal_prefix(c.value) : std::string_view()});
    }
    if (possible) entries_.push_back(std::move(entry));
  }
}

const RuleException* RowMatcher::match(std::span<const Value> values) const {
  for (const Entry& entry : entries_) {
    const bool all = std::ranges::all_of(entry.conditions, [&](const Condition& k) {
      if (k.index >= values.size()) return false;
      const Value& v = values[k.index];
      if (!k.prefix.empty()) {
        const auto* s = std::get_if<std::string>(&v);
        if (s != nullptr && !s->starts_with(k.prefix)) return false;
      }
      return holds(*k.condition, v);
    });
    if (all) return entry.exception;
  }
  return nullptr;
}

}  // namespace airssys::daemoneye
