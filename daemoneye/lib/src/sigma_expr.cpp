// Sigma translation (sigma.hpp): the SQL expression tree, its rendering,
// and the one way a rule's value becomes SQL text.

#include <fmt/format.h>

#include <algorithm>

#include "sigma.hpp"

namespace airssys::daemoneye::sigma {

void fault(const YAML::Node& at, std::string message) {
  throw Fault{at.Mark().is_null() ? std::nullopt : std::optional<int>(at.Mark().line + 1), std::move(message)};
}

void fault(std::optional<int> line, std::string message) { throw Fault{line, std::move(message)}; }

void exhausted(const YAML::Node& at, std::string message) {
  throw Fault{at.Mark().is_null() ? std::nullopt : std::optional<int>(at.Mark().line + 1), std::move(message),
              ErrorCategory::resource_exhausted};
}

void charge(Budget& b, std::size_t bytes, bool regex, const YAML::Node& at, std::string_view what) {
  if (++b.leaves > kMaxLeaves)
    exhausted(at, fmt::format("{} more than {} comparisons", what, kMaxLeaves));
  if (bytes > kMaxQueryBytes - b.bytes)
    exhausted(at, fmt::format("{} more than {} bytes of SQL (each value counts once per use)", what, kMaxQueryBytes));
  b.bytes += bytes;
  if (regex && ++b.regexes > kMaxRegexes)
    exhausted(at, fmt::format("{} more than {} regular expressions (re)", what, kMaxRegexes));
}

std::size_t leaf_bytes(const Expr& leaf) { return std::max(leaf.sql.size(), leaf.sql_negated.size()); }

Expr leaf(std::string sql) { return Expr{Expr::Kind::leaf, std::move(sql), {}, {}}; }

Expr regex_leaf(const std::string& pattern_literal, std::string_view column) {
  // regexp's third argument is its answer at a limit (sqlite_regexp.hpp).
  return Expr{Expr::Kind::leaf, fmt::format("regexp({}, {}, 1)", pattern_literal, column),
              fmt::format("regexp({}, {}, 0)", pattern_literal, column), {}};
}

Expr all_of(std::vector<Expr> kids) {
  if (kids.size() == 1) return std::move(kids.front());
  return Expr{Expr::Kind::all, {}, {}, std::move(kids)};
}

Expr any_of(std::vector<Expr> kids) {
  if (kids.size() == 1) return std::move(kids.front());
  return Expr{Expr::Kind::any, {}, {}, std::move(kids)};
}

Expr negate(Expr e) {
  Expr n{Expr::Kind::negate, {}, {}, {}};
  n.kids.push_back(std::move(e));
  return n;
}

namespace {

// kids[first, last) joined by `op`, split in halves so the parse tree's
// depth grows with log2 of the count, not the count.
std::string join_balanced(const std::vector<Expr>& kids, std::size_t first, std::size_t last, std::string_view op,
                          bool negated) {
  if (last - first == 1) return render(kids[first], negated);
  if (last - first <= 4) {
    std::string out = "(";
    for (std::size_t i = first; i < last; ++i) {
      if (i != first) out += fmt::format(" {} ", op);
      out += render(kids[i], negated);
    }
    return out + ")";
  }
  const std::size_t mid = first + (last - first) / 2;
  return fmt::format("({} {} {})", join_balanced(kids, first, mid, op, negated), op,
                     join_balanced(kids, mid, last, op, negated));
}

}  // namespace

std::string render(const Expr& e, bool negated) {
  switch (e.kind) {
    case Expr::Kind::leaf:
      return negated && !e.sql_negated.empty() ? e.sql_negated : e.sql;
    case Expr::Kind::all:
      if (e.kids.empty()) return "1";
      return join_balanced(e.kids, 0, e.kids.size(), "AND", negated);
    case Expr::Kind::any:
      if (e.kids.empty()) return "0";
      return join_balanced(e.kids, 0, e.kids.size(), "OR", negated);
    case Expr::Kind::negate:
      // A comparison with a NULL column is NULL, and NOT NULL is NULL: the
      // coalesce makes a missing field "did not match", as in Sigma.
      return fmt::format("NOT coalesce({}, 0)", render(e.kids.front(), !negated));
  }
  return "0";
}

std::string sql_literal(std::string_view text, const YAML::Node& where) {
  if (text.find('\0') != std::string_view::npos)
    fault(where, "a value contains a NUL byte, which no process_events text holds");
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  for (char c : text) {
    out += c;
    if (c == '\'') out += '\'';
  }
  out += '\'';
  return out;
}

}  // namespace airssys::daemoneye::sigma
