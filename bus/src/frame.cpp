#include "frame.hpp"

#include <string>

namespace airssys::bus::detail {
namespace {

enum : std::uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline char* put_varint(char* p, std::uint64_t v) noexcept {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Tags of fields 1..15 fit one byte.
constexpr std::size_t len_field_size(std::string_view s) noexcept {
  return s.empty() ? 0 : 1 + varint_size(s.size()) + s.size();
}
constexpr std::size_t varint_field_size(std::uint64_t v) noexcept { return v == 0 ? 0 : 1 + varint_size(v); }

inline char* put_len(char* p, std::uint32_t field, std::string_view s) noexcept {
  if (s.empty()) return p;
  *p++ = static_cast<char>((field << 3) | kLen);
  p = put_varint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
inline char* put_num(char* p, std::uint32_t field, std::uint64_t v) noexcept {
  if (v == 0) return p;
  *p++ = static_cast<char>((field << 3) | kVarint);
  return put_varint(p, v);
}

[[gnu::cold, gnu::noinline]] Error malformed(std::string_view why) {
  return Error::make(ErrorCategory::malformed_frame, std::string(why));
}

struct Reader {
  const unsigned char* p;
  const unsigned char* end;

  // A varint in its shortest form: at most 10 bytes, at most 64 bits, and no
  // redundant high zero groups (`0x80 0x00` for 0). protobuf's encoders
  // always write the shortest form; a longer one is refused, so one value
  // has one encoding and a peer cannot pad fields to hide or stretch them.
  enum class Varint { ok, truncated, overlong };
  Varint varint(std::uint64_t& out) noexcept {
    if (p != end && *p < 0x80) {  // most tags, lengths and ids: one byte
      out = *p++;
      return Varint::ok;
    }
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) return Varint::truncated;
      const unsigned char b = *p++;
      if (shift == 63 && b > 1) return Varint::overlong;  // more than 64 bits
      if (shift > 0 && b == 0) return Varint::overlong;   // a redundant zero group
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        out = v;
        return Varint::ok;
      }
    }
    return Varint::overlong;
  }
};

// The largest protobuf field number (2^29 - 1); a tag is a uint32.
constexpr std::uint64_t kMaxField = (1u << 29) - 1;
constexpr std::uint32_t kHeadersField = 13;


std::size_t header_entry_size(const Header& h) noexcept {
  const std::size_t inner = len_field_size(h.name) + len_field_size(h.value);
  return 1 + varint_size(inner) + inner;
}

inline void put_prefix(char* p, std::size_t body) noexcept {
  const auto n = static_cast<std::uint32_t>(body);
  p[0] = static_cast<char>(n & 0xff);
  p[1] = static_cast<char>((n >> 8) & 0xff);
  p[2] = static_cast<char>((n >> 16) & 0xff);
  p[3] = static_cast<char>((n >> 24) & 0xff);
}

char* put_headers(char* p, std::span<const Header> headers) noexcept {
  for (const Header& h : headers) {
    *p++ = static_cast<char>((kHeadersField << 3) | kLen);
    p = put_varint(p, len_field_size(h.name) + len_field_size(h.value));
    p = put_len(p, 1, h.name);
    p = put_len(p, 2, h.value);
  }
  return p;
}

std::size_t headers_size(const Frame& f) noexcept {
  if (f.header_list.empty()) return f.headers.size();
  std::size_t n = 0;
  for (const Header& h : f.header_list) n += header_entry_size(h);
  return n;
}

}  // namespace

std::size_t body_size(const Frame& f) noexcept {
  return headers_size(f) + varint_field_size(static_cast<std::uint32_t>(f.op)) + len_field_size(f.subject) + len_field_size(f.reply_to) +
         len_field_size(f.payload) + varint_field_size(f.sid) + len_field_size(f.queue) +
         len_field_size(f.correlation_id) + len_field_size(f.content_type) + varint_field_size(f.policy) +
         varint_field_size(f.max_msgs) + varint_field_size(f.max_bytes) + len_field_size(f.text);
}

std::size_t relayed_body_size(const Frame& pub) noexcept {
  Frame m = pub;
  m.op = Op::msg;
  m.sid = ~std::uint64_t{0};
  return body_size(m);
}

void encode_frame(ByteBuffer& out, const Frame& f) {
  const std::size_t body = body_size(f);
  char* const start = out.prepare(kLengthPrefix + body);
  put_prefix(start, body);
  char* p = start + kLengthPrefix;
  p = put_num(p, 1, static_cast<std::uint32_t>(f.op));
  p = put_len(p, 2, f.subject);
  p = put_len(p, 3, f.reply_to);
  p = put_len(p, 4, f.payload);
  p = put_num(p, 5, f.sid);
  p = put_len(p, 6, f.queue);
  p = put_len(p, 7, f.correlation_id);
  p = put_len(p, 8, f.content_type);
  p = put_num(p, 9, f.policy);
  p = put_num(p, 10, f.max_msgs);
  p = put_num(p, 11, f.max_bytes);
  p = put_len(p, 12, f.text);
  if (!f.header_list.empty()) {
    p = put_headers(p, f.header_list);
  } else if (!f.headers.empty()) {
    std::memcpy(p, f.headers.data(), f.headers.size());
    p += f.headers.size();
  }
  out.commit(static_cast<std::size_t>(p - start));
}

std::size_t pub_body_size(const PubFields& p) noexcept {
  std::size_t n = varint_field_size(static_cast<std::uint32_t>(Op::pub)) + len_field_size(p.subject) +
                  len_field_size(p.reply_to) + len_field_size(p.payload) + len_field_size(p.correlation_id) +
                  len_field_size(p.content_type);
  for (const Header& h : p.headers) n += header_entry_size(h);
  return n;
}

void encode_pub(ByteBuffer& out, const PubFields& p, std::size_t body) {
  char* const start = out.prepare(kLengthPrefix + body);
  put_prefix(start, body);
  char* q = start + kLengthPrefix;
  q = put_num(q, 1, static_cast<std::uint32_t>(Op::pub));
  q = put_len(q, 2, p.subject);
  q = put_len(q, 3, p.reply_to);
  q = put_len(q, 4, p.payload);
  q = put_len(q, 7, p.correlation_id);
  q = put_len(q, 8, p.content_type);
  q = put_headers(q, p.headers);
  out.commit(static_cast<std::size_t>(q - start));
}

std::size_t relay_frame_size(std::string_view pub_body, std::uint64_t sid) noexcept {
  return kLengthPrefix + pub_body.size() + 1 + varint_size(sid);
}

void encode_relay(ByteBuffer& out, std::string_view pub_body, std::uint64_t sid) {
  const std::size_t body = pub_body.size() + 1 + varint_size(sid);
  char* const start = out.prepare(kLengthPrefix + body);
  put_prefix(start, body);
  char* q = start + kLengthPrefix;
  std::memcpy(q, pub_body.data(), pub_body.size());
  q[1] = static_cast<char>(Op::msg);  // `08 01` -> `08 04`
  q += pub_body.size();
  *q++ = static_cast<char>((5u << 3) | kVarint);
  q = put_varint(q, sid);
  out.commit(static_cast<std::size_t>(q - start));
}

namespace {

// The common PUB in the shape encode_pub writes it — op PUB, subject,
// optional reply_to, optional payload, in that order, each once, lengths in
// their shortest varint form of at most two bytes (subject and reply_to one)
// and nothing else — decoded without the general loop: at 10 M publishes/s
// the per-field dispatch was half the broker's time (perf, docs/BENCHMARKS.md).
// True only when the general decoder would give exactly this result; any
// other body (and every malformed one) is left to it.
bool decode_plain_pub(std::string_view body, Frame& out) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  const auto* const end = p + body.size();
  // 08 01 12 <len> subject
  if (body.size() < 4 || p[0] != 0x08 || p[1] != 0x01 || p[2] != 0x12 || p[3] >= 0x80) return false;
  std::size_t len = p[3];
  p += 4;
  if (static_cast<std::size_t>(end - p) < len) return false;
  const std::string_view subject(reinterpret_cast<const char*>(p), len);
  p += len;
  std::string_view reply_to, payload;
  if (p != end && *p == 0x1a) {  // reply_to, field 3
    if (end - p < 2 || p[1] >= 0x80) return false;
    len = p[1];
    p += 2;
    if (static_cast<std::size_t>(end - p) < len) return false;
    reply_to = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  if (p != end && *p == 0x22) {  // payload, field 4
    if (end - p < 2) return false;
    if (p[1] < 0x80) {
      len = p[1];
      p += 2;
    } else {
      // Two bytes, the second neither zero (not the shortest form) nor
      // continued: lengths 128..16383.
      if (end - p < 3 || p[2] == 0 || p[2] >= 0x80) return false;
      len = (p[1] & 0x7fu) | (static_cast<std::size_t>(p[2]) << 7);
      p += 3;
    }
    if (static_cast<std::size_t>(end - p) < len) return false;
    payload = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
  }
  if (p != end) return false;
  out.op = Op::pub;
  out.subject = subject;
  out.reply_to = reply_to;
  out.payload = payload;
  out.sid = 0;
  out.queue = {};
  out.correlation_id = {};
  out.content_type = {};
  out.policy = 0;
  out.max_msgs = 0;
  out.max_bytes = 0;
  out.text = {};
  out.header_list = {};
  out.headers = {};
  out.body = body;
  out.relayable = true;
  return true;
}

}  // namespace

std::expected<void, Error> decode_body(std::string_view body, Frame& out) {
  if (decode_plain_pub(body, out)) return {};
  // Fields go into locals and are stored once at the end: zero-initialising
  // a Frame costs a `rep stos` per frame, and copying it out as much again.
  Op op = Op::unspecified;
  std::string_view subject, reply_to, payload, queue, correlation_id, content_type, text;
  std::uint64_t sid = 0, max_bytes = 0;
  std::uint32_t policy = 0, max_msgs = 0;
  std::uint32_t seen = 0;  // bit n: field n (1..12) appeared
  bool repeated = false;   // a field other than headers appeared twice
  bool unknown = false;
  Reader r{reinterpret_cast<const unsigned char*>(body.data()),
           reinterpret_cast<const unsigned char*>(body.data()) + body.size()};
  const unsigned char* hdr_begin = nullptr;  // the run of field-13 entries
  const unsigned char* hdr_end = nullptr;
  while (r.p != r.end) {
    const unsigned char* const field_start = r.p;
    std::uint64_t tag = 0;
    if (const auto v = r.varint(tag); v != Reader::Varint::ok)
      return std::unexpected(malformed(v == Reader::Varint::truncated ? "truncated field tag" : "over-long field tag"));
    const auto field = tag >> 3;
    const auto type = static_cast<std::uint32_t>(tag & 7);
    if (field == 0) return std::unexpected(malformed("field number 0"));
    if (field > kMaxField)
      return std::unexpected(malformed("field number " + std::to_string(field) + " above the protobuf maximum 2^29-1"));
    std::uint64_t num = 0;
    std::string_view bytes;
    switch (type) {
      case kVarint:
        if (const auto v = r.varint(num); v != Reader::Varint::ok)
          return std::unexpected(malformed(v == Reader::Varint::truncated ? "truncated varint" : "over-long varint"));
        break;
      case kFixed64:
      case kFixed32: {
        const std::size_t w = type == kFixed64 ? 8 : 4;
        if (static_cast<std::size_t>(r.end - r.p) < w) return std::unexpected(malformed("truncated fixed field"));
        r.p += w;
        break;
      }
      case kLen: {
        std::uint64_t len = 0;
        if (const auto v = r.varint(len); v != Reader::Varint::ok)
          return std::unexpected(malformed(v == Reader::Varint::truncated ? "truncated length" : "over-long length"));
        if (len > static_cast<std::uint64_t>(r.end - r.p)) return std::unexpected(malformed("field longer than frame"));
        bytes = std::string_view(reinterpret_cast<const char*>(r.p), static_cast<std::size_t>(len));
        r.p += len;
        break;
      }
      default:
        return std::unexpected(malformed("unsupported wire type " + std::to_string(type)));
    }
    const bool is_len = type == kLen;
    const bool is_num = type == kVarint;
    if (field < kHeadersField) {
      const std::uint32_t bit = 1u << field;
      repeated = repeated || (seen & bit) != 0;
      seen |= bit;
    }
    switch (field) {
      case 1:
        if (!is_num) return std::unexpected(malformed("op is not a varint"));
        if (num < 1 || num > 8) return std::unexpected(malformed("unknown op " + std::to_string(num)));
        op = static_cast<Op>(num);
        break;
      case 5:
      case 9:
      case 10:
      case 11:
        if (!is_num) return std::unexpected(malformed("numeric field " + std::to_string(field) + " is not a varint"));
        if (field == 5) sid = num;
        if (field == 9) {
          if (num > 2) return std::unexpected(malformed("unknown policy " + std::to_string(num)));
          policy = static_cast<std::uint32_t>(num);
        }
        if (field == 10) {
          if (num > UINT32_MAX) return std::unexpected(malformed("max_msgs out of range"));
          max_msgs = static_cast<std::uint32_t>(num);
        }
        if (field == 11) max_bytes = num;
        break;
      case 2:
      case 3:
      case 4:
      case 6:
      case 7:
      case 8:
      case 12:
        if (!is_len) return std::unexpected(malformed("field " + std::to_string(field) + " is not length-delimited"));
        if (field == 2) subject = bytes;
        if (field == 3) reply_to = bytes;
        if (field == 4) payload = bytes;
        if (field == 6) queue = bytes;
        if (field == 7) correlation_id = bytes;
        if (field == 8) content_type = bytes;
        if (field == 12) text = bytes;
        break;
      case kHeadersField: {
        if (!is_len) return std::unexpected(malformed("header (field 13) is not length-delimited"));
        if (hdr_begin != nullptr && hdr_end != field_start)
          return std::unexpected(malformed("headers (field 13) are not consecutive"));
        if (hdr_begin == nullptr) hdr_begin = field_start;
        hdr_end = r.p;
        Reader h{reinterpret_cast<const unsigned char*>(bytes.data()),
                 reinterpret_cast<const unsigned char*>(bytes.data()) + bytes.size()};
        Header hv;
        while (h.p != h.end) {
          std::uint64_t htag = 0, hlen = 0;
          if (h.varint(htag) != Reader::Varint::ok || (htag & 7) != kLen || h.varint(hlen) != Reader::Varint::ok ||
              hlen > static_cast<std::uint64_t>(h.end - h.p))
            return std::unexpected(malformed("header entry is not name and value strings"));
          const std::string_view v(reinterpret_cast<const char*>(h.p), static_cast<std::size_t>(hlen));
          h.p += hlen;
          if ((htag >> 3) == 1) hv.name = v;
          else if ((htag >> 3) == 2) hv.value = v;
          else return std::unexpected(malformed("header entry has field " + std::to_string(htag >> 3)));
        }
        if (auto ok = validate_header(hv); !ok) return std::unexpected(malformed(ok.error().message));
        break;
      }
      default:
        unknown = true;
        break;  // unknown field: skipped
    }
  }
  if (op == Op::unspecified) return std::unexpected(malformed("frame without op"));
  // Relayable: `08 01` first (op PUB, once), and only fields a MSG carries.
  constexpr std::uint32_t kRelayed = (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 7) | (1u << 8);
  out.op = op;
  out.subject = subject;
  out.reply_to = reply_to;
  out.payload = payload;
  out.sid = sid;
  out.queue = queue;
  out.correlation_id = correlation_id;
  out.content_type = content_type;
  out.policy = policy;
  out.max_msgs = max_msgs;
  out.max_bytes = max_bytes;
  out.text = text;
  out.header_list = {};
  out.headers = hdr_begin == nullptr ? std::string_view{}
                                     : std::string_view(reinterpret_cast<const char*>(hdr_begin),
                                                        static_cast<std::size_t>(hdr_end - hdr_begin));
  out.body = body;
  out.relayable = op == Op::pub && !repeated && !unknown && (seen & ~kRelayed) == 0 && body.size() >= 2 &&
                  body[0] == 0x08 && body[1] == 0x01;
  return {};
}

std::expected<Frame, Error> decode_body(std::string_view body) {
  Frame f;
  if (auto r = decode_body(body, f); !r) return std::unexpected(std::move(r.error()));
  return f;
}

std::expected<bool, Error> FrameDecoder::next(Frame& out) {
  if (buf_.size() < kLengthPrefix) return false;
  const auto* b = reinterpret_cast<const unsigned char*>(buf_.data());
  const std::size_t len = static_cast<std::size_t>(b[0]) | (static_cast<std::size_t>(b[1]) << 8) |
                          (static_cast<std::size_t>(b[2]) << 16) | (static_cast<std::size_t>(b[3]) << 24);
  if (len > max_frame_)
    return std::unexpected(Error::make(ErrorCategory::frame_too_large, "frame of " + std::to_string(len) +
                                                                           " bytes exceeds the maximum of " +
                                                                           std::to_string(max_frame_)));
  if (buf_.size() < kLengthPrefix + len) return false;
  const std::string_view body(buf_.data() + kLengthPrefix, len);
  // Views stay valid after consume(): consume only moves offsets; memory is
  // reused only by the next prepare().
  buf_.consume(kLengthPrefix + len);
  if (auto r = decode_body(body, out); !r) return std::unexpected(std::move(r.error()));
  return true;
}

std::expected<std::optional<Frame>, Error> FrameDecoder::next() {
  Frame f;
  auto r = next(f);
  if (!r) return std::unexpected(std::move(r.error()));
  if (!*r) return std::optional<Frame>{};
  return std::optional<Frame>{f};
}

}  // namespace airssys::bus::detail
