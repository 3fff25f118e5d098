// Security properties over real Unix sockets: reply_to is validated and
// permission-checked, reply inboxes belong to the connection that first
// subscribed to them, STATS hides inboxes from restricted uids, and the socket
// modes follow allowed_gids.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RawConn;
using testing::TempDir;

std::unique_ptr<Broker> start_broker(const TempDir& d, BrokerOptions o = {}) {
  o.socket_path = d.sock();
  auto b = Broker::start(std::move(o));
  EXPECT_TRUE(b) << (b ? "" : b.error().to_string());
  return b ? std::move(*b) : nullptr;
}

detail::Frame pub(std::string_view subject, std::string_view reply_to) {
  detail::Frame f;
  f.op = detail::Op::pub;
  f.subject = subject;
  f.reply_to = reply_to;
  f.payload = "p";
  return f;
}

// The next frame after sending `f` and a PING: an ERR, or the PONG.
std::optional<RawConn::Got> answer(RawConn& c, const detail::Frame& f, std::uint64_t seq) {
  if (!c.send(f) || !c.ping(seq)) return std::nullopt;
  return c.next();
}

TEST(Security, ReplyToIsValidatedAndPermissionChecked) {
  TempDir d;
  BrokerOptions o;
  o.permissions.push_back({::geteuid(), {"svc.>"}, {"svc.>"}});
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  RawConn responder(d.sock()), client(d.sock());
  ASSERT_TRUE(responder.sub(1, "svc.cmd") && responder.ping(1));
  ASSERT_EQ(responder.next()->op, detail::Op::pong);

  auto got = answer(client, pub("svc.cmd", "admin.cmd"), 1);  // not an inbox, not publishable
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_NE(got->text.find("reply_to 'admin.cmd'"), std::string::npos) << got->text;
  EXPECT_TRUE(got->text.starts_with("permission denied")) << got->text;
  EXPECT_EQ(client.next()->op, detail::Op::pong);

  got = answer(client, pub("svc.cmd", "svc.*"), 2);  // wildcard: not a publish subject
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_TRUE(got->text.starts_with("invalid reply_to")) << got->text;
  EXPECT_EQ(client.next()->op, detail::Op::pong);

  for (std::string_view ok : {"_INBOX.abc.1", "svc.answers"}) {
    got = answer(client, pub("svc.cmd", ok), 3);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->op, detail::Op::pong) << ok << ": " << got->text;
  }
  // The responder saw only the two permitted requests.
  for (int i = 0; i < 2; ++i) {
    got = responder.next();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->op, detail::Op::msg);
  }
  ASSERT_TRUE(responder.ping(2));
  got = responder.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::pong);
}

TEST(Security, InvalidReplyToRefusedForUnrestrictedUid) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  RawConn client(d.sock());
  auto got = answer(client, pub("a", "a..b"), 1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_TRUE(got->text.starts_with("invalid reply_to")) << got->text;
  got = answer(client, pub("a", "admin.cmd"), 2);  // no permission entry: any subject
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::pong);
}

}  // namespace
}  // namespace airssys::bus
