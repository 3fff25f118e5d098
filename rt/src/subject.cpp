// NATS subject syntax for the in-process broker (broker.hpp).
#include <airssys/rt/broker.hpp>

namespace airssys::rt::detail {

namespace {
// Splits off the next '.'-separated token; false at the end.
bool next_token(std::string_view& rest, std::string_view& tok, bool& done) noexcept {
  if (done) return false;
  auto dot = rest.find('.');
  if (dot == std::string_view::npos) {
    tok = rest;
    done = true;
  } else {
    tok = rest.substr(0, dot);
    rest.remove_prefix(dot + 1);
  }
  return true;
}
}  // namespace

SubjectKind classify_subject(std::string_view s) noexcept {
  if (s.empty()) return SubjectKind::invalid;
  SubjectKind kind = SubjectKind::literal;
  std::string_view rest = s, tok;
  bool done = false, after_tail = false;
  while (next_token(rest, tok, done)) {
    if (tok.empty() || after_tail) return SubjectKind::invalid;
    if (tok == "*") {
      kind = SubjectKind::wildcard;
    } else if (tok == ">") {
      kind = SubjectKind::wildcard;
      after_tail = true;  // must be the last token
    } else if (tok.find_first_of("*> \t") != std::string_view::npos) {
      return SubjectKind::invalid;
    }
  }
  return kind;
}

bool subject_matches(std::string_view pattern, std::string_view subject) noexcept {
  std::string_view prest = pattern, srest = subject, ptok, stok;
  bool pdone = false, sdone = false;
  for (;;) {
    const bool hp = next_token(prest, ptok, pdone);
    const bool hs = next_token(srest, stok, sdone);
    if (!hp) return !hs;          // both ended together
    if (ptok == ">") return hs;   // one or more remaining tokens
    if (!hs) return false;        // subject shorter than the pattern
    if (ptok != "*" && ptok != stok) return false;
  }
}

}  // namespace airssys::rt::detail
