#pragma once
// Private: the on-disk format (docs/ledger.md is the specification).
//
//   head      64 bytes: magic "ASLEDGR1" | u32 version=1 | u32 flags=0 |
//             u64 size | root[32] | first 8 bytes of SHA-256(bytes 0..55)
//   entries   per entry: u32 length | payload            (append-only)
//   offsets   per entry: u64 end offset of its record     (append-only)
//   tree      32-byte hashes of every perfect subtree, post-order (append-only)
//
// All integers little-endian. `head` is the commit record: only the first
// `size` entries exist; bytes beyond them in the other files are a torn tail.

#include "fd.hpp"

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/merkle.hpp>

#include <array>
#include <cstdint>
#include <cstring>

namespace airssys::ledger::detail {

inline constexpr const char* kHeadFile = "head";
inline constexpr const char* kEntriesFile = "entries";
inline constexpr const char* kOffsetsFile = "offsets";
inline constexpr const char* kTreeFile = "tree";
inline constexpr const char* kLockFile = "lock";
inline constexpr const char* kCheckpointsFile = "checkpoints";
inline constexpr const char* kPubkeyFile = "pubkey.pem";
inline constexpr const char* kSigningKeyFile = "signing-key";

inline constexpr std::size_t kHeadSize = 64;
inline constexpr std::uint32_t kFormatVersion = 1;
inline constexpr char kHeadMagic[8] = {'A', 'S', 'L', 'E', 'D', 'G', 'R', '1'};
inline constexpr std::size_t kRecordHeader = 4;  // u32 length before each payload
inline constexpr std::uint64_t kMaxEntrySize = kMaxEntryBytes;

struct HeadRecord {
  std::uint64_t size = 0;
  Hash root{};
};

inline std::array<std::uint8_t, kHeadSize> encode_head(const HeadRecord& h, Hasher& hasher) {
  std::array<std::uint8_t, kHeadSize> b{};
  std::memcpy(b.data(), kHeadMagic, 8);
  put_u32(b.data() + 8, kFormatVersion);
  put_u32(b.data() + 12, 0);
  put_u64(b.data() + 16, h.size);
  std::memcpy(b.data() + 24, h.root.data(), kHashSize);
  const Hash check = hasher.digest(ByteView(b.data(), 56));
  std::memcpy(b.data() + 56, check.data(), 8);
  return b;
}

// Fails with `corrupt` on a bad magic, version or checksum.
[[nodiscard]] Result<HeadRecord> decode_head(const std::uint8_t* b, Hasher& hasher);
[[nodiscard]] Result<HeadRecord> read_head(int dirfd, Hasher& hasher);

}  // namespace airssys::ledger::detail
