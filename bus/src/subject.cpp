#include <airssys/bus/subject.hpp>

#include <string>

namespace airssys::bus {
namespace {

std::string quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::expected<void, Error> validate(std::string_view s, bool allow_wildcards) {
  const auto bad = [&](std::string_view why) {
    std::string m(why);
    m += " in subject ";
    m += quoted(s.substr(0, 80));
    return std::unexpected(Error::make(ErrorCategory::invalid_subject, std::move(m)));
  };
  if (s.empty()) return std::unexpected(Error::make(ErrorCategory::invalid_subject, "empty subject"));
  if (s.size() > kMaxSubjectBytes)
    return bad("longer than " + std::to_string(kMaxSubjectBytes) + " bytes");
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    const std::string_view tok = s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    const bool last = dot == std::string_view::npos;
    if (tok.empty()) return bad("empty token");
    for (char c : tok) {
      const auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u == 0x7f) return bad("whitespace or control byte");
      if ((c == '*' || c == '>') && tok.size() != 1) return bad("wildcard that is not a whole token");
    }
    if (tok == "*" || tok == ">") {
      if (!allow_wildcards) return bad("wildcard (publishers use literal subjects)");
      if (tok == ">" && !last) return bad("'>' that is not the last token");
    }
    if (last) break;
    start = dot + 1;
  }
  return {};
}

// Splits off the first token; returns it and advances `rest` (empty at end).
std::string_view next_token(std::string_view& rest, bool& more) noexcept {
  const std::size_t dot = rest.find('.');
  if (dot == std::string_view::npos) {
    const std::string_view t = rest;
    rest = {};
    more = false;
    return t;
  }
  const std::string_view t = rest.substr(0, dot);
  rest.remove_prefix(dot + 1);
  more = true;
  return t;
}

}  // namespace

std::expected<void, Error> validate_publish_subject(std::string_view subject) {
  // One pass over the bytes for the common, valid case (every publish is
  // checked, by the client and again by the broker); validate() finds the
  // reason when this says no. A literal subject has no `*` or `>` at all.
  if (!subject.empty() && subject.size() <= kMaxSubjectBytes) {
    bool token_empty = true, ok = true;
    for (const char c : subject) {
      const auto u = static_cast<unsigned char>(c);
      if (u == '.') {
        ok = ok && !token_empty;
        token_empty = true;
      } else {
        ok = ok && u > 0x20 && u != 0x7f && u != '*' && u != '>';
        token_empty = false;
      }
    }
    if (ok && !token_empty) return {};
  }
  return validate(subject, false);
}
std::expected<void, Error> validate_subscribe_subject(std::string_view pattern) { return validate(pattern, true); }

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  bool pmore = true, smore = true;
  while (pmore) {
    if (!smore) return false;  // pattern has tokens left, subject does not
    const std::string_view p = next_token(pattern, pmore);
    if (p == ">") return true;  // at least this one subject token remains
    const std::string_view s = next_token(subject, smore);
    if (p != "*" && p != s) return false;
  }
  return !smore;
}

bool subject_covers(std::string_view outer, std::string_view inner) noexcept {
  bool omore = true, imore = true;
  while (omore) {
    if (!imore) return false;
    const std::string_view o = next_token(outer, omore);
    if (o == ">") return true;
    const std::string_view i = next_token(inner, imore);
    if (i == ">") return false;  // only '>' covers '>'
    if (o == "*") continue;      // covers a literal or '*'
    if (i == "*" || o != i) return false;
  }
  return !imore;
}

}  // namespace airssys::bus
