#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/utf8.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace airssys::osl::detail {

namespace {

unsigned char byte_at(std::string_view t, std::size_t i) { return static_cast<unsigned char>(t[i]); }

enum class Quote { escaped, kept };

// Bytes a terminal could act on, or that would make the text ambiguous: C0
// controls, DEL, \ (an escape starts with it), ' when the text is shown
// inside '…', C1 controls U+0080..U+009F (0xC2 0x80..0x9F: U+009B is CSI),
// and any byte that is not well-formed UTF-8 (a raw 0x9B is CSI on an 8-bit
// terminal).
bool escaped(std::string_view t, std::size_t i, std::size_t n, Quote quote) {
  const unsigned char c = byte_at(t, i);
  if (n == 0) return true;
  if (n == 1) return c < 0x20 || c == 0x7f || c == '\\' || (c == '\'' && quote == Quote::escaped);
  return n == 2 && c == 0xc2 && byte_at(t, i + 1) < 0xa0;
}

// Appends text[from, to) as shown, a character whole or not at all; returns
// where it stopped (before the first character that would pass `to`).
std::size_t append_shown(std::string& out, std::string_view text, std::size_t from, std::size_t to, Quote quote) {
  std::size_t i = from;
  while (i < text.size()) {
    const std::size_t n = utf8_sequence_length(text, i);
    const std::size_t step = n == 0 ? 1 : n;
    if (i + step > to) break;
    if (escaped(text, i, n, quote)) {
      for (std::size_t k = i; k < i + step; ++k) out += fmt::format("\\x{:02x}", byte_at(text, k));
    } else {
      out.append(text.substr(i, step));
    }
    i += step;
  }
  return i;
}

}  // namespace

std::string shown_text(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 24);
  if (append_shown(out, text, 0, max_bytes, Quote::escaped) < text.size()) {
    out += fmt::format("… ({} bytes)", text.size());
  }
  return out;
}

std::string shown_path(std::string_view path) {
  std::string out;
  out.reserve(std::min(path.size(), kShownPathMax) + 32);
  if (path.size() <= kShownPathMax) {
    append_shown(out, path, 0, path.size(), Quote::kept);
    return out;
  }
  constexpr std::size_t kEach = kShownPathMax / 2;
  append_shown(out, path, 0, kEach, Quote::kept);
  out += fmt::format("… ({} bytes) …", path.size());
  // The end starts on a character: the continuation bytes (at most 3) of
  // one the cut went through belong to the part left out.
  std::size_t tail = path.size() - kEach;
  for (int k = 0; k < 3 && (byte_at(path, tail) & 0xc0) == 0x80; ++k) ++tail;
  append_shown(out, path, tail, path.size(), Quote::kept);
  return out;
}

}  // namespace airssys::osl::detail
