// Security properties over real Unix sockets: reply_to is validated and
// permission-checked, reply inboxes belong to the connection that first
// subscribed to them, STATS hides inboxes from restricted uids, and the socket
// modes follow allowed_gids.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::RawConn;
using testing::TempDir;
using testing::start_broker;
using testing::connect_client;

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

// Every subscription subject in a STATS reply, per connection id.
std::vector<std::pair<std::uint64_t, std::string>> stats_subjects(Client& c) {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  auto s = c.stats();
  EXPECT_TRUE(s) << (s ? "" : s.error().to_string());
  if (!s) return out;
  const auto j = nlohmann::json::parse(*s);
  for (const auto& conn : j["conns"])
    for (const auto& sub : conn["subscriptions"])
      out.emplace_back(conn["id"].get<std::uint64_t>(), sub["subject"].get<std::string>());
  return out;
}

TEST(Security, InboxBelongsToItsFirstSubscriber) {
  TempDir d;
  auto b = start_broker(d);
  auto a = connect_client(d);
  ASSERT_TRUE(b && a);
  ASSERT_EQ(a->request("nobody", "x", 20ms).error().category, ErrorCategory::timeout);  // subscribes its inbox
  std::string inbox;
  for (const auto& [id, subject] : stats_subjects(*a))
    if (subject.starts_with("_INBOX.")) inbox = subject;
  ASSERT_TRUE(inbox.ends_with(".*")) << inbox;
  const std::string prefix = inbox.substr(0, inbox.size() - 2);

  RawConn thief(d.sock());
  std::uint64_t sid = 1;
  for (const std::string& p : {inbox, prefix + ".7", prefix, prefix + ".>"}) {
    ASSERT_TRUE(thief.sub(sid, p) && thief.ping(sid));
    auto got = thief.next();
    ASSERT_TRUE(got);
    EXPECT_EQ(got->op, detail::Op::err) << p;
    EXPECT_EQ(got->sid, sid);
    EXPECT_NE(got->text.find("belongs to another connection"), std::string::npos) << got->text;
    EXPECT_EQ(thief.next()->op, detail::Op::pong);
    ++sid;
  }
  // The owner's own requests still work, and once it is gone the prefix is free.
  auto responder = connect_client(d);
  ASSERT_TRUE(responder);
  auto s = responder->subscribe("svc", [&](const MessageView& m) { (void)responder->publish(m.reply_to, "ok"); });
  ASSERT_TRUE(s && responder->flush());
  auto rep = a->request("svc", "x", 5s);
  ASSERT_TRUE(rep) << rep.error().to_string();
  EXPECT_EQ(rep->payload, "ok");
  a.reset();
  EXPECT_TRUE(eventually([&] {
    ++sid;
    if (!thief.sub(sid, inbox) || !thief.ping(sid)) return false;
    auto got = thief.next();
    if (got && got->op == detail::Op::err) (void)thief.next();  // its PONG
    return got && got->op == detail::Op::pong;
  }));
}

TEST(Security, StatsHidesOtherInboxesFromRestrictedUids) {
  TempDir d;
  BrokerOptions o;
  o.permissions.push_back({::geteuid(), {"svc.>"}, {"svc.>"}});
  auto b = start_broker(d, o);
  auto a = connect_client(d);
  auto viewer = connect_client(d);
  ASSERT_TRUE(b && a && viewer);
  ASSERT_EQ(a->request("svc.none", "x", 20ms).error().category, ErrorCategory::timeout);
  auto plain = a->subscribe("svc.x", [](const MessageView&) {});
  ASSERT_TRUE(plain && a->flush());
  auto seen = stats_subjects(*viewer);
  ASSERT_EQ(seen.size(), 1u);  // a's svc.x, not a's inbox
  EXPECT_EQ(seen[0].second, "svc.x");
  // Its own inbox it does see.
  ASSERT_EQ(viewer->request("svc.none", "x", 20ms).error().category, ErrorCategory::timeout);
  seen = stats_subjects(*viewer);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[1].second.starts_with("_INBOX.")) << seen[1].second;
}

// Connects as uid/gid 65534 with `groups` as its supplementary groups, sends
// PING; the exit status says how far it got: 0 PONG, 11 connect refused by
// the filesystem, 13 no PONG (the broker refused), 10 setup failed.
int connect_as_nobody(const std::filesystem::path& sock, const std::vector<gid_t>& groups) {
  detail::ByteBuffer ping;
  detail::Frame f;
  f.op = detail::Op::ping;
  detail::encode_frame(ping, f);
  // Prepared before fork(): the child of a threaded process may only make
  // async-signal-safe calls.
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, sock.c_str(), sock.native().size() + 1);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgroups(groups.size(), groups.data()) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
        ::setresuid(65534, 65534, 65534) != 0)
      ::_exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(11);
    (void)::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL);  // a refusing broker may have closed already
    unsigned char buf[512];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    // A PONG body is `08 06` (op 6) after the 4-byte length.
    ::_exit(n >= 6 && buf[4] == 0x08 && buf[5] == 0x06 ? 0 : 13);
  }
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

TEST(Security, AllowedGroupCanReachTheSocket) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid";
  TempDir d;
  ASSERT_EQ(::chmod(d.path().c_str(), 0711), 0);  // let nobody traverse to run/
  constexpr gid_t kGroup = 4242;
  BrokerOptions o;
  o.allowed_uids = {::geteuid()};
  o.allowed_gids = {kGroup};
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  struct stat st {};
  ASSERT_EQ(::stat(d.sock().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0770u);
  EXPECT_EQ(st.st_gid, kGroup);
  ASSERT_EQ(::stat(d.sock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
  EXPECT_EQ(st.st_gid, kGroup);
  EXPECT_EQ(connect_as_nobody(d.sock(), {kGroup}), 0);        // supplementary member: admitted
  EXPECT_EQ(connect_as_nobody(d.sock(), {kGroup + 1}), 11);  // not a member: the filesystem says no
}

TEST(Security, WithoutGroupsTheSocketStaysPrivate) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid";
  TempDir d;
  ASSERT_EQ(::chmod(d.path().c_str(), 0711), 0);
  BrokerOptions o;
  o.allowed_uids = {::geteuid(), 65534};  // admitted by uid, but cannot reach the 0600 socket in 0700
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  struct stat st {};
  ASSERT_EQ(::stat(d.sock().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(connect_as_nobody(d.sock(), {}), 11);
}

}  // namespace
}  // namespace airssys::bus
