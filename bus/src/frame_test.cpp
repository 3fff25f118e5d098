// Frame codec: byte-for-byte agreement with protoc's generated code for
// bus/proto/bus.proto, streaming over every split, and refusal of oversized,
// truncated and malformed input.

#include "frame.hpp"

#include "bus.pb.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace airssys::bus::detail {
namespace {

const Header kHeaders[] = {{"trace", "00-abc-01"}, {"X-Empty", ""}, {"trace", "second"}};

Frame sample() {
  Frame f;
  f.op = Op::msg;
  f.subject = "events.process.start";
  f.reply_to = "_INBOX.abc.7";
  f.payload = std::string_view("\0\x01payload", 9);
  f.sid = 300;
  f.queue = "workers";
  f.correlation_id = "c-1";
  f.content_type = "application/json";
  f.policy = 2;
  f.max_msgs = 1000;
  f.max_bytes = 1ull << 40;
  f.text = "hello";
  f.header_list = kHeaders;
  return f;
}

std::string encoded(const Frame& f) {
  ByteBuffer b;
  encode_frame(b, f);
  return std::string(b.view());
}

TEST(Frame, MatchesProtoc) {
  const Frame f = sample();
  wire::Frame p;
  p.set_op(wire::MSG);
  p.set_subject(std::string(f.subject));
  p.set_reply_to(std::string(f.reply_to));
  p.set_payload(std::string(f.payload));
  p.set_sid(f.sid);
  p.set_queue(std::string(f.queue));
  p.set_correlation_id(std::string(f.correlation_id));
  p.set_content_type(std::string(f.content_type));
  p.set_policy(wire::DISCONNECT);
  p.set_max_msgs(f.max_msgs);
  p.set_max_bytes(f.max_bytes);
  p.set_text(std::string(f.text));
  for (const Header& h : kHeaders) {
    auto* ph = p.add_headers();
    ph->set_name(std::string(h.name));
    ph->set_value(std::string(h.value));
  }
  const std::string mine = encoded(f);
  ASSERT_EQ(mine.size(), 4 + p.ByteSizeLong());
  EXPECT_EQ(mine.substr(4), p.SerializeAsString());
  EXPECT_EQ(static_cast<unsigned char>(mine[0]), p.ByteSizeLong() & 0xff);

  // And protoc-encoded bytes (with an unknown field appended) decode here.
  std::string body = p.SerializeAsString();
  body += std::string("\xa8\x06\x05", 3);  // field 101, varint 5: unknown, skipped
  auto d = decode_body(body);
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->op, Op::msg);
  EXPECT_EQ(d->subject, f.subject);
  EXPECT_EQ(d->payload, f.payload);
  EXPECT_EQ(d->sid, 300u);
  EXPECT_EQ(d->max_bytes, f.max_bytes);
  EXPECT_EQ(d->policy, 2u);
  EXPECT_EQ(d->text, "hello");
  // Headers come back in order, and re-encode (relayed) to the same bytes.
  std::vector<std::pair<std::string, std::string>> got;
  for (const Header& h : Headers(d->headers)) got.emplace_back(h.name, h.value);
  const std::vector<std::pair<std::string, std::string>> want{
      {"trace", "00-abc-01"}, {"X-Empty", ""}, {"trace", "second"}};
  EXPECT_EQ(got, want);
  EXPECT_EQ(Headers(d->headers).get("trace"), "00-abc-01");
  EXPECT_EQ(Headers(d->headers).size(), 3u);
  Frame relay = *d;
  relay.header_list = {};
  ByteBuffer again;
  encode_frame(again, relay);
  wire::Frame back;
  ASSERT_TRUE(back.ParseFromArray(again.data() + 4, static_cast<int>(again.size() - 4)));
  ASSERT_EQ(back.headers_size(), 3);
  EXPECT_EQ(back.headers(2).value(), "second");
}

// A PUB as clients send it (op, subject, reply_to, payload) decodes to
// protoc's fields, relayable, with every payload length in one, two and
// three varint bytes and with extra fields after it (the general decoder).
TEST(Frame, PlainPubsDecodeAsProtocEncodesThem) {
  for (const std::size_t n : {0, 1, 16, 127, 128, 300, 16383, 16384, 70000}) {
    for (const bool with_reply : {false, true}) {
      for (const bool with_extra : {false, true}) {
        wire::Frame p;
        p.set_op(wire::PUB);
        p.set_subject("bench.x");
        if (with_reply) p.set_reply_to("_INBOX.0123.7");
        p.set_payload(std::string(n, 'p'));
        if (with_extra) p.set_content_type("text/plain");
        const std::string body = p.SerializeAsString();
        auto d = decode_body(body);
        ASSERT_TRUE(d) << n << " " << with_reply << " " << d.error().to_string();
        EXPECT_EQ(d->op, Op::pub);
        EXPECT_EQ(d->subject, "bench.x");
        EXPECT_EQ(d->reply_to, with_reply ? "_INBOX.0123.7" : "");
        EXPECT_EQ(d->payload, std::string(n, 'p'));
        EXPECT_EQ(d->content_type, with_extra ? "text/plain" : "");
        EXPECT_EQ(d->sid, 0u);
        EXPECT_TRUE(d->headers.empty());
        EXPECT_TRUE(d->relayable);
        EXPECT_EQ(d->body, body);
      }
    }
  }
  // The same fields out of order, or repeated, are not the plain shape:
  // decoded by the general loop, the last value wins and a repeat is not relayed.
  auto swapped = decode_body("\x08\x01\x22\x01" "p" "\x12\x01" "s");
  ASSERT_TRUE(swapped);
  EXPECT_EQ(swapped->subject, "s");
  EXPECT_EQ(swapped->payload, "p");
  auto twice = decode_body("\x08\x01\x12\x01" "s" "\x12\x01" "t");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->subject, "t");
  EXPECT_FALSE(twice->relayable);
}

TEST(Frame, OldFramesHaveNoHeaders) {
  // A frame from before headers (fields 1-12 only) decodes with none.
  Frame f = sample();
  f.header_list = {};
  auto d = decode_body(encoded(f).substr(4));
  ASSERT_TRUE(d);
  EXPECT_TRUE(Headers(d->headers).empty());
  EXPECT_EQ(Headers(d->headers).begin(), Headers(d->headers).end());
}

TEST(Frame, StreamsOverEverySplit) {
  const std::string a = encoded(sample());
  Frame small;
  small.op = Op::ping;
  small.sid = 1;
  const std::string stream = a + encoded(small) + a;
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    FrameDecoder dec;
    int frames = 0;
    for (const std::string_view part : {std::string_view(stream).substr(0, split), std::string_view(stream).substr(split)}) {
      dec.feed(part);
      while (true) {
        auto r = dec.next();
        ASSERT_TRUE(r) << r.error().to_string();
        if (!*r) break;
        ++frames;
      }
    }
    EXPECT_EQ(frames, 3) << split;
    EXPECT_EQ(dec.buffered(), 0u);
  }
}

TEST(Frame, OneByteAtATime) {
  const std::string a = encoded(sample());
  FrameDecoder dec;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto r = dec.next();
    ASSERT_TRUE(r);
    EXPECT_FALSE(*r);
    dec.feed(a.substr(i, 1));
  }
  auto r = dec.next();
  ASSERT_TRUE(r && *r);
  EXPECT_EQ((*r)->subject, "events.process.start");
}

TEST(Frame, RefusesOversized) {
  FrameDecoder dec(100);
  dec.feed(std::string("\x65\x00\x00\x00", 4));  // 101
  auto r = dec.next();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::frame_too_large);
  FrameDecoder huge;
  huge.feed(std::string("\xff\xff\xff\xff", 4));
  ASSERT_FALSE(huge.next());
}

TEST(Frame, RefusesMalformed) {
  const std::string cases[] = {
      "",                            // no op
      std::string("\x08\x00", 2),    // op 0
      "\x08\x09",                    // op 9 unknown
      "\x08",                        // truncated varint
      "\x08\x01\x12\x05" "ab",       // subject longer than frame
      "\x08\x01\x0b",                // group start (wire type 3)
      "\x08\x01\x10\x01",            // subject (field 2) as varint
      "\x0a\x01x",                   // op as length-delimited
      "\x08\x01\x48\x07",            // policy 7
      "\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f",  // varint over 64 bits
      std::string("\x00\x01", 2),    // field 0
      "\x08\x01\x21\x01",            // truncated fixed64
      std::string("\x08\x81\x00", 3),                          // op 1 in two bytes (not shortest)
      std::string("\x88\x00\x01", 3),                          // tag in two bytes
      std::string("\x08\x01\x22\x80\x00", 5),                  // length 0 in two bytes
      "\x08\x01\x28\xff\xff\xff\xff\xff\xff\xff\xff\xff\x81\x01",  // 11-byte varint
      std::string("\x08\x01\x80\x80\x80\x80\x10\x00", 8),      // field 2^29 (tag 2^32)
      std::string("\x08\x01\xf8\xff\xff\xff\xff\x01\x00", 9),  // tag above 32 bits
      "\x6a\x03\x0a\x01" "a" "\x08\x01\x6a\x03\x0a\x01" "b",  // headers not consecutive
      "\x08\x01\x6a\x03\x0a\x01:",                               // ':' in a header name
      "\x08\x01\x6a\x00",                                         // header without a name
      "\x08\x01\x6a\x05\x0a\x01" "a" "\x18\x01",                // header field 3
      "\x08\x01\x68\x01",                                         // header as a varint
      "\x08\x01\x6a\x06\x0a\x01" "a" "\x12\x01\n",             // LF in a value
      // The plain-PUB shape the broker decodes without the general loop:
      std::string("\x08\x01\x12\x01" "a" "\x22\x80\x00", 8),  // payload length 0 in two bytes
      "\x08\x01\x12\x01" "a" "\x22\x05" "ab",                  // payload longer than frame
      "\x08\x01\x12\x01" "a" "\x1a\x09" "_INBOX",              // reply_to longer than frame
      "\x08\x01\x12\x01" "a" "\x22\x01" "p" "\x2a",             // truncated field after the payload
      std::string("\x08\x01\x12\x01" "a" "\x22\x81\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 17),  // 11-byte length
  };
  for (const std::string& body : cases) {
    auto r = decode_body(body);
    ASSERT_FALSE(r) << testing::PrintToString(body);
    EXPECT_EQ(r.error().category, ErrorCategory::malformed_frame);
    FrameDecoder dec;
    const auto n = static_cast<char>(body.size());
    dec.feed(std::string({n, 0, 0, 0}) + body);
    EXPECT_FALSE(dec.next());
  }
}

TEST(Frame, AcceptsTheLargestFieldNumberAsUnknown) {
  // Field 2^29-1, varint: tag 0xfffffff8 in five bytes, then value 7.
  const std::string body("\x08\x05\xf8\xff\xff\xff\x0f\x07", 8);
  auto r = decode_body(body);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->op, Op::ping);
  // protoc's parser draws the line at the same place.
  wire::Frame p;
  EXPECT_TRUE(p.ParseFromString(body));
  EXPECT_FALSE(p.ParseFromString(std::string("\x08\x01\x80\x80\x80\x80\x10\x00", 8)));
}

// A client's PUB, as encode_pub writes it.
std::string pub_bytes(const PubFields& p) {
  ByteBuffer b;
  encode_pub(b, p, pub_body_size(p));
  return std::string(b.view());
}

TEST(Frame, EncodePubWritesWhatEncodeFrameWrites) {
  const PubFields p{"events.x", "_INBOX.ab.1", "data", "c-9", "text/plain", kHeaders};
  Frame f;
  f.op = Op::pub;
  f.subject = p.subject;
  f.reply_to = p.reply_to;
  f.payload = p.payload;
  f.correlation_id = p.correlation_id;
  f.content_type = p.content_type;
  f.header_list = p.headers;
  EXPECT_EQ(pub_bytes(p), encoded(f));
  EXPECT_EQ(pub_body_size(p) + kRelaySidMax, relayed_body_size(f));
  EXPECT_EQ(pub_bytes({"a", {}, {}, {}, {}, {}}), std::string("\x05\x00\x00\x00\x08\x01\x12\x01" "a", 9));
}

TEST(Frame, RelayCopiesThePubBodyAndAppendsTheSid) {
  const std::string pub = pub_bytes({"events.x", "_INBOX.ab.1", std::string_view("\0pay", 4), "c-9", "json", kHeaders});
  const std::string body = pub.substr(4);  // f's views point into it
  Frame f;
  ASSERT_TRUE(decode_body(body, f));
  ASSERT_TRUE(f.relayable);
  for (const std::uint64_t sid : {1ull, 127ull, 128ull, 300ull, ~0ull}) {
    ByteBuffer b;
    encode_relay(b, f.body, sid);
    ASSERT_EQ(b.size(), relay_frame_size(f.body, sid));
    ASSERT_LE(b.size() - 4, f.body.size() + kRelaySidMax);
    Frame m;
    ASSERT_TRUE(decode_body(b.view().substr(4), m));
    EXPECT_EQ(m.op, Op::msg);
    EXPECT_EQ(m.sid, sid);
    EXPECT_EQ(m.subject, "events.x");
    EXPECT_EQ(m.reply_to, "_INBOX.ab.1");
    EXPECT_EQ(m.payload, std::string_view("\0pay", 4));
    EXPECT_EQ(m.correlation_id, "c-9");
    EXPECT_EQ(m.content_type, "json");
    EXPECT_EQ(m.headers, f.headers);  // the same bytes
    EXPECT_FALSE(m.relayable);        // a MSG is not relayed again
    // protoc reads the relayed MSG the same way (the sid after the headers).
    wire::Frame back;
    ASSERT_TRUE(back.ParseFromArray(b.data() + 4, static_cast<int>(b.size() - 4)));
    EXPECT_EQ(back.op(), wire::MSG);
    EXPECT_EQ(back.sid(), sid);
    EXPECT_EQ(back.subject(), "events.x");
    ASSERT_EQ(back.headers_size(), 3);
    EXPECT_EQ(back.headers(2).value(), "second");
  }
}

TEST(Frame, OnlyAPlainPubIsRelayedAsItsBytes) {
  using namespace std::string_literals;
  // Each decodes, but a copy of its body would not be the MSG the broker
  // means to send: it is re-encoded instead.
  const std::vector<std::string> cases = {
      "\x12\x01" "a" "\x08\x01"s,          // op not first
      "\x08\x01\x12\x01" "a" "\x08\x01"s,  // op twice
      "\x08\x01\x12\x01" "a" "\x28\x07"s,  // a sid
      "\x08\x01\x12\x01" "a" "\x32\x01q"s,  // a queue
      "\x08\x01\x12\x01" "a" "\x62\x01t"s,  // text
      "\x08\x01\x12\x01" "a" "\xa8\x06\x05"s,  // an unknown field
      "\x08\x01\x12\x01" "a" "\x12\x01" "b"s,  // the subject twice
      "\x08\x05"s,                          // not a PUB
  };
  for (const std::string& body : cases) {
    Frame f;
    ASSERT_TRUE(decode_body(body, f)) << testing::PrintToString(body);
    EXPECT_FALSE(f.relayable) << testing::PrintToString(body);
  }
  Frame plain;
  ASSERT_TRUE(decode_body("\x08\x01\x12\x01" "a" "\x22\x00"s, plain));  // an empty payload written out
  EXPECT_TRUE(plain.relayable);
}

}  // namespace
}  // namespace airssys::bus::detail
