// Alert serialisations (alert.hpp): the dedup key, the JSON object that the
// ledger, the file sink and the webhook carry, and the human line.
#include <airssys/daemoneye/alert.hpp>
#include <airssys/daemoneye/terminal_text.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <string_view>

#include "utc_time.hpp"

namespace airssys::daemoneye {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::array<std::string_view, 2> kDefaultKey{"pid", "start_time"};
// A Sigma rule's row is one process event: a process that matches twice
// (an exec chain keeps its pid and start time) raises once per event.
constexpr std::array<std::string_view, 3> kDefaultSigmaKey{"pid", "start_time", "event_id"};

// Row JSON comes from the query engine; anything else is carried, not trusted.
ordered_json parse_row(const std::string& row_json) {
  return ordered_json::parse(row_json, nullptr, /*allow_exceptions=*/false);
}

std::string dump(const ordered_json& j) { return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace); }

void append_escaped(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '|') out += '\\';
    out += c;
  }
}

// For the human line: printable ASCII that cannot be confused with the
// line's own structure stays bare; anything else becomes a JSON string with
// every non-ASCII character escaped.
bool bare_ok(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (c <= ' ' || c > '~' || c == '"' || c == '=' || c == '\\') return false;
  }
  return true;
}

std::string human_value(std::string_view s) {
  if (bare_ok(s)) return std::string(s);
  return ordered_json(std::string(s)).dump(-1, ' ', /*ensure_ascii=*/true, ordered_json::error_handler_t::replace);
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

}  // namespace

std::string make_dedup_key(const Rule& rule, const std::string& row_json) {
  const ordered_json row = parse_row(row_json);
  std::string key = rule.id;
  const auto add = [&](std::string_view column) {
    key += '|';
    key += column;
    key += '=';
    if (!row.is_object()) return;
    const auto it = row.find(column);
    if (it == row.end() || it->is_null()) return;
    if (it->is_string()) append_escaped(key, it->get_ref<const std::string&>());
    else append_escaped(key, dump(*it));
  };
  if (rule.key_columns.empty() && rule.sigma) {
    for (const auto c : kDefaultSigmaKey) add(c);
  } else if (rule.key_columns.empty()) {
    for (const auto c : kDefaultKey) add(c);
  } else {
    for (const auto& c : rule.key_columns) add(c);
  }
  return key;
}

std::string alert_to_json(const Alert& a) {
  ordered_json j;
  j["time"] = a.time;
  j["host"] = a.host;
  j["rule_id"] = a.rule_id;
  j["rule_name"] = a.rule_name;
  j["severity"] = std::string(to_string(a.severity));
  j["tags"] = a.tags;
  j["dedup_key"] = a.dedup_key;
  ordered_json row = parse_row(a.row_json);
  j["row"] = row.is_discarded() ? ordered_json(a.row_json) : std::move(row);
  return dump(j);
}

std::optional<Alert> alert_from_json(std::string_view entry) {
  const ordered_json j = ordered_json::parse(entry, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.contains("type")) return std::nullopt;
  const auto text = [&](const char* name) -> const std::string* {
    const auto it = j.find(name);
    return it != j.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string *host = text("host"), *rule_id = text("rule_id"), *rule_name = text("rule_name"),
                    *severity = text("severity"), *dedup_key = text("dedup_key");
  const auto time = j.find("time"), tags = j.find("tags"), row = j.find("row");
  if (!host || !rule_id || !rule_name || !severity || !dedup_key || time == j.end() || !time->is_number_integer() ||
      tags == j.end() || !tags->is_array() || row == j.end())
    return std::nullopt;
  Alert a;
  bool known = false;
  for (const Severity s : {Severity::low, Severity::medium, Severity::high, Severity::critical}) {
    if (to_string(s) == *severity) {
      a.severity = s;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  for (const auto& t : *tags) {
    if (!t.is_string()) return std::nullopt;
    a.tags.push_back(t.get<std::string>());
  }
  a.rule_id = *rule_id;
  a.rule_name = *rule_name;
  a.host = *host;
  a.dedup_key = *dedup_key;
  a.time = time->get<std::int64_t>();
  a.row_json = row->is_string() ? row->get<std::string>() : dump(*row);
  return a;
}

// A terminal line stays readable: a long value (a command line carrying a
// JSON environment, say) is cut, and says how much was left out. The JSON
// sinks and the ledger always carry the whole row.
constexpr std::size_t kHumanValueMax = 200;

std::string shortened(const std::string& v) {
  if (v.size() <= kHumanValueMax) return v;
  std::size_t cut = kHumanValueMax;
  while (cut > 0 && (static_cast<unsigned char>(v[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  return v.substr(0, cut) + "...(+" + std::to_string(v.size() - cut) + " bytes)";
}

std::string alert_to_human(const Alert& a) {
  std::string line = detail::utc_timestamp(a.time);
  line += ' ';
  line += upper(to_string(a.severity));
  line += ' ';
  line += human_value(a.rule_id);
  line += ' ';
  line += printable(a.rule_name);  // keeps its spaces, loses control characters
  const ordered_json row = parse_row(a.row_json);
  if (row.is_object()) {
    for (const auto& [column, value] : row.items()) {
      line += ' ';
      line += human_value(column);
      line += '=';
      line += value.is_string() ? human_value(shortened(value.get_ref<const std::string&>())) : human_value(dump(value));
    }
  } else if (!a.row_json.empty()) {
    line += " row=";
    line += human_value(a.row_json);
  }
  return line;
}

}  // namespace airssys::daemoneye
