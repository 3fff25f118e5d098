// libFuzzer target: arbitrary bytes into the streaming frame decoder, split
// at a point the input chooses. Decoding must never crash, hang or read out
// of bounds; every decoded frame re-encodes and decodes to the same fields
// (headers included: relayed as the same bytes), and a PUB the broker
// relays by copying its body (encode_relay) decodes as a MSG with the same
// fields and the subscription id.

#include "frame.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

using airssys::bus::detail::ByteBuffer;
using airssys::bus::detail::decode_body;
using airssys::bus::detail::encode_frame;
using airssys::bus::detail::encode_relay;
using airssys::bus::detail::Frame;
using airssys::bus::detail::FrameDecoder;
using airssys::bus::detail::kLengthPrefix;
using airssys::bus::detail::Op;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view all(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = all.empty() ? 0 : data[0] % (all.size() + 1);
  FrameDecoder dec(4096);
  for (const std::string_view part : {all.substr(0, split), all.substr(split)}) {
    dec.feed(part);
    while (true) {
      auto r = dec.next();
      if (!r) return 0;  // the broker closes the connection here
      if (!*r) break;
      ByteBuffer b;
      encode_frame(b, **r);
      auto again = decode_body(b.view().substr(kLengthPrefix));
      if (!again || again->op != (*r)->op || again->subject != (*r)->subject || again->payload != (*r)->payload ||
          again->sid != (*r)->sid || again->text != (*r)->text || again->headers != (*r)->headers)
        std::abort();
      const Frame& f = **r;
      if (!f.relayable) continue;
      const std::uint64_t sid = f.body.size() * 0x9e3779b97f4a7c15ull;  // any value, from the input
      ByteBuffer m;
      encode_relay(m, f.body, sid);
      auto msg = decode_body(m.view().substr(kLengthPrefix));
      if (!msg || msg->op != Op::msg || msg->sid != sid || msg->subject != f.subject || msg->reply_to != f.reply_to ||
          msg->payload != f.payload || msg->correlation_id != f.correlation_id ||
          msg->content_type != f.content_type || msg->headers != f.headers)
        std::abort();
    }
  }
  return 0;
}
