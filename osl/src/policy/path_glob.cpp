#include "policy/path_glob.hpp"

#include <airssys/osl/policy.hpp>
#include <airssys/osl/detail/shown_text.hpp>

#include "policy/glob.hpp"

namespace airssys::osl::detail {

namespace {

constexpr std::size_t kEnd = std::string_view::npos;

// Walks the segments of an absolute path in place: a position is the index of
// a segment's first character, kEnd past the last one. "/" has no segments.
struct PathCursor {
  std::string_view path;

  [[nodiscard]] std::size_t first() const noexcept { return path.size() <= 1 ? kEnd : 1; }
  [[nodiscard]] std::size_t next(std::size_t pos) const noexcept {
    const std::size_t slash = path.find('/', pos);
    return slash == kEnd ? kEnd : slash + 1;
  }
  [[nodiscard]] std::string_view segment(std::size_t pos) const noexcept {
    const std::size_t slash = path.find('/', pos);
    return path.substr(pos, slash == kEnd ? kEnd : slash - pos);
  }
};

// Pattern segments straight from the pattern text (used by path_glob_match,
// which must not allocate).
struct TextPattern {
  PathCursor cursor;

  [[nodiscard]] std::size_t first() const noexcept { return cursor.first(); }
  [[nodiscard]] std::size_t next(std::size_t pos) const noexcept { return cursor.next(pos); }
  [[nodiscard]] bool is_globstar(std::size_t pos) const noexcept { return cursor.segment(pos) == "**"; }
  [[nodiscard]] bool segment_matches(std::size_t pos, std::string_view text) const noexcept {
    return glob_match(cursor.segment(pos), text);
  }
};

// Pattern segments pre-split at load time.
struct CompiledPattern {
  const std::vector<PathGlob::Segment>& segs;

  [[nodiscard]] std::size_t first() const noexcept { return segs.empty() ? kEnd : 0; }
  [[nodiscard]] std::size_t next(std::size_t pos) const noexcept { return pos + 1 < segs.size() ? pos + 1 : kEnd; }
  [[nodiscard]] bool is_globstar(std::size_t pos) const noexcept {
    return segs[pos].kind == PathGlob::SegmentKind::globstar;
  }
  [[nodiscard]] bool segment_matches(std::size_t pos, std::string_view text) const noexcept {
    const auto& s = segs[pos];
    return s.kind == PathGlob::SegmentKind::literal ? s.text == text : glob_match(s.text, text);
  }
};

// Segment-level wildcard matching where "**" plays the role of '*' over
// whole segments: on a mismatch the last "**" absorbs one more segment.
template <class Pattern>
bool match_segments(const Pattern& pat, std::string_view path) noexcept {
  const PathCursor cur{path};
  std::size_t p = pat.first();
  std::size_t s = cur.first();
  std::size_t star_p = kEnd;
  std::size_t star_s = kEnd;
  bool have_star = false;
  for (;;) {
    if (p != kEnd && pat.is_globstar(p)) {
      have_star = true;
      star_p = pat.next(p);
      star_s = s;
      p = star_p;
      continue;
    }
    if (s == kEnd) return p == kEnd;
    if (p != kEnd && pat.segment_matches(p, cur.segment(s))) {
      p = pat.next(p);
      s = cur.next(s);
      continue;
    }
    if (!have_star) return false;
    star_s = cur.next(star_s);  // star_s != kEnd here: it trails s
    s = star_s;
    p = star_p;
  }
}

[[nodiscard]] bool is_match_all(std::string_view pattern) noexcept { return pattern == "*" || pattern == "**"; }

}  // namespace

std::expected<PathGlob, std::string> PathGlob::compile(std::string_view pattern) {
  PathGlob g;
  g.text_ = std::string(pattern);
  if (is_match_all(pattern)) {
    g.match_all_ = true;
    return g;
  }
  if (pattern.empty() || pattern.front() != '/') {
    return std::unexpected("path pattern '" + shown_text(pattern) + "' must be absolute (start with '/') or be '*' / '**'");
  }
  if (pattern.find('\0') != std::string_view::npos) {
    return std::unexpected(std::string("path pattern must not contain a NUL byte"));
  }
  if (pattern == "/") return g;  // the root itself: zero segments
  const PathCursor cur{pattern};
  for (std::size_t pos = cur.first(); pos != kEnd; pos = cur.next(pos)) {
    const std::string_view seg = cur.segment(pos);
    if (seg.empty()) {
      return std::unexpected("path pattern '" + shown_text(pattern) +
                             "' has an empty segment ('//' or a trailing '/'); canonical paths have none");
    }
    if (seg == "." || seg == "..") {
      return std::unexpected("path pattern '" + shown_text(pattern) +
                             "' contains '.' or '..'; write the canonical absolute path");
    }
    Segment s{std::string(seg), SegmentKind::literal};
    if (seg == "**") {
      s.kind = SegmentKind::globstar;
    } else if (seg.find("**") != std::string_view::npos) {
      return std::unexpected("path pattern '" + shown_text(pattern) +
                             "': '**' must be a whole segment (use '*' within a segment)");
    } else if (has_glob_chars(seg)) {
      s.kind = SegmentKind::wildcard;
    }
    g.segments_.push_back(std::move(s));
  }
  std::size_t literal = 0;
  while (literal < g.segments_.size() && g.segments_[literal].kind == SegmentKind::literal) {
    g.prefix_ += '/';
    g.prefix_ += g.segments_[literal].text;
    ++literal;
  }
  if (literal == g.segments_.size()) {
    g.shape_ = Shape::exact;
  } else if (literal + 1 == g.segments_.size() && g.segments_.back().kind == SegmentKind::globstar) {
    g.shape_ = Shape::subtree;
  } else {
    g.shape_ = Shape::general;
  }
  return g;
}

bool PathGlob::matches(std::string_view path) const noexcept {
  if (match_all_) return true;
  if (path.empty() || path.front() != '/') return false;
  if (shape_ == Shape::exact) return prefix_.empty() ? path == "/" : path == prefix_;
  // The path must begin with the literal segments, as whole segments.
  if (!path.starts_with(prefix_)) return false;
  if (path.size() > prefix_.size() && path[prefix_.size()] != '/' && !prefix_.empty()) return false;
  if (shape_ == Shape::subtree) return true;
  return match_segments(CompiledPattern{segments_}, path);
}

std::string PathGlob::literal_prefix() const { return prefix_.empty() ? std::string("/") : prefix_; }

}  // namespace airssys::osl::detail

namespace airssys::osl {

bool path_glob_match(std::string_view pattern, std::string_view path) noexcept {
  if (pattern == "*" || pattern == "**") return true;
  if (pattern.empty() || pattern.front() != '/' || path.empty() || path.front() != '/') return false;
  return detail::match_segments(detail::TextPattern{detail::PathCursor{pattern}}, path);
}

}  // namespace airssys::osl
