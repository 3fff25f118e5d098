// Header validation and the view over encoded headers (frame field 13:
// `Header { string name = 1; string value = 2; }` per pair).

#include <airssys/bus/headers.hpp>

#include <cstdint>
#include <string>

namespace airssys::bus {

namespace {

bool read_varint(std::string_view& s, std::uint64_t& out) noexcept {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64 && !s.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(s.front());
    s.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      out = v;
      return true;
    }
  }
  return false;
}

// One length-delimited field: its number and bytes.
bool read_len_field(std::string_view& s, std::uint64_t& field, std::string_view& bytes) noexcept {
  std::uint64_t tag = 0, len = 0;
  if (!read_varint(s, tag) || (tag & 7) != 2 || !read_varint(s, len) || len > s.size()) return false;
  field = tag >> 3;
  bytes = s.substr(0, static_cast<std::size_t>(len));
  s.remove_prefix(static_cast<std::size_t>(len));
  return true;
}

}  // namespace

std::expected<void, Error> validate_header(const Header& h) {
  if (h.name.empty() || h.name.size() > 256)
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, "header name must be 1 to 256 bytes"));
  for (const char c : h.name) {
    if (c < 0x21 || c > 0x7e || c == ':')
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, "header name '" + std::string(h.name) +
                                                                     "' may hold only printable ASCII without ':' or spaces"));
  }
  for (const char c : h.value) {
    if (c == '\0' || c == '\r' || c == '\n')
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, "value of header '" + std::string(h.name) +
                                                                     "' contains NUL, CR or LF"));
  }
  return {};
}

void Headers::iterator::advance() noexcept {
  done_ = true;
  while (!rest_.empty()) {
    std::uint64_t field = 0;
    std::string_view entry;
    if (!read_len_field(rest_, field, entry)) {
      rest_ = {};
      return;
    }
    if (field != 13) continue;
    cur_ = {};
    while (!entry.empty()) {
      std::uint64_t f = 0;
      std::string_view b;
      if (!read_len_field(entry, f, b)) break;
      if (f == 1) cur_.name = b;
      if (f == 2) cur_.value = b;
    }
    done_ = false;
    return;
  }
}

std::size_t Headers::size() const noexcept {
  std::size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

std::optional<std::string_view> Headers::get(std::string_view name) const noexcept {
  for (const Header& h : *this)
    if (h.name == name) return h.value;
  return std::nullopt;
}

}  // namespace airssys::bus
