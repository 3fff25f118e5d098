#include "compact_json.hpp"

#include <string_view>
#include <vector>

namespace airssys::watchdog::detail {

namespace {

struct Frame {
  bool object = false;
  std::string_view last_key;  // objects: the previous member's key
  bool has_key = false;
};

class Scanner {
 public:
  Scanner(std::string_view s, int max_depth) : s_(s), max_depth_(max_depth) {}

  bool run() {
    std::vector<Frame> stack;  // the open containers
    for (;;) {
      // A value starts here.
      if (at_end()) return false;
      const char c = s_[p_];
      if (c == '{' || c == '[') {
        if (static_cast<int>(stack.size()) + 1 > max_depth_) return false;
        ++p_;
        if (!at_end() && s_[p_] == (c == '{' ? '}' : ']')) {
          ++p_;  // {} and [] are whole values
        } else {
          stack.push_back(Frame{c == '{', {}, false});
          if (c == '{' && !key(stack.back())) return false;
          continue;
        }
      } else if (!scalar()) {
        return false;
      }
      // A value ended: close what it completes, or go on to the next member.
      for (;;) {
        if (stack.empty()) return at_end();
        if (at_end()) return false;
        Frame& top = stack.back();
        const char d = s_[p_++];
        if (d == ',') {
          if (top.object && !key(top)) return false;
          break;
        }
        if (d != (top.object ? '}' : ']')) return false;
        stack.pop_back();
      }
    }
  }

 private:
  bool key(Frame& f) {
    std::string_view k;
    if (!string(k) || at_end() || s_[p_] != ':') return false;
    ++p_;
    // nlohmann's objects are std::map: sorted, duplicates collapsed.
    if (f.has_key && !(f.last_key < k)) return false;
    f.last_key = k;
    f.has_key = true;
    return true;
  }

  bool scalar() {
    const char c = s_[p_];
    if (c == '"') {
      std::string_view ignored;
      return string(ignored);
    }
    if (c == 't') return literal("true");
    if (c == 'f') return literal("false");
    if (c == 'n') return literal("null");
    return integer();
  }

  // Printable ASCII only, no escapes: dump() writes such a string unchanged.
  bool string(std::string_view& out) {
    if (at_end() || s_[p_] != '"') return false;
    const std::size_t start = ++p_;
    while (!at_end()) {
      const unsigned char ch = static_cast<unsigned char>(s_[p_]);
      if (ch == '"') {
        out = s_.substr(start, p_ - start);
        ++p_;
        return true;
      }
      if (ch == '\\' || ch < 0x20 || ch > 0x7E) return false;
      ++p_;
    }
    return false;
  }

  bool literal(std::string_view word) {
    if (s_.substr(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }

  // -?(0|[1-9][0-9]{0,17}) but not -0: within int64 and uint64, so dump()
  // prints the same digits; anything after it other than , ] } fails later.
  bool integer() {
    bool negative = false;
    if (s_[p_] == '-') {
      negative = true;
      ++p_;
    }
    const std::size_t start = p_;
    while (!at_end() && s_[p_] >= '0' && s_[p_] <= '9') ++p_;
    const std::size_t n = p_ - start;
    if (n == 0 || n > 18) return false;
    if (s_[start] == '0' && (n > 1 || negative)) return false;
    return true;
  }

  [[nodiscard]] bool at_end() const { return p_ >= s_.size(); }

  std::string_view s_;
  int max_depth_;
  std::size_t p_ = 0;
};

}  // namespace

bool is_compact_dump(std::string_view text, int max_depth) noexcept {
  try {
    return Scanner(text, max_depth).run();
  } catch (...) {  // the stack's allocation: false is always safe
    return false;
  }
}

}  // namespace airssys::watchdog::detail
