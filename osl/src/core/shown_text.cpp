#include <airssys/osl/detail/shown_text.hpp>

#include <fmt/format.h>

namespace airssys::osl::detail {

std::string shown_text(std::string_view text, std::size_t max_bytes) {
  std::size_t keep = text.size();
  if (keep > max_bytes) {
    keep = max_bytes;
    // Back off to the start of the character the cut falls in.
    while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80) --keep;
  }
  std::string out;
  out.reserve(keep + 24);
  for (const char ch : text.substr(0, keep)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f || c == '\'' || c == '\\') {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  if (keep < text.size()) out += fmt::format("… ({} bytes)", text.size());
  return out;
}

}  // namespace airssys::osl::detail
