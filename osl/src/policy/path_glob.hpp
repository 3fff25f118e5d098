#pragma once
// Path globs over canonical absolute paths, compiled once at policy load.
//
// Syntax: an absolute pattern of '/'-separated segments. A segment "**"
// matches zero or more whole path segments; inside any other segment '*'
// matches a run of characters that never crosses '/', and '?' one character.
// "*" or "**" as the whole pattern matches every resource string.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::detail {

class PathGlob {
 public:
  // Validates and pre-splits `pattern`; the error text names the problem
  // (not absolute, empty segment, '.'/'..' segment, '**' inside a segment).
  [[nodiscard]] static std::expected<PathGlob, std::string> compile(std::string_view pattern);

  [[nodiscard]] bool matches(std::string_view path) const noexcept;
  [[nodiscard]] bool matches_everything() const noexcept { return match_all_; }
  [[nodiscard]] const std::string& text() const noexcept { return text_; }

  // The directory (or file) the pattern can never leave: its leading segments
  // without wildcards, e.g. "/work/**" → "/work", "/a/*.txt" → "/a",
  // "/usr/bin/git" → "/usr/bin/git", "**" → "/".
  [[nodiscard]] std::string literal_prefix() const;
  // The same, but "" when the pattern has no literal leading segment (what
  // the rule index files the pattern under).
  [[nodiscard]] const std::string& index_prefix() const noexcept { return prefix_; }

  enum class SegmentKind : std::uint8_t { literal, wildcard, globstar };
  struct Segment {
    std::string text;
    SegmentKind kind = SegmentKind::literal;
  };

 private:
  PathGlob() = default;

  // Most patterns are a literal directory, or a literal directory plus
  // "/**"; those are decided with one comparison. Every other pattern still
  // starts with its literal prefix, which rejects most paths cheaply.
  enum class Shape : std::uint8_t { exact, subtree, general };

  std::string text_;
  bool match_all_ = false;
  Shape shape_ = Shape::exact;
  std::string prefix_;  // "/a/b" for the leading literal segments; "" if none
  std::vector<Segment> segments_;
};

}  // namespace airssys::osl::detail
