// The plain PUB encoder against the general one (encode_pub) over every
// varint length class of subject and payload, appended after other frames,
// and decoded back.

#include "plain_pub.hpp"

#include <gtest/gtest.h>

#include <string>

namespace airssys::bus::detail {
namespace {

std::string general(std::string_view subject, std::string_view payload) {
  const PubFields p{subject, {}, payload, {}, {}, {}};
  ByteBuffer b;
  encode_pub(b, p, pub_body_size(p));
  return std::string(b.view());
}

TEST(PlainPub, SameBytesAsEncodePubForEveryLengthClass) {
  for (std::size_t s : {1u, 7u, 127u, 128u, 300u, 16383u, 16384u}) {
    for (std::size_t n : {0u, 1u, 16u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u}) {
      const std::string subject(s, 's'), payload(n, 'p');
      ByteBuffer b;
      b.append("prefix");  // appends after what is there
      const std::size_t body = plain_pub_body_size(subject, payload);
      EXPECT_EQ(body, pub_body_size({subject, {}, payload, {}, {}, {}})) << s << " " << n;
      encode_plain_pub(b, subject, payload, body);
      ASSERT_EQ(std::string(b.view()), "prefix" + general(subject, payload)) << s << " " << n;
    }
  }
}

TEST(PlainPub, DecodesToItsFields) {
  ByteBuffer b;
  encode_plain_pub(b, "events.x", "data", plain_pub_body_size("events.x", "data"));
  encode_plain_pub(b, "e.y", "", plain_pub_body_size("e.y", ""));
  FrameDecoder d;
  d.feed(b.view());
  Frame f;
  ASSERT_TRUE(d.next(f).value_or(false));
  EXPECT_EQ(f.op, Op::pub);
  EXPECT_EQ(f.subject, "events.x");
  EXPECT_EQ(f.payload, "data");
  EXPECT_TRUE(f.reply_to.empty() && f.headers.empty() && f.relayable);
  ASSERT_TRUE(d.next(f).value_or(false));
  EXPECT_EQ(f.subject, "e.y");
  EXPECT_TRUE(f.payload.empty());
  EXPECT_FALSE(d.next(f).value_or(true));
}

}  // namespace
}  // namespace airssys::bus::detail
