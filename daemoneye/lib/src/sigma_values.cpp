// Sigma translation (sigma.hpp): one `Field|modifier|...: value(s)` entry
// of a search → an SQL expression over one process_events column.
//
// Values are Sigma strings: `*` any run of characters, `?` one character,
// `\*` `\?` `\\` the characters themselves, any other `\` a backslash.
// Without `|cased` a value matches without regard to ASCII case (SQLite's
// LIKE and NOCASE: other letters must match exactly); with it, exactly
// (GLOB, =). Lists are OR (AND with `|all`); the variants a transform
// makes of one value (windash, base64offset) are always OR.

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <set>

#include <airssys/osl/detail/shown_text.hpp>

#include "sigma.hpp"

namespace airssys::daemoneye::sigma {

namespace {

struct Piece {
  enum class Kind { lit, star, one } kind = Kind::lit;
  std::string text;  // for lit
};
using Pattern = std::vector<Piece>;

void add_lit(Pattern& p, std::string_view s) {
  if (s.empty()) return;
  if (!p.empty() && p.back().kind == Piece::Kind::lit)
    p.back().text += s;
  else
    p.push_back({Piece::Kind::lit, std::string(s)});
}

void add_star(Pattern& p) {
  if (p.empty() || p.back().kind != Piece::Kind::star) p.push_back({Piece::Kind::star, {}});
}

Pattern parse_wildcards(std::string_view raw) {
  Pattern p;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const char c = raw[i];
    if (c == '\\' && i + 1 < raw.size() && (raw[i + 1] == '*' || raw[i + 1] == '?' || raw[i + 1] == '\\')) {
      add_lit(p, raw.substr(i + 1, 1));
      ++i;
    } else if (c == '*') {
      add_star(p);
    } else if (c == '?') {
      p.push_back({Piece::Kind::one, {}});
    } else {
      add_lit(p, raw.substr(i, 1));
    }
  }
  return p;
}

bool has_wildcards(const Pattern& p) {
  return std::ranges::any_of(p, [](const Piece& x) { return x.kind != Piece::Kind::lit; });
}

std::string literal_text(const Pattern& p) {
  std::string s;
  for (const auto& x : p) s += x.text;
  return s;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

// The three encodings of `s` as it may sit at any offset inside a longer
// base64 text, with the characters that depend on its neighbours cut off
// (Sigma's base64offset).
std::vector<std::string> base64_offsets(std::string_view s) {
  static constexpr std::array<std::size_t, 3> kStart{0, 2, 3};
  static constexpr std::array<std::size_t, 3> kEndCut{0, 3, 2};  // indexed by (len + i) % 3
  std::vector<std::string> out;
  for (std::size_t i = 0; i < 3; ++i) {
    const std::string enc = base64(std::string(i, ' ') + std::string(s));
    const std::size_t cut = kEndCut[(s.size() + i) % 3];
    if (enc.size() < kStart[i] + cut) continue;
    std::string v = enc.substr(kStart[i], enc.size() - kStart[i] - cut);
    if (!v.empty()) out.push_back(std::move(v));
  }
  return out;
}

bool word_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_'; }

// Sigma's windash: every '-' or '/' that starts an option word, replaced
// (all alike) by each of -, /, en dash, em dash, horizontal bar.
std::vector<std::string> windash_variants(const std::string& raw) {
  static constexpr std::array<std::string_view, 5> kDashes{"-", "/", "\u2013", "\u2014", "\u2015"};
  std::set<std::string> out;
  for (std::string_view dash : kDashes) {
    std::string v;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      const char c = raw[i];
      const bool starts_word = (c == '-' || c == '/') && (i == 0 || !word_char(static_cast<unsigned char>(raw[i - 1]))) &&
                               i + 1 < raw.size() && word_char(static_cast<unsigned char>(raw[i + 1]));
      if (starts_word)
        v += dash;
      else
        v += c;
    }
    out.insert(std::move(v));
  }
  return {out.begin(), out.end()};
}

enum class Match { equals, contains, startswith, endswith, re, exists, lt, lte, gt, gte };

struct Spec {
  const Field* field = nullptr;
  Match match = Match::equals;
  bool match_set = false;
  bool all = false;
  bool cased = false;
  std::string re_flags;                  // from re|i, re|m, re|s
  std::vector<std::string> transforms;  // windash, base64, base64offset, in the order written
};

constexpr std::string_view kSupported =
    "contains, startswith, endswith, all, cased, re (with i, m, s), exists, windash, base64, base64offset, lt, "
    "lte, gt, gte";

Spec parse_key(const YAML::Node& key) {
  if (!key.IsScalar()) fault(key, "a search's keys must be field names, e.g. Image|endswith");
  const std::string& text = key.Scalar();
  // The key and its parts as messages show them (from the rule file: escaped, cut).
  const std::string shown = osl::detail::shown_text(text);
  Spec spec;
  std::size_t start = 0;
  bool first = true;
  std::set<std::string> seen;
  while (true) {
    const std::size_t bar = text.find('|', start);
    const std::string part = text.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
    // Each windash multiplies a value's variants by up to 5: twelve of them
    // would build 5^12 strings before a single comparison is counted.
    if (!first && !seen.insert(part).second) fault(key, fmt::format("'{}': modifier '{}' given twice", shown, osl::detail::shown_text(part)));
    if (first) {
      spec.field = find_field(part);
      if (part.empty()) fault(key, fmt::format("'{}': a field name is missing before '|'", shown));
      if (spec.field == nullptr)
        fault(key, fmt::format("unknown field '{}' (process_creation fields: {})", osl::detail::shown_text(part), known_fields()));
      first = false;
    } else {
      auto set_match = [&](Match m) {
        if (spec.match_set) fault(key, fmt::format("'{}': more than one match modifier", shown));
        spec.match = m;
        spec.match_set = true;
      };
      if (part == "contains") set_match(Match::contains);
      else if (part == "startswith") set_match(Match::startswith);
      else if (part == "endswith") set_match(Match::endswith);
      else if (part == "re") set_match(Match::re);
      else if (part == "exists") set_match(Match::exists);
      else if (part == "lt") set_match(Match::lt);
      else if (part == "lte") set_match(Match::lte);
      else if (part == "gt") set_match(Match::gt);
      else if (part == "gte") set_match(Match::gte);
      else if (part == "all") spec.all = true;
      else if (part == "cased") spec.cased = true;
      else if (part == "windash" || part == "base64" || part == "base64offset") spec.transforms.push_back(part);
      else if ((part == "i" || part == "m" || part == "s") && spec.match == Match::re && spec.match_set) spec.re_flags += part;
      else if (part == "i" || part == "m" || part == "s")
        fault(key, fmt::format("'{}': modifier '{}' belongs after re (re|{})", shown, part, part));
      else if (part == "cidr")
        fault(key, fmt::format("'{}': modifier cidr is not supported: process_events has no address fields", shown));
      else if (part == "wide" || part == "utf16" || part == "utf16le" || part == "utf16be")
        fault(key, fmt::format("'{}': modifier {} (a Windows text encoding) is not supported", shown, part));
      else if (part == "expand" || part == "fieldref")
        fault(key, fmt::format("'{}': modifier {} is not supported (it needs placeholders or a second field)", shown, part));
      else
        fault(key, fmt::format("'{}': unknown modifier '{}' (supported: {})", shown, osl::detail::shown_text(part), kSupported));
    }
    if (bar == std::string::npos) break;
    start = bar + 1;
  }
  const bool numeric = spec.match == Match::lt || spec.match == Match::lte || spec.match == Match::gt || spec.match == Match::gte;
  if (!spec.field->text) {
    if (spec.cased || !spec.transforms.empty() ||
        (spec.match != Match::equals && spec.match != Match::exists && !numeric)) {
      fault(key, fmt::format("'{}': {} is a number: only exact values, null, exists, lt, lte, gt and gte apply", shown,
                             spec.field->sigma));
    }
  } else if (numeric) {
    fault(key, fmt::format("'{}': lt/lte/gt/gte compare numbers; {} is text", shown, spec.field->sigma));
  }
  if (spec.match == Match::re && !spec.transforms.empty())
    fault(key, fmt::format("'{}': re cannot be combined with windash or base64", shown));
  if (spec.match == Match::exists && (spec.all || spec.cased || !spec.transforms.empty()))
    fault(key, fmt::format("'{}': exists takes no other modifier", shown));
  return spec;
}

std::string col(const Spec& s) { return std::string(s.field->column); }

Expr null_match(const Spec& s) {
  return leaf(s.field->text ? fmt::format("({0} IS NULL OR {0} = '')", col(s)) : fmt::format("{} IS NULL", col(s)));
}

std::string glob_of(const Pattern& p) {
  std::string out;
  for (const auto& x : p) {
    if (x.kind == Piece::Kind::star) out += '*';
    else if (x.kind == Piece::Kind::one) out += '?';
    else
      for (char c : x.text) {
        if (c == '*' || c == '?' || c == '[') out += fmt::format("[{}]", c);
        else out += c;
      }
  }
  return out;
}

std::string like_of(const Pattern& p) {
  std::string out;
  for (const auto& x : p) {
    if (x.kind == Piece::Kind::star) out += '%';
    else if (x.kind == Piece::Kind::one) out += '_';
    else
      for (char c : x.text) {
        if (c == '%' || c == '_' || c == '\\') out += '\\';
        out += c;
      }
  }
  return out;
}

Expr text_match(const std::string& column, Pattern p, Match m, bool cased, const YAML::Node& at) {
  if (m == Match::contains || m == Match::endswith) p.insert(p.begin(), Piece{Piece::Kind::star, {}});
  if (m == Match::contains || m == Match::startswith) p.push_back(Piece{Piece::Kind::star, {}});
  if (!has_wildcards(p)) {
    return leaf(fmt::format("{} = {}{}", column, sql_literal(literal_text(p), at), cased ? "" : " COLLATE NOCASE"));
  }
  if (cased) return leaf(fmt::format("{} GLOB {}", column, sql_literal(glob_of(p), at)));
  return leaf(fmt::format("{} LIKE {} ESCAPE '\\'", column, sql_literal(like_of(p), at)));
}

std::int64_t integer_of(const YAML::Node& v, const Spec& s) {
  const std::string& t = v.Scalar();
  std::int64_t n = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
  if (ec != std::errc() || end != t.data() + t.size() || t.empty())
    fault(v, fmt::format("{} is a number; '{}' is not an integer", s.field->sigma, osl::detail::shown_text(t)));
  return n;
}

// "SHA256=abc" → "abc": process_events keeps only the SHA-256.
std::string hash_value(const std::string& raw, const YAML::Node& at) {
  const auto eq = raw.find('=');
  if (eq == std::string::npos) return raw;
  std::string algo = raw.substr(0, eq);
  std::ranges::transform(algo, algo.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (algo != "SHA256")
    fault(at, fmt::format("Hashes: '{}' cannot match: process_events keeps only the SHA256 of an executable", osl::detail::shown_text(raw)));
  return raw.substr(eq + 1);
}

// `e` (one leaf), charged to the rule's budget: refused before the next
// value is copied once the rule is past a bound.
Expr counted(Expr e, Budget& b, const YAML::Node& at) {
  charge(b, leaf_bytes(e), !e.sql_negated.empty(), at, "the rule expands to");
  return e;
}

// Every comparison one value makes (one per transform variant), OR'ed.
Expr one_value(const Spec& s, const YAML::Node& v, Budget& leaves) {
  if (v.IsNull()) return counted(null_match(s), leaves, v);
  if (!v.IsScalar()) fault(v, fmt::format("{}: a value must be a string, a number or null", s.field->sigma));
  const std::string column = col(s);
  if (!s.field->text) {
    static constexpr std::array<std::string_view, 4> kOps{"<", "<=", ">", ">="};
    const std::int64_t n = integer_of(v, s);
    std::string_view op = "=";
    switch (s.match) {
      case Match::lt: op = kOps[0]; break;
      case Match::lte: op = kOps[1]; break;
      case Match::gt: op = kOps[2]; break;
      case Match::gte: op = kOps[3]; break;
      default: break;
    }
    return counted(leaf(fmt::format("{} {} {}", column, op, n)), leaves, v);
  }
  std::string raw = v.Scalar();
  if (s.field->column == "sha256") raw = hash_value(raw, v);
  if (s.match == Match::re) {
    const std::string pattern = s.re_flags.empty() ? raw : fmt::format("(?{}){}", s.re_flags, raw);
    if (pattern.find('\0') != std::string::npos) fault(v, "a value contains a NUL byte, which no process_events text holds");
    if (auto why = regex_error(pattern); !why.empty())
      fault(v, fmt::format("{}|re: bad regular expression: {}", s.field->sigma, why));
    return counted(regex_leaf(sql_literal(pattern, v), column), leaves, v);
  }
  // Transforms, in the order written, each turning every variant into one or more.
  std::vector<std::string> raws{raw};
  std::vector<Pattern> literal;  // set once a base64 transform made plain text
  bool encoded = false;
  for (const auto& t : s.transforms) {
    if (t == "windash") {
      if (encoded) fault(v, "windash must come before base64/base64offset");
      std::vector<std::string> next;
      for (const auto& r : raws)
        for (auto& w : windash_variants(r)) next.push_back(std::move(w));
      raws = std::move(next);
    } else {
      if (encoded) fault(v, "only one of base64 and base64offset");
      encoded = true;
      for (const auto& r : raws) {
        Pattern p = parse_wildcards(r);
        if (has_wildcards(p)) fault(v, fmt::format("{}: wildcards cannot be base64-encoded: '{}'", t, osl::detail::shown_text(r)));
        const std::string plain = literal_text(p);
        if (t == "base64") {
          literal.push_back({{Piece::Kind::lit, base64(plain)}});
        } else {
          for (auto& o : base64_offsets(plain)) literal.push_back({{Piece::Kind::lit, std::move(o)}});
        }
      }
    }
  }
  std::vector<Pattern> patterns;
  if (encoded) {
    patterns = std::move(literal);
  } else {
    for (const auto& r : raws) patterns.push_back(parse_wildcards(r));
  }
  std::vector<Expr> variants;
  for (auto& p : patterns) variants.push_back(counted(text_match(column, std::move(p), s.match, s.cased, v), leaves, v));
  return any_of(std::move(variants));
}

}  // namespace

Expr translate_field(const YAML::Node& key, const YAML::Node& value, Budget& leaves) {
  const Spec spec = parse_key(key);
  if (spec.match == Match::exists) {
    bool want = false;
    if (!value.IsScalar() || !YAML::convert<bool>::decode(value, want))
      fault(value.IsNull() ? key : value, fmt::format("{}|exists takes true or false", spec.field->sigma));
    const std::string c = col(spec);
    if (want)
      return counted(leaf(spec.field->text ? fmt::format("({0} IS NOT NULL AND {0} <> '')", c)
                                           : fmt::format("{} IS NOT NULL", c)),
                     leaves, value);
    return counted(null_match(spec), leaves, value);
  }
  if (value.IsMap()) fault(value, fmt::format("{}: a value must be a string, a number, null or a list of them", spec.field->sigma));
  if (value.IsSequence()) {
    if (value.size() == 0) fault(value, fmt::format("{}: an empty list matches nothing; leave the field out", spec.field->sigma));
    std::vector<Expr> each;
    for (const auto& v : value) each.push_back(one_value(spec, v, leaves));
    return spec.all ? all_of(std::move(each)) : any_of(std::move(each));
  }
  return one_value(spec, value, leaves);
}

Expr translate_keyword(const YAML::Node& value, Budget& leaves) {
  if (!value.IsScalar() || value.IsNull())
    fault(value, "a keyword must be a string (keywords are searched for in CommandLine)");
  return counted(text_match("cmdline", parse_wildcards(value.Scalar()), Match::contains, false, value), leaves, value);
}

}  // namespace airssys::daemoneye::sigma
