#pragma once
// Wire frames (docs/bus.md "Wire format"; schema bus/proto/bus.proto).
//
// A frame is a 4-byte little-endian body length, then the body: a protobuf
// `Frame` message. encode_frame writes proto3 encoding by hand (fields in
// number order, defaults omitted); FrameDecoder parses bodies in place and
// returns views into its buffer (valid until the next prepare/commit).
//
// Hot paths (the broker's read loop, the client's publish) decode into a
// Frame the caller reuses and encode a PUB without building a Frame: at
// 10 M frames/s, zeroing and copying the 200-byte struct per frame was a
// quarter of the broker's time (perf, docs/BENCHMARKS.md).

#include "byte_buffer.hpp"

#include <airssys/bus/error.hpp>
#include <airssys/bus/headers.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string_view>

namespace airssys::bus::detail {

enum class Op : std::uint32_t { unspecified = 0, pub = 1, sub = 2, unsub = 3, msg = 4, ping = 5, pong = 6, err = 7, stats = 8 };

inline constexpr std::size_t kLengthPrefix = 4;
inline constexpr std::size_t kDefaultMaxFrame = 1024 * 1024;

// All views; an encoder reads them, the decoder points them into its buffer.
struct Frame {
  Op op = Op::unspecified;
  std::string_view subject, reply_to, payload;
  std::uint64_t sid = 0;
  std::string_view queue, correlation_id, content_type;
  std::uint32_t policy = 0, max_msgs = 0;
  std::uint64_t max_bytes = 0;
  std::string_view text;
  // Headers (field 13, one Header message per pair). Encoding writes
  // `header_list` if set (a client's publish), else `headers`: encoded
  // entries as decoded, relayed unchanged. Decoding sets `headers`.
  std::span<const Header> header_list;
  std::string_view headers;
  // Set by the decoder: the whole body as received, and whether it may be
  // relayed as a MSG by copying it (encode_relay): a PUB whose op is its
  // first field and appears once, with no fields but subject, reply_to,
  // payload, correlation_id, content_type and headers.
  std::string_view body;
  bool relayable = false;
};

// The fields of a PUB, for encode_pub (a client's publish).
struct PubFields {
  std::string_view subject, reply_to, payload, correlation_id, content_type;
  std::span<const Header> headers;
};
// What a MSG relay adds to a PUB body at most: the subscription id's tag
// and up to 10 varint bytes.
inline constexpr std::size_t kRelaySidMax = 11;

// Size of the body (without the length prefix).
[[nodiscard]] std::size_t body_size(const Frame& f) noexcept;
// The largest body the broker's MSG relay of this PUB can have: the PUB's
// fields plus a subscription id of any value (tag + up to 10 varint bytes).
// A PUB is accepted only if this fits max_frame_bytes, so every relayed MSG
// fits the subscribers' decoders (docs/bus.md "Limits").
[[nodiscard]] std::size_t relayed_body_size(const Frame& pub) noexcept;
// Appends prefix + body to out.
void encode_frame(ByteBuffer& out, const Frame& f);
// The body size of a PUB with these fields; the same bytes as encode_frame
// of the equivalent Frame. relayed_body_size of it is this + kRelaySidMax.
[[nodiscard]] std::size_t pub_body_size(const PubFields& p) noexcept;
// Appends the PUB; `body` must be pub_body_size(p).
void encode_pub(ByteBuffer& out, const PubFields& p, std::size_t body);
// The MSG relaying a relayable PUB body to subscription `sid`: the body with
// op PUB changed to MSG and the sid appended as the last field (protobuf
// fields may come in any order). The subject, payload and headers bytes
// are copied untouched; decoding it gives the PUB's fields and `sid`.
[[nodiscard]] std::size_t relay_frame_size(std::string_view pub_body, std::uint64_t sid) noexcept;
void encode_relay(ByteBuffer& out, std::string_view pub_body, std::uint64_t sid);
// Parses one body. Unknown fields of wire type 0/1/2/5 are skipped (forward
// compatibility); groups, truncated fields, over-long varints (more than 10
// bytes, more than 64 bits, or not in their shortest form), field numbers
// above 2^29-1, wrong wire types for known fields and an unknown op are
// malformed; so are headers that are not consecutive entries, a header
// entry other than fields 1 and 2 as strings, and a header name or value
// validate_header refuses.
[[nodiscard]] std::expected<Frame, Error> decode_body(std::string_view body);
// The same into `out`, every field of which it sets (nothing is copied on
// success; on error `out` is unspecified).
[[nodiscard]] std::expected<void, Error> decode_body(std::string_view body, Frame& out);

// Streaming decoder: feed bytes as they arrive (any split), take frames out.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  // Where to read up to n bytes into; then commit(k).
  char* prepare(std::size_t n) { return buf_.prepare(n); }
  void commit(std::size_t n) noexcept { buf_.commit(n); }
  void feed(std::string_view bytes) { buf_.append(bytes); }

  // The next complete frame, nullopt when more bytes are needed, or an error
  // (oversized length prefix or malformed body). After an error the stream
  // cannot be resynchronised; the connection must be closed.
  [[nodiscard]] std::expected<std::optional<Frame>, Error> next();
  // The same into `out`: true when a frame was decoded, false when more
  // bytes are needed (out unchanged).
  [[nodiscard]] std::expected<bool, Error> next(Frame& out);
  [[nodiscard]] std::size_t buffered() const noexcept { return buf_.size(); }
  void shrink_if_above(std::size_t keep) { buf_.shrink_if_above(keep); }

 private:
  ByteBuffer buf_;
  std::size_t max_frame_;
};

}  // namespace airssys::bus::detail
