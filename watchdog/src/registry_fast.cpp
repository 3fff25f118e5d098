#include "registry_fast.hpp"

#include "compact_json.hpp"
#include "json_string_scan.hpp"
#include "registry_limits.hpp"

#include <airssys/watchdog/units.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstring>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <type_traits>

namespace airssys::watchdog::detail {

namespace {

// Every method returns false on anything unexpected; the caller gives up.
// Strings come back as views: into the text when they hold no escape (the
// common case: no copy), else into a buffer of the reader's that the next
// string read replaces.
class Reader {
 public:
  explicit Reader(std::string_view s) : p_(s.data()), end_(s.data() + s.size()) {}

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }
  bool eat(char c) {
    ws();
    if (p_ < end_ && *p_ == c) {
      ++p_;
      return true;
    }
    return false;
  }
  bool at_end() {
    ws();
    return p_ == end_;
  }

  // A string value; `out` is valid until the next call.
  bool string(std::string_view& out) { return string(out, scratch_); }

  // A string, decoded into `buf` only when it holds an escape. Its UTF-8 is
  // checked here: outside strings a valid text is ASCII, so this checks the
  // whole text's (nlohmann refuses invalid UTF-8, and could not write it back).
  bool string(std::string_view& out, std::string& buf) {
    if (!eat('"')) return false;
    const char* const start = p_;
    if (!plain_run()) return false;
    if (*p_ == '"') {
      out = std::string_view(start, static_cast<std::size_t>(p_ - start));
      ++p_;
      return true;
    }
    buf.assign(start, p_);
    while (*p_ == '\\') {
      ++p_;
      if (p_ >= end_) return false;
      const char e = *p_++;
      switch (e) {
        case '"': buf += '"'; break;
        case '\\': buf += '\\'; break;
        case '/': buf += '/'; break;
        case 'b': buf += '\b'; break;
        case 'f': buf += '\f'; break;
        case 'n': buf += '\n'; break;
        case 'r': buf += '\r'; break;
        case 't': buf += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            std::uint32_t lo = 0;
            if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
            p_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          json_append_utf8(cp, buf);
          break;
        }
        default: return false;
      }
      const char* const run = p_;
      if (!plain_run()) return false;
      buf.append(run, p_);
    }
    if (*p_ != '"') return false;  // a raw control character: invalid JSON
    ++p_;
    out = buf;
    return true;
  }

  // A JSON integer (no fraction, no exponent) into T; what std::from_chars
  // takes of it (no '-' for an unsigned T, nothing out of T's range).
  template <class T>
  bool integer(T& out) {
    ws();
    const char* const start = p_;
    const bool negative = p_ < end_ && *p_ == '-';
    if (negative) ++p_;
    const char* const first = p_;
    std::uint64_t m = 0;  // exact while there are at most 19 digits
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') m = m * 10 + static_cast<std::uint64_t>(*p_++ - '0');
    const auto n = p_ - first;
    if (n == 0) return false;
    if (*first == '0' && n > 1) return false;  // leading zero
    if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;  // a float: the DOM path decides
    if (n > 18) {  // may not fit: from_chars checks
      auto [ptr, ec] = std::from_chars(start, p_, out);
      return ec == std::errc{} && ptr == p_;
    }
    if constexpr (std::is_unsigned_v<T>) {
      if (negative || m > std::numeric_limits<T>::max()) return false;
      out = static_cast<T>(m);
    } else {
      const auto v = negative ? -static_cast<std::int64_t>(m) : static_cast<std::int64_t>(m);
      if (v < std::numeric_limits<T>::min() || v > std::numeric_limits<T>::max()) return false;
      out = static_cast<T>(v);
    }
    return true;
  }

  // A JSON number: exactly RFC 8259's grammar, checked here because
  // from_chars takes strtod's wider one (".5", "1.", "007", "+1").
  bool number(double& out) {
    ws();
    const char* const start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ < end_ && *p_ == '0') {
      if (++p_ < end_ && *p_ >= '0' && *p_ <= '9') return false;  // no leading zeros
    } else if (!digits()) {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (!digits()) return false;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digits()) return false;
    }
    auto [ptr, ec] = std::from_chars(start, p_, out);
    return ec == std::errc{} && ptr == p_;
  }

  // `word` (a string literal: its size is known where this is inlined).
  template <std::size_t N>
  bool literal(const char (&word)[N]) {
    ws();
    if (end_ - p_ < static_cast<std::ptrdiff_t>(N - 1) || std::memcmp(p_, word, N - 1) != 0) return false;
    p_ += N - 1;
    return true;
  }
  bool null() { return literal("null"); }

  // Skips any JSON value and returns its raw text. `open` is how many
  // brackets enclose the value; deeper than kMaxRegistryDepth in all is left
  // to the DOM path, which refuses it with a message.
  bool raw_value(std::string_view& out, int open) {
    ws();
    const char* const start = p_;
    if (!skip_value(open)) return false;
    out = std::string_view(start, static_cast<std::size_t>(p_ - start));
    return true;
  }

 private:
  // Past plain bytes and valid UTF-8 sequences, to a '"', a '\\' or a
  // control character; false at the end of the text or on invalid UTF-8.
  bool plain_run() {
    for (;;) {
      p_ = json_skip_plain(p_, end_);
      if (p_ >= end_) return false;
      if (static_cast<unsigned char>(*p_) < 0x80) return true;
      p_ = json_utf8_sequence(p_, end_);
      if (p_ == nullptr) return false;
    }
  }
  // One or more decimal digits.
  bool digits() {
    const char* const start = p_;
    while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    return p_ > start;
  }
  bool hex4(std::uint32_t& v) {
    if (end_ - p_ < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = *p_++;
      v <<= 4;
      if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
      else return false;
    }
    return true;
  }
  bool skip_value(int depth) {
    ws();
    if (p_ >= end_) return false;
    const char c = *p_;
    std::string_view ignored;
    if (c == '"') return string(ignored);
    if (c == '{' || c == '[') {
      if (depth + 1 > kMaxRegistryDepth) return false;
      const char close = c == '{' ? '}' : ']';
      ++p_;
      if (eat(close)) return true;
      do {
        if (c == '{' && (!string(ignored) || !eat(':'))) return false;
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

  const char* p_;
  const char* end_;
  std::string scratch_;
};

// Whether `key` is `name` (a string literal), compared inline.
template <std::size_t N>
bool is(std::string_view key, const char (&name)[N]) {
  return key.size() == N - 1 && std::memcmp(key.data(), name, N - 1) == 0;
}

// Reads `{ "k": v, ... }`, calling field(key) positioned at each value; the
// key stays valid while field reads the value.
template <class F>
bool object(Reader& r, F&& field) {
  if (!r.eat('{')) return false;
  if (r.eat('}')) return true;
  std::string buffer;  // for a key with escapes only
  std::string_view key;
  do {
    if (!r.string(key, buffer) || !r.eat(':')) return false;
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
  std::string_view v;
  if (!r.string(v)) return false;
  out.assign(v);
  return true;
}

bool strings(Reader& r, std::vector<std::string>& out) {
  if (r.null()) return true;
  if (!r.eat('[')) return false;
  out.clear();
  if (r.eat(']')) return true;
  std::string_view v;
  do {
    if (!r.string(v)) return false;
    out.emplace_back(v);
  } while (r.eat(','));
  return r.eat(']');
}

// Kept as the DOM path keeps it, dump()'s compact text, so both paths hold
// the same: the text as read when it already is that (what this writer
// wrote: no re-encoding on every load, compact_json.hpp), else parsed
// (which also checks it) and dumped.
bool keep_unknown(Reader& r, std::map<std::string, std::string>& extra, std::string_view key, int open) {
  std::string_view raw;
  if (!r.raw_value(raw, open)) return false;
  if (is_compact_dump(raw, kMaxRegistryDepth)) {
    extra.insert_or_assign(std::string(key), std::string(raw));
    return true;
  }
  auto v = nlohmann::json::parse(raw, nullptr, false);
  if (v.is_discarded()) return false;
  extra.insert_or_assign(std::string(key), v.dump());
  return true;
}

// The known keys already read in one object. nlohmann keeps the last of a
// repeated key whole, where this reader would merge the two (a second
// "containment" without "cgroup" would keep the first one's cgroup, a null
// would keep what came before): a repeated known key is the DOM path's
// business.
class Seen {
 public:
  bool first(int field) {
    const auto bit = std::uint32_t{1} << field;
    if ((bits_ & bit) != 0) return false;
    bits_ |= bit;
    return true;
  }

 private:
  std::uint32_t bits_ = 0;
};

// Text that is no state or kind goes to the DOM path, which names it.
bool task_state(Reader& r, TaskState& out) {
  std::string_view text;
  if (r.null()) return true;
  if (!r.string(text)) return false;
  const auto s = task_state_from_string(text);
  if (s) out = *s;
  return s.has_value();
}

bool containment(Reader& r, Containment& c) {
  if (r.null()) return true;
  Seen seen;
  return object(r, [&](std::string_view k) {
    if (is(k, "kind")) {
      if (!seen.first(3)) return false;
      if (r.null()) return true;
      std::string_view text;
      if (!r.string(text)) return false;
      const auto kind = containment_kind_from_string(text);
      if (kind) c.kind = *kind;
      return kind.has_value();
    }
    if (is(k, "cgroup")) return seen.first(0) && nullable_string(r, c.cgroup);
    if (is(k, "note")) return seen.first(1) && nullable_string(r, c.note);
    if (is(k, "v1")) {
      if (!seen.first(4)) return false;
      if (r.null()) return true;
      return object(r, [&](std::string_view ctl) {
        std::string_view dir;
        if (!r.string(dir)) return false;
        c.v1.insert_or_assign(std::string(ctl), std::string(dir));
        return true;
      });
    }
    std::string_view ignored;  // the DOM path ignores unknown containment keys too
    return r.raw_value(ignored, 4);
  });
}

bool limits(Reader& r, Limits& l) {
  if (r.null()) return true;
  Seen seen;
  return object(r, [&](std::string_view k) {
    if (is(k, "memory_bytes")) return seen.first(0) && opt_integer(r, l.memory_bytes);
    if (is(k, "pids")) return seen.first(1) && opt_integer(r, l.pids);
    if (is(k, "cpus")) {
      if (!seen.first(2)) return false;
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
  Seen seen;
  return object(r, [&](std::string_view k) {
    switch (k.size() > 0 ? k[0] : '\0') {
      case 'a':
        if (is(k, "argv")) return seen.first(0) && strings(r, t.argv);
        break;
      case 'c':
        if (is(k, "cwd")) return seen.first(1) && nullable_string(r, t.cwd);
        if (is(k, "created_ms")) return seen.first(2) && plain_integer(r, t.created_ms);
        if (is(k, "containment")) return seen.first(3) && containment(r, t.containment);
        break;
      case 'd':
        if (is(k, "deadline_ms")) return seen.first(4) && opt_integer(r, t.deadline_ms);
        break;
      case 'e':
        if (is(k, "env")) return seen.first(5) && strings(r, t.env);
        if (is(k, "exit_code")) return seen.first(6) && opt_integer(r, t.exit_code);
        if (is(k, "exit_signal")) return seen.first(7) && opt_integer(r, t.exit_signal);
        if (is(k, "ended_ms")) return seen.first(8) && opt_integer(r, t.ended_ms);
        if (is(k, "error")) return seen.first(9) && nullable_string(r, t.error);
        break;
      case 'f':
        if (is(k, "foreground")) return seen.first(10) && boolean(r, t.foreground);
        break;
      case 'g':
        if (is(k, "grace_ms")) return seen.first(11) && plain_integer(r, t.grace_ms);
        break;
      case 'i':
        if (is(k, "id")) return seen.first(12) && nullable_string(r, t.id);
        if (is(k, "idle_timeout_ms")) return seen.first(13) && opt_integer(r, t.idle_timeout_ms);
        break;
      case 'l':
        if (is(k, "limits")) return seen.first(14) && limits(r, t.limits);
        if (is(k, "leftover_processes")) return seen.first(15) && opt_integer(r, t.leftover_processes);
        break;
      case 'm':
        if (is(k, "monitor_pid")) return seen.first(16) && opt_integer(r, t.monitor_pid);
        if (is(k, "monitor_start_time")) return seen.first(17) && opt_integer(r, t.monitor_start_time);
        break;
      case 'p':
        if (is(k, "pid")) return seen.first(18) && opt_integer(r, t.pid);
        if (is(k, "pid_start_time")) return seen.first(19) && opt_integer(r, t.pid_start_time);
        break;
      case 's':
        if (is(k, "state")) return seen.first(20) && task_state(r, t.state);
        if (is(k, "stdout_log")) return seen.first(21) && nullable_string(r, t.stdout_log);
        if (is(k, "stderr_log")) return seen.first(22) && nullable_string(r, t.stderr_log);
        break;
      case 't':
        if (is(k, "timeout_ms")) return seen.first(23) && opt_integer(r, t.timeout_ms);
        break;
      default: break;
    }
    return keep_unknown(r, t.extra, k, 3);
  });
}

}  // namespace

namespace {

// The whole file through the fast reader: each task, once checked, goes to
// `each` (which may move from it), in file order; unknown top-level keys to
// `extra`. False where parse_registry_fast gives up.
template <class Each>
bool scan(std::string_view text, std::map<std::string, std::string>& extra, Each&& each) {
  if (text.size() > kMaxRegistryBytes) return false;
  Reader r(text);
  int schema_version = 0;
  bool have_version = false, have_tasks = false;
  const bool ok = object(r, [&](std::string_view k) {
    if (is(k, "schema_version")) {
      have_version = true;
      return r.integer(schema_version);
    }
    if (is(k, "tasks")) {
      if (have_tasks) return false;  // a second "tasks" replaces the first: the DOM path's business
      have_tasks = true;
      // One record for every task: assigning the defaults keeps the
      // strings' buffers, so most tasks allocate nothing (`each` may still
      // move from it).
      const TaskRecord fresh;
      TaskRecord t;
      return object(r, [&](std::string_view id) {
        t = fresh;
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
