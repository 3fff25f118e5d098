#include "format.hpp"

#include <fcntl.h>

#include <fmt/format.h>

namespace airssys::ledger::detail {

Result<HeadRecord> decode_head(const std::uint8_t* b, Hasher& hasher) {
  if (std::memcmp(b, kHeadMagic, 8) != 0) return fail(ErrorCategory::corrupt, "head: bad magic (not an airssys ledger head)");
  const Hash check = hasher.digest(ByteView(b, 56));
  if (std::memcmp(check.data(), b + 56, 8) != 0) return fail(ErrorCategory::corrupt, "head: checksum mismatch");
  if (get_u32(b + 8) != kFormatVersion)
    return fail(ErrorCategory::corrupt, fmt::format("head: unsupported format version {}", get_u32(b + 8)));
  HeadRecord h;
  h.size = get_u64(b + 16);
  std::memcpy(h.root.data(), b + 24, kHashSize);
  if (h.size > (std::uint64_t{1} << 56)) return fail(ErrorCategory::corrupt, "head: implausible size");
  return h;
}

Result<HeadRecord> read_head(int dirfd, Hasher& hasher) {
  auto fd = open_file_at(dirfd, kHeadFile, O_RDONLY, "head");
  if (!fd) return std::unexpected(std::move(fd.error()));
  auto len = file_size(fd->get(), "head");
  if (!len) return std::unexpected(std::move(len.error()));
  if (*len != kHeadSize) return fail(ErrorCategory::corrupt, fmt::format("head: {} bytes, expected {}", *len, kHeadSize));
  std::array<std::uint8_t, kHeadSize> b{};
  if (auto r = pread_exact(fd->get(), b.data(), b.size(), 0, "head"); !r) return std::unexpected(std::move(r.error()));
  return decode_head(b.data(), hasher);
}

}  // namespace airssys::ledger::detail
