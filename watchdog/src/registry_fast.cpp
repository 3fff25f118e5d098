#include "registry_fast.hpp"

#include "compact_json.hpp"
#include "registry_limits.hpp"

#include <airssys/watchdog/units.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <type_traits>

namespace airssys::watchdog::detail {

namespace {

// Every method returns false on anything unexpected; the caller gives up.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  void ws() {
    while (p_ < s_.size() && (s_[p_] == ' ' || s_[p_] == '\n' || s_[p_] == '\r' || s_[p_] == '\t')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ < s_.size() && s_[p_] == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool peek(char c) {
    ws();
    return p_ < s_.size() && s_[p_] == c;
  }
  bool at_end() {
    ws();
    return p_ == s_.size();
  }

  bool string(std::string& out) {
    out.clear();
    if (!eat('"')) return false;
    for (;;) {
      // Copy the run up to the next quote or backslash in one go.
      std::size_t q = p_;
      while (q < s_.size() && s_[q] != '"' && s_[q] != '\\') {
        if (static_cast<unsigned char>(s_[q]) < 0x20) return false;  // raw control characters are invalid JSON
        ++q;
      }
      out.append(s_.data() + p_, q - p_);
      p_ = q;
      if (p_ >= s_.size()) return false;
      if (s_[p_] == '"') {
        ++p_;
        return true;
      }
      if (++p_ >= s_.size()) return false;
      const char e = s_[p_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t lo = 0;
            if (p_ + 1 >= s_.size() || s_[p_] != '\\' || s_[p_ + 1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
  }

  // A JSON integer (no fraction, no exponent) into T.
  template <class T>
  bool integer(T& out) {
    ws();
    const std::size_t start = p_;
    if (p_ < s_.size() && s_[p_] == '-') ++p_;
    if (p_ >= s_.size() || s_[p_] < '0' || s_[p_] > '9') return false;
    if (s_[p_] == '0' && p_ + 1 < s_.size() && s_[p_ + 1] >= '0' && s_[p_ + 1] <= '9') return false;  // leading zero
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
    if (p_ < s_.size() && (s_[p_] == '.' || s_[p_] == 'e' || s_[p_] == 'E')) return false;  // a float: the DOM path decides
    auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + p_, out);
    return ec == std::errc{} && ptr == s_.data() + p_;
  }

  // A JSON number: exactly RFC 8259's grammar, checked here because
  // from_chars takes strtod's wider one (".5", "1.", "007", "+1").
  bool number(double& out) {
    ws();
    const std::size_t start = p_;
    if (p_ < s_.size() && s_[p_] == '-') ++p_;
    if (p_ < s_.size() && s_[p_] == '0') {
      if (++p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') return false;  // no leading zeros
    } else if (!digits()) {
      return false;
    }
    if (p_ < s_.size() && s_[p_] == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ < s_.size() && (s_[p_] == 'e' || s_[p_] == 'E')) {
      ++p_;
      if (p_ < s_.size() && (s_[p_] == '+' || s_[p_] == '-')) ++p_;
      if (!digits()) return false;
    }
    auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + p_, out);
    return ec == std::errc{} && ptr == s_.data() + p_;
  }

  bool literal(std::string_view word) {
    ws();
    if (s_.substr(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool null() { return literal("null"); }

  // Skips any JSON value and returns its raw text. `open` is how many
  // brackets enclose the value; deeper than kMaxRegistryDepth in all is left
  // to the DOM path, which refuses it with a message.
  bool raw_value(std::string_view& out, int open) {
    ws();
    const std::size_t start = p_;
    if (!skip_value(open)) return false;
    out = s_.substr(start, p_ - start);
    return true;
  }

 private:
  // One or more decimal digits.
  bool digits() {
    const std::size_t start = p_;
    while (p_ < s_.size() && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
    return p_ > start;
  }
  bool hex4(std::uint32_t& v) {
    if (p_ + 4 > s_.size()) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[p_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  static void utf8(std::uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  bool skip_value(int depth) {
    ws();
    if (p_ >= s_.size()) return false;
    const char c = s_[p_];
    if (c == '"') {
      std::string tmp;
      return string(tmp);
    }
    if (c == '{' || c == '[') {
      if (depth + 1 > kMaxRegistryDepth) return false;
      const char close = c == '{' ? '}' : ']';
      ++p_;
      if (eat(close)) return true;
      do {
        if (c == '{') {
          std::string key;
          if (!string(key) || !eat(':')) return false;
        }
        if (!skip_value(depth + 1)) return false;
      } while (eat(','));
      return eat(close);
    }
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    double d = 0;
    return number(d);
  }

  std::string_view s_;
  std::size_t p_ = 0;
};

// Reads `{ "k": v, ... }`, calling field(key) positioned at each value.
template <class F>
bool object(Reader& r, F&& field) {
  if (!r.eat('{')) return false;
  if (r.eat('}')) return true;
  std::string key;
  do {
    if (!r.string(key) || !r.eat(':')) return false;
    if (!field(key)) return false;
  } while (r.eat(','));
  return r.eat('}');
}

template <class T>
bool opt_integer(Reader& r, std::optional<T>& out) {
  if (r.null()) {
    out.reset();
    return true;
  }
  T v{};
  if (!r.integer(v)) return false;
  out = v;
  return true;
}

bool nullable_string(Reader& r, std::string& out) {
  if (r.null()) return true;  // the DOM path treats null as absent
  return r.string(out);
}

bool strings(Reader& r, std::vector<std::string>& out) {
  if (r.null()) return true;
  if (!r.eat('[')) return false;
  out.clear();
  if (r.eat(']')) return true;
  do {
    out.emplace_back();
    if (!r.string(out.back())) return false;
  } while (r.eat(','));
  return r.eat(']');
}

// Kept as the DOM path keeps it, dump()'s compact text, so both paths hold
// the same: the text as read when it already is that (what this writer
// wrote: no re-encoding on every load, compact_json.hpp), else parsed
// (which also checks it) and dumped.
bool keep_unknown(Reader& r, std::map<std::string, std::string>& extra, const std::string& key, int open) {
  std::string_view raw;
  if (!r.raw_value(raw, open)) return false;
  if (is_compact_dump(raw, kMaxRegistryDepth)) {
    extra.insert_or_assign(key, std::string(raw));
    return true;
  }
  auto v = nlohmann::json::parse(raw, nullptr, false);
  if (v.is_discarded()) return false;
  extra.insert_or_assign(key, v.dump());
  return true;
}

// Text that is no state or kind goes to the DOM path, which names it.
bool task_state(Reader& r, TaskState& out) {
  std::string text;
  if (r.null()) return true;
  if (!r.string(text)) return false;
  const auto s = task_state_from_string(text);
  if (s) out = *s;
  return s.has_value();
}

bool containment(Reader& r, Containment& c) {
  if (r.null()) return true;
  return object(r, [&](const std::string& k) {
    if (k == "kind") {
      if (r.null()) return true;
      std::string text;
      if (!r.string(text)) return false;
      const auto kind = containment_kind_from_string(text);
      if (kind) c.kind = *kind;
      return kind.has_value();
    }
    if (k == "cgroup") return nullable_string(r, c.cgroup);
    if (k == "note") return nullable_string(r, c.note);
    if (k == "v1") {
      if (r.null()) return true;
      return object(r, [&](const std::string& ctl) {
        std::string dir;
        if (!r.string(dir)) return false;
        c.v1.insert_or_assign(ctl, std::move(dir));
        return true;
      });
    }
    std::string_view ignored;  // the DOM path ignores unknown containment keys too
    return r.raw_value(ignored, 4);
  });
}

bool limits(Reader& r, Limits& l) {
  if (r.null()) return true;
  return object(r, [&](const std::string& k) {
    if (k == "memory_bytes") return opt_integer(r, l.memory_bytes);
    if (k == "pids") return opt_integer(r, l.pids);
    if (k == "cpus") {
      if (r.null()) return true;
      double v = 0;
      if (!r.number(v) || !(v > 0)) return false;
      l.cpus = v;
      return true;
    }
    std::string_view ignored;
    return r.raw_value(ignored, 4);
  });
}

bool boolean(Reader& r, bool& out) {
  if (r.null()) return true;
  if (r.literal("true")) {
    out = true;
    return true;
  }
  if (r.literal("false")) {
    out = false;
    return true;
  }
  return false;
}

template <class T>
bool plain_integer(Reader& r, T& out) {
  if (r.null()) return true;
  return r.integer(out);
}

bool task(Reader& r, TaskRecord& t) {
  return object(r, [&](const std::string& k) {
    switch (k.size() > 0 ? k[0] : '\0') {
      case 'a':
        if (k == "argv") return strings(r, t.argv);
        break;
      case 'c':
        if (k == "cwd") return nullable_string(r, t.cwd);
        if (k == "created_ms") return plain_integer(r, t.created_ms);
        if (k == "containment") return containment(r, t.containment);
        break;
      case 'd':
        if (k == "deadline_ms") return opt_integer(r, t.deadline_ms);
        break;
      case 'e':
        if (k == "env") return strings(r, t.env);
        if (k == "exit_code") return opt_integer(r, t.exit_code);
        if (k == "exit_signal") return opt_integer(r, t.exit_signal);
        if (k == "ended_ms") return opt_integer(r, t.ended_ms);
        if (k == "error") return nullable_string(r, t.error);
        break;
      case 'f':
        if (k == "foreground") return boolean(r, t.foreground);
        break;
      case 'g':
        if (k == "grace_ms") return plain_integer(r, t.grace_ms);
        break;
      case 'i':
        if (k == "id") return nullable_string(r, t.id);
        if (k == "idle_timeout_ms") return opt_integer(r, t.idle_timeout_ms);
        break;
      case 'l':
        if (k == "limits") return limits(r, t.limits);
        if (k == "leftover_processes") return opt_integer(r, t.leftover_processes);
        break;
      case 'm':
        if (k == "monitor_pid") return opt_integer(r, t.monitor_pid);
        if (k == "monitor_start_time") return opt_integer(r, t.monitor_start_time);
        break;
      case 'p':
        if (k == "pid") return opt_integer(r, t.pid);
        if (k == "pid_start_time") return opt_integer(r, t.pid_start_time);
        break;
      case 's':
        if (k == "state") return task_state(r, t.state);
        if (k == "stdout_log") return nullable_string(r, t.stdout_log);
        if (k == "stderr_log") return nullable_string(r, t.stderr_log);
        break;
      case 't':
        if (k == "timeout_ms") return opt_integer(r, t.timeout_ms);
        break;
      default: break;
    }
    return keep_unknown(r, t.extra, k, 3);
  });
}

}  // namespace

namespace {

// nlohmann rejects invalid UTF-8 (and could not write it back), so must we.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    std::uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0) len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0) len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0) len = 4, cp = c & 0x07;
    else return false;
    if (i + static_cast<std::size_t>(len) > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += static_cast<std::size_t>(len);
  }
  return true;
}

}  // namespace

namespace {

// The whole file through the fast reader: each task, once checked, goes to
// `each` (which may move from it), in file order; unknown top-level keys to
// `extra`. False where parse_registry_fast gives up.
template <class Each>
bool scan(std::string_view text, std::map<std::string, std::string>& extra, Each&& each) {
  if (text.size() > kMaxRegistryBytes || !valid_utf8(text)) return false;
  Reader r(text);
  int schema_version = 0;
  bool have_version = false, have_tasks = false;
  const bool ok = object(r, [&](const std::string& k) {
    if (k == "schema_version") {
      have_version = true;
      return r.integer(schema_version);
    }
    if (k == "tasks") {
      if (have_tasks) return false;  // a second "tasks" replaces the first: the DOM path's business
      have_tasks = true;
      return object(r, [&](const std::string& id) {
        TaskRecord t;
        if (!task(r, t)) return false;
        if (t.id != id || !valid_task_id(t.id) || t.argv.empty() || task_problem(t)) return false;
        return each(t);
      });
    }
    return keep_unknown(r, extra, k, 1);
  });
  return ok && r.at_end() && have_version && schema_version == kSchemaVersion;
}

}  // namespace

std::optional<RegistryData> parse_registry_fast(std::string_view text) {
  RegistryData data;
  const bool ok = scan(text, data.extra, [&](TaskRecord& t) {
    std::string id = t.id;
    data.tasks.insert_or_assign(std::move(id), std::move(t));
    return true;
  });
  if (!ok) return std::nullopt;
  return data;
}

bool for_each_task_fast(std::string_view text, const std::function<void(const TaskRecord&)>& each) {
  std::map<std::string, std::string> extra;  // read to be checked; a list has no use for it
  std::string last_id;
  return scan(text, extra, [&](const TaskRecord& t) {
    // Ids in strictly ascending order, as the writer puts them (a std::map),
    // cannot repeat; any other order is left to the map of the full reader.
    if (!last_id.empty() && t.id <= last_id) return false;
    last_id = t.id;
    each(t);
    return true;
  });
}

}  // namespace airssys::watchdog::detail
