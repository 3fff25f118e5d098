// Sigma translation (sigma.hpp): `condition:` → one expression over the
// search identifiers.
//
//   expr    := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | primary
//   primary := '(' expr ')' | quant 'of' (pattern | 'them') | identifier
//   quant   := '1' | 'any' | 'all'
//
// Keywords are case-insensitive; identifiers are matched exactly, and a
// pattern's '*' matches any run of characters ('them' is every search
// whose name does not start with '_'). What Sigma has beyond this —
// aggregations (`| count() by ...`), `near`, `N of` with N > 1 — is refused
// with the reason, never dropped.

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/utf8.hpp>

#include <cctype>

#include "sigma.hpp"

namespace airssys::daemoneye::sigma {

namespace {

constexpr int kMaxNesting = 64;

std::string lower(std::string_view s) {
  std::string out;
  for (unsigned char c : s) out += static_cast<char>(std::tolower(c));
  return out;
}

bool ident_char(unsigned char c) { return std::isalnum(c) != 0 || c == '_' || c == '-' || c == '.' || c == '*'; }

// Sigma's own wildcard match for `1 of sel*` ('*' only); O(|pat| × |s|)
// at worst, whatever the pattern.
bool glob_match(std::string_view pat, std::string_view s) {
  std::size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pat.size() && pat[p] == s[i]) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

// What one copy of a search costs: its leaves, their SQL bytes, its regexes.
struct Cost {
  std::size_t leaves = 0;
  std::size_t bytes = 0;
  std::size_t regexes = 0;
};

void add_cost(const Expr& e, Cost& c) {
  if (e.kind == Expr::Kind::leaf) {
    ++c.leaves;
    c.bytes += leaf_bytes(e);
    if (!e.sql_negated.empty()) ++c.regexes;
    return;
  }
  for (const auto& k : e.kids) add_cost(k, c);
}

class Parser {
 public:
  Parser(std::string_view text, const std::map<std::string, Expr>& searches, const YAML::Node& at,
         Budget& used)
      : searches_(searches), at_(at), used_(used) {
    tokenize(text);
  }

  Expr parse() {
    if (tokens_.empty()) fail("condition is empty");
    Expr e = parse_or(0);
    if (at_keyword("near")) fail("'near' is not supported (it correlates several events)");
    if (pos_ < tokens_.size()) fail(fmt::format("unexpected '{}'", osl::detail::shown_text(tokens_[pos_])));
    return e;
  }

 private:
  [[noreturn]] void fail(const std::string& why) { fault(at_, fmt::format("condition: {}", why)); }

  void tokenize(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (std::isspace(c) != 0) {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.emplace_back(1, static_cast<char>(c));
        ++i;
      } else if (c == '|') {
        fail("aggregations ('| count() ...', '| near ...') are not supported: a rule matches single events");
      } else if (ident_char(c)) {
        std::size_t j = i;
        while (j < s.size() && ident_char(static_cast<unsigned char>(s[j]))) ++j;
        tokens_.emplace_back(s.substr(i, j - i));
        i = j;
      } else {
        // The whole character (a UTF-8 sequence), escaped if a terminal could act on it.
        const std::size_t n = osl::detail::utf8_sequence_length(s, i);
        fail(fmt::format("unexpected character '{}'", osl::detail::shown_text(s.substr(i, n == 0 ? 1 : n))));
      }
    }
  }

  [[nodiscard]] bool at_keyword(std::string_view kw) const {
    return pos_ < tokens_.size() && lower(tokens_[pos_]) == kw;
  }

  Expr parse_or(int depth) {
    std::vector<Expr> kids{parse_and(depth)};
    while (at_keyword("or")) {
      ++pos_;
      kids.push_back(parse_and(depth));
    }
    return any_of(std::move(kids));
  }

  Expr parse_and(int depth) {
    std::vector<Expr> kids{parse_not(depth)};
    while (at_keyword("and")) {
      ++pos_;
      kids.push_back(parse_not(depth));
    }
    return all_of(std::move(kids));
  }

  Expr parse_not(int depth) {
    if (depth > kMaxNesting) fail(fmt::format("nested deeper than {}", kMaxNesting));
    if (at_keyword("not")) {
      ++pos_;
      return negate(parse_not(depth + 1));
    }
    return parse_primary(depth);
  }

  Expr parse_primary(int depth) {
    if (pos_ >= tokens_.size()) fail("ends where a search identifier, 'not' or '(' was expected");
    const std::string tok = tokens_[pos_];
    const std::string kw = lower(tok);
    if (tok == "(") {
      ++pos_;
      Expr e = parse_or(depth + 1);
      if (pos_ >= tokens_.size() || tokens_[pos_] != ")") fail("a '(' is not closed");
      ++pos_;
      return e;
    }
    if (tok == ")") fail("unexpected ')'");
    if (kw == "and" || kw == "or" || kw == "of" || kw == "them")
      fail(fmt::format("'{}' where a search identifier was expected", osl::detail::shown_text(tok)));
    if (kw == "near") fail("'near' is not supported (it correlates several events)");
    if (pos_ + 1 < tokens_.size() && lower(tokens_[pos_ + 1]) == "of") {
      const bool all = kw == "all";
      if (!all && kw != "1" && kw != "any") {
        fail(fmt::format("'{} of' is not supported (only '1 of', 'any of' and 'all of')", osl::detail::shown_text(tok)));
      }
      pos_ += 2;
      if (pos_ >= tokens_.size()) fail(fmt::format("'{} of' needs a pattern or 'them'", osl::detail::shown_text(tok)));
      const std::string pat = tokens_[pos_++];
      const bool them = lower(pat) == "them";
      std::vector<Expr> hits;
      for (const auto& [name, e] : searches_) {
        if (them ? !name.starts_with('_') : glob_match(pat, name)) hits.push_back(use(name, e));
      }
      if (hits.empty()) fail(fmt::format("'{}' matches no search identifier", osl::detail::shown_text(pat)));
      return all ? all_of(std::move(hits)) : any_of(std::move(hits));
    }
    if (tok.find('*') != std::string::npos) fail(fmt::format("a pattern ('{}') needs '1 of' or 'all of'", osl::detail::shown_text(tok)));
    auto it = searches_.find(tok);
    if (it == searches_.end()) fail(fmt::format("unknown search identifier '{}'", osl::detail::shown_text(tok)));
    ++pos_;
    return use(it->first, it->second);
  }

  // A copy of a search for one more use of it, counted: a condition that
  // names a large search many times would otherwise multiply it unbounded.
  // Checked before the copy is made, so the bounds hold for memory too.
  Expr use(const std::string& name, const Expr& e) {
    auto [it, fresh] = costs_.try_emplace(name);
    if (fresh) add_cost(e, it->second);
    const Cost& c = it->second;
    if (c.leaves > kMaxLeaves - used_.leaves)
      exhausted(at_, fmt::format("condition: expands to more than {} comparisons", kMaxLeaves));
    if (c.bytes > kMaxQueryBytes - used_.bytes) {
      exhausted(at_, fmt::format("condition: expands to more than {} bytes of SQL (search '{}' is {} bytes; each use "
                                 "copies it)",
                                 kMaxQueryBytes, osl::detail::shown_text(name), c.bytes));
    }
    if (c.regexes > kMaxRegexes - used_.regexes) {
      exhausted(at_, fmt::format("condition: uses more than {} regular expressions (re; each use of a search copies "
                                 "its own)",
                                 kMaxRegexes));
    }
    used_.leaves += c.leaves;
    used_.bytes += c.bytes;
    used_.regexes += c.regexes;
    return e;
  }

  const std::map<std::string, Expr>& searches_;
  const YAML::Node& at_;
  std::vector<std::string> tokens_;
  std::size_t pos_ = 0;
  std::map<std::string, Cost> costs_;
  Budget& used_;
};

}  // namespace

Expr translate_condition(std::string_view condition, const std::map<std::string, Expr>& searches,
                         const YAML::Node& at, Budget& used) {
  return Parser(condition, searches, at, used).parse();
}

}  // namespace airssys::daemoneye::sigma
