#pragma once
// The plain PUB — a subject and a payload, nothing else — sized and encoded
// inline for the client's publish hot path. Most publishes are plain, and
// the general encoder (encode_pub: PubFields copied in, a test per optional
// field, a loop over headers) was a fifth of a publish's time (perf,
// docs/BENCHMARKS.md). The bytes are exactly encode_pub's for the same
// fields (frame_test checks every length class).

#include "frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace airssys::bus::detail {

[[nodiscard]] inline std::size_t plain_varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// The body size of a PUB with these fields only; `subject` is not empty (a
// valid subject never is), an empty payload is omitted as proto3 does.
[[nodiscard]] inline std::size_t plain_pub_body_size(std::string_view subject, std::string_view payload) noexcept {
  std::size_t n = 2 + 1 + plain_varint_size(subject.size()) + subject.size();  // op, subject
  if (!payload.empty()) n += 1 + plain_varint_size(payload.size()) + payload.size();
  return n;
}

// Appends the frame; `body` must be plain_pub_body_size(subject, payload).
inline void encode_plain_pub(ByteBuffer& out, std::string_view subject, std::string_view payload, std::size_t body) {
  char* const start = out.prepare(kLengthPrefix + body);
  const auto n = static_cast<std::uint32_t>(body);
  start[0] = static_cast<char>(n & 0xff);
  start[1] = static_cast<char>((n >> 8) & 0xff);
  start[2] = static_cast<char>((n >> 16) & 0xff);
  start[3] = static_cast<char>((n >> 24) & 0xff);
  char* p = start + kLengthPrefix;
  auto put_field = [&p](char tag, std::string_view s) {
    *p++ = tag;
    std::uint64_t v = s.size();
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  *p++ = 0x08;  // field 1 (op), varint
  *p++ = static_cast<char>(Op::pub);
  put_field(0x12, subject);  // field 2, length-delimited
  if (!payload.empty()) put_field(0x22, payload);  // field 4
  out.commit(kLengthPrefix + body);
}

}  // namespace airssys::bus::detail
