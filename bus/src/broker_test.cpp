// Broker + client over real Unix sockets: pub/sub with wildcards, queue
// groups, request/reply and its timeout, headers, permissions, peer
// credentials, socket directory checks, stats.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <cstring>
#include <map>
#include <set>
#include <mutex>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::TempDir;
using testing::start_broker;
using testing::connect_client;

TEST(Broker, SocketAndDirectoryModes) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  struct stat st {};
  ASSERT_EQ(::stat(d.sock().parent_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(::stat(d.sock().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // A second broker on the same live socket is refused.
  BrokerOptions o;
  o.socket_path = d.sock();
  auto again = Broker::start(o);
  ASSERT_FALSE(again);
  EXPECT_NE(again.error().message.find("already listening"), std::string::npos);
  b.reset();
  EXPECT_FALSE(std::filesystem::exists(d.sock()));
}

TEST(Broker, RefusesOpenDirectory) {
  TempDir d;
  const auto dir = d.path() / "open";
  std::filesystem::create_directory(dir);
  ::chmod(dir.c_str(), 0755);
  BrokerOptions o;
  o.socket_path = dir / "bus.sock";
  auto b = Broker::start(o);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().message.find("0755"), std::string::npos) << b.error().message;
}

// The check alone (for a caller that puts files beside the socket): the
// same refusal as start() gives, and nothing created or changed.
TEST(Broker, CheckDirectoryRefusesAsStartDoesAndCreatesNothing) {
  TempDir d;
  const auto dir = d.path() / "open";
  std::filesystem::create_directory(dir);
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  BrokerOptions o;
  o.socket_path = dir / "bus.sock";
  auto checked = Broker::check_directory(o);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().category, ErrorCategory::unsafe_directory);
  auto started = Broker::start(o);
  ASSERT_FALSE(started);
  EXPECT_EQ(checked.error().to_string(), started.error().to_string());
  struct stat st {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  // Closed to others: passes. Missing: passes (start creates it), and the
  // check does not create it.
  ASSERT_EQ(::chmod(dir.c_str(), 0700), 0);
  EXPECT_TRUE(Broker::check_directory(o));
  o.socket_path = d.path() / "missing" / "bus.sock";
  EXPECT_TRUE(Broker::check_directory(o));
  EXPECT_FALSE(std::filesystem::exists(d.path() / "missing"));
}

// The check refuses `o` with `err`, start() refuses it with the same error.
void expect_refused_as_start_refuses(const BrokerOptions& o, int err) {
  auto checked = Broker::check_directory(o);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().errno_value, err) << checked.error().to_string();
  auto started = Broker::start(o);
  ASSERT_FALSE(started);
  EXPECT_EQ(checked.error().to_string(), started.error().to_string());
}

// start() makes one non-recursive mkdir: a missing directory under a
// missing parent, or under a file, fails the check as it fails start, with
// the same error, and the check creates nothing. So does an empty path.
TEST(Broker, CheckDirectoryRefusesWhatStartCannotCreate) {
  TempDir d;
  BrokerOptions o;
  o.socket_path = d.path() / "no-parent" / "dir" / "bus.sock";
  expect_refused_as_start_refuses(o, ENOENT);
  EXPECT_FALSE(std::filesystem::exists(d.path() / "no-parent"));

  { std::ofstream(d.path() / "file") << "x"; }
  o.socket_path = d.path() / "file" / "dir" / "bus.sock";
  expect_refused_as_start_refuses(o, ENOTDIR);

  o.socket_path.clear();
  auto checked = Broker::check_directory(o);
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().to_string(), Broker::start(o).error().to_string());
  EXPECT_EQ(checked.error().category, ErrorCategory::invalid_argument);
}

// A parent we may not write: mkdir would fail with EACCES, so the check
// does. As root (who may write anything) the check runs in a child that
// has become uid 65534, owner of the read-only parent.
TEST(Broker, CheckDirectoryRefusesAParentItCannotWrite) {
  TempDir d;
  const auto parent = d.path() / "ro";
  std::filesystem::create_directory(parent);
  ASSERT_EQ(::chmod(parent.c_str(), 0500), 0);
  BrokerOptions o;
  o.socket_path = parent / "dir" / "bus.sock";
  // 0: refused as start refuses, with EACCES; else which step failed.
  auto check = [&]() -> int {
    auto checked = Broker::check_directory(o);
    if (checked || checked.error().errno_value != EACCES) return 1;
    auto started = Broker::start(o);
    if (started || checked.error().to_string() != started.error().to_string()) return 2;
    return std::filesystem::exists(parent / "dir") ? 3 : 0;
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), 0);
  } else {
    ASSERT_EQ(::chmod(d.path().c_str(), 0711), 0);
    ASSERT_EQ(::chown(parent.c_str(), 65534, 65534), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setresuid(65534, 65534, 65534) != 0) ::_exit(10);
      ::_exit(check());
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  ::chmod(parent.c_str(), 0700);
}

TEST(Broker, PubSubWithWildcards) {
  TempDir d;
  auto b = start_broker(d);
  auto sub = connect_client(d);
  auto pub = connect_client(d);
  ASSERT_TRUE(b && sub && pub);
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> got;
  auto rec = [&](std::string name) {
    return [&, name](const MessageView& m) {
      std::lock_guard lk(mu);
      got[name].push_back(std::string(m.subject) + "=" + std::string(m.payload));
    };
  };
  auto s1 = sub->subscribe("a.>", rec("gt"));
  auto s2 = sub->subscribe("a.*", rec("star"));
  auto s3 = sub->subscribe("a", rec("lit"));
  ASSERT_TRUE(s1 && s2 && s3);
  ASSERT_TRUE(sub->flush());
  for (const char* s : {"a", "a.b", "a.b.c", "b.a"}) ASSERT_TRUE(pub->publish(s, "x"));
  ASSERT_TRUE(pub->flush());
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return got["gt"].size() == 2 && got["star"].size() == 1 && got["lit"].size() == 1;
  }));
  std::this_thread::sleep_for(50ms);  // nothing else arrives
  std::lock_guard lk(mu);
  EXPECT_EQ(got["gt"], (std::vector<std::string>{"a.b=x", "a.b.c=x"}));
  EXPECT_EQ(got["star"], (std::vector<std::string>{"a.b=x"}));
  EXPECT_EQ(got["lit"], (std::vector<std::string>{"a=x"}));
}

TEST(Broker, InvalidSubjectsRefusedByClient) {
  TempDir d;
  auto b = start_broker(d);
  auto c = connect_client(d);
  ASSERT_TRUE(b && c);
  EXPECT_EQ(c->publish("a.*", "x").error().category, ErrorCategory::invalid_subject);
  EXPECT_EQ(c->publish("a..b", "x").error().category, ErrorCategory::invalid_subject);
  // On a thread that never published (its remembered valid subject is
  // empty): still refused here, not first by the broker.
  std::thread([&] { EXPECT_EQ(c->publish("", "x").error().category, ErrorCategory::invalid_subject); }).join();
  EXPECT_EQ(c->subscribe("a.>.b", [](const MessageView&) {}).error().category, ErrorCategory::invalid_subject);
  EXPECT_EQ(c->publish("big", std::string(2 << 20, 'x')).error().category, ErrorCategory::frame_too_large);
}

TEST(Broker, InvalidSubjectRefusedByBroker) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  testing::RawConn raw(d.sock());
  detail::Frame f;
  f.op = detail::Op::pub;
  f.subject = "a.*";
  ASSERT_TRUE(raw.send(f));
  auto got = raw.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_NE(got->text.find("wildcard"), std::string::npos) << got->text;
  ASSERT_TRUE(raw.ping(9));  // the connection stays open
  got = raw.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::pong);
  EXPECT_EQ(got->sid, 9u);
}

TEST(Broker, QueueGroupDeliversEachMessageToOneMember) {
  TempDir d;
  auto b = start_broker(d);
  auto pub = connect_client(d);
  ASSERT_TRUE(b && pub);
  std::vector<std::unique_ptr<Client>> members;
  std::vector<Subscription> subs;
  std::atomic<int> counts[3] = {0, 0, 0};
  std::atomic<int> plain{0};
  for (int i = 0; i < 3; ++i) {
    members.push_back(connect_client(d));
    SubscribeOptions o;
    o.queue = "workers";
    auto s = members.back()->subscribe("jobs.*", [&counts, i](const MessageView&) { ++counts[i]; }, o);
    ASSERT_TRUE(s);
    subs.push_back(std::move(*s));
    ASSERT_TRUE(members.back()->flush());
  }
  auto ps = pub->subscribe("jobs.*", [&](const MessageView&) { ++plain; });
  ASSERT_TRUE(ps && pub->flush());
  constexpr int kN = 3000;
  for (int i = 0; i < kN; ++i) ASSERT_TRUE(pub->publish("jobs.x", std::to_string(i)));
  ASSERT_TRUE(pub->flush());
  ASSERT_TRUE(eventually([&] { return counts[0] + counts[1] + counts[2] == kN && plain == kN; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(counts[0] + counts[1] + counts[2], kN);  // exactly once across the group
  for (auto& c : counts) EXPECT_GT(c.load(), 0);
}

// Reply subjects (_INBOX.<tok>.<n>) are routed without the broker's route
// cache, matched afresh per message: a plain subscription and a queue group
// under the inbox both get every reply (the group once) over more distinct
// subjects than the cache holds, a message on a cached subject in between
// still arrives, and after an unsubscribe the next reply goes only where the
// subscriptions now say.
TEST(Broker, RepliesToManyInboxSubjectsReachEverySubscription) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  testing::RawConn owner(d.sock()), other(d.sock()), pub(d.sock());
  ASSERT_TRUE(owner.fd && other.fd && pub.fd);
  const auto sub = [](testing::RawConn& c, std::uint64_t sid, std::string_view subject, std::string_view queue) {
    detail::Frame f;
    f.op = detail::Op::sub;
    f.sid = sid;
    f.subject = subject;
    f.queue = queue;
    return c.send(f);
  };
  const auto publish = [&](std::string_view subject, std::string_view payload) {
    detail::Frame f;
    f.op = detail::Op::pub;
    f.subject = subject;
    f.payload = payload;
    return pub.send(f);
  };
  const auto synced = [](testing::RawConn& c, std::uint64_t seq) {
    if (!c.ping(seq)) return false;
    auto got = c.next();
    return got && got->op == detail::Op::pong && got->sid == seq;
  };
  ASSERT_TRUE(sub(owner, 1, "_INBOX.tok.*", ""));
  ASSERT_TRUE(sub(owner, 2, "_INBOX.tok.>", "q"));
  ASSERT_TRUE(sub(owner, 3, "_INBOX.tok.>", "q"));
  ASSERT_TRUE(sub(other, 7, "svc.x", ""));
  ASSERT_TRUE(synced(owner, 100) && synced(other, 101));
  constexpr int kN = 9000;  // more than the route cache holds (kRouteCacheMax)
  int group[2] = {0, 0};
  for (int i = 0; i < kN; ++i) {
    const std::string subject = "_INBOX.tok." + std::to_string(i);
    ASSERT_TRUE(publish(subject, std::to_string(i)));
    std::set<std::uint64_t> sids;
    for (int k = 0; k < 2; ++k) {
      auto got = owner.next();
      ASSERT_TRUE(got) << "reply " << i;
      ASSERT_EQ(got->op, detail::Op::msg);
      EXPECT_EQ(got->subject, subject);
      EXPECT_EQ(got->payload, std::to_string(i));
      sids.insert(got->sid);
    }
    ASSERT_TRUE(sids.contains(1)) << "reply " << i;
    ASSERT_TRUE(sids.contains(2) != sids.contains(3)) << "reply " << i;  // one group member
    ++group[sids.contains(2) ? 0 : 1];
    if (i % 1000 == 0) {
      ASSERT_TRUE(publish("svc.x", "cached " + std::to_string(i)));
      auto got = other.next();
      ASSERT_TRUE(got);
      EXPECT_EQ(got->sid, 7u);
      EXPECT_EQ(got->payload, "cached " + std::to_string(i));
    }
  }
  EXPECT_GT(group[0], 0);
  EXPECT_GT(group[1], 0);
  detail::Frame unsub;
  unsub.op = detail::Op::unsub;
  unsub.sid = 1;
  ASSERT_TRUE(owner.send(unsub) && synced(owner, 102));
  ASSERT_TRUE(publish("_INBOX.tok.last", "last"));
  auto got = owner.next();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->sid == 2 || got->sid == 3) << got->sid;
  EXPECT_EQ(got->payload, "last");
  ASSERT_TRUE(synced(owner, 103));  // and nothing for sid 1 before the PONG
}

TEST(Broker, RequestReplyWithHeadersAndTimeout) {
  TempDir d;
  auto b = start_broker(d);
  auto responder = connect_client(d);
  auto requester = connect_client(d);
  ASSERT_TRUE(b && responder && requester);
  Client* r = responder.get();
  auto s = responder->subscribe("svc.echo", [r](const MessageView& m) {
    PublishOptions po;
    po.correlation_id = m.correlation_id;
    po.content_type = "text/plain";
    (void)r->publish(m.reply_to, "echo:" + std::string(m.payload), po);
  });
  ASSERT_TRUE(s && responder->flush());
  for (int i = 0; i < 20; ++i) {
    PublishOptions po;
    const std::string cid = "cid-" + std::to_string(i);
    po.correlation_id = cid;
    auto rep = requester->request("svc.echo", "hi" + std::to_string(i), 10s, po);
    ASSERT_TRUE(rep) << rep.error().to_string();
    EXPECT_EQ(rep->payload, "echo:hi" + std::to_string(i));
    EXPECT_EQ(rep->correlation_id, cid);
    EXPECT_EQ(rep->content_type, "text/plain");
  }
  const auto t0 = std::chrono::steady_clock::now();
  auto none = requester->request("svc.nobody", "x", 200ms);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().category, ErrorCategory::timeout);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 200ms);
}

// A publish on an idle client is written at once, not after the flusher's
// delay: with a delay far longer than the wait below, the message arrives
// only if the publishing thread wrote it itself. The delay is also longer
// than the machine has been up: a client that has written nothing yet is
// idle however recently the machine booted (the last write was taken to be
// at the clock's epoch, boot, so on a machine up for less than the delay
// the publish went to the flusher). Destroying the client returns though
// its flusher may be waiting out that delay (it did not, when the flusher
// saw the publish's bytes before the publisher wrote them: 2 minutes, past
// ctest's timeout; flusher_test.cpp reproduces that), and is bounded here.
TEST(Broker, IdleClientWritesALonePublishAtOnce) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  auto sub = connect_client(d);
  ASSERT_TRUE(sub);
  std::atomic<int> got{0};
  auto s = sub->subscribe("lone", [&](const MessageView&) { ++got; });
  ASSERT_TRUE(s && sub->flush());
  ClientOptions o;
  o.socket_path = d.sock();
  o.flush_delay = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::years(1));
  auto connected = Client::connect(std::move(o));
  ASSERT_TRUE(connected) << connected.error().to_string();
  std::shared_ptr<Client> pub(connected->release(), testing::BoundedDelete{});
  ASSERT_TRUE(pub->publish("lone", "x"));
  EXPECT_TRUE(eventually([&] { return got == 1; }, 30s)) << "the publish waited for the flusher";
  pub.reset();  // fails the test (BoundedDelete) if it waits for the flusher
}

// Any number of user headers reach subscribers in order, through a push and
// a pull subscription; a bad header name is refused before sending.
TEST(Broker, HeadersArriveInOrder) {
  TempDir d;
  auto b = start_broker(d);
  auto sub = connect_client(d);
  auto pub = connect_client(d);
  ASSERT_TRUE(b && sub && pub);
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> pushed;
  auto s = sub->subscribe("h.x", [&](const MessageView& m) {
    std::lock_guard lk(mu);
    for (const Header& h : m.headers) pushed.emplace_back(h.name, h.value);
  });
  auto pull = sub->subscribe_pull("h.x");
  ASSERT_TRUE(s && pull && sub->flush());

  std::vector<std::string> values;
  for (int i = 0; i < 100; ++i) values.push_back("v" + std::to_string(i));
  std::vector<Header> hs;
  for (int i = 0; i < 100; ++i) hs.push_back({i % 2 == 0 ? "Even" : "Odd", values[static_cast<std::size_t>(i)]});
  PublishOptions po;
  po.headers = hs;
  po.correlation_id = "c-9";
  ASSERT_TRUE(pub->publish("h.x", "body", po));
  ASSERT_TRUE(pub->flush());
  auto m = pull->next(20s);
  ASSERT_TRUE(m);
  ASSERT_EQ(m->headers.size(), 100u);
  for (std::size_t i = 0; i < 100; ++i) {
    EXPECT_EQ(m->headers[i].first, i % 2 == 0 ? "Even" : "Odd");
    EXPECT_EQ(m->headers[i].second, values[i]);
  }
  EXPECT_EQ(m->correlation_id, "c-9");
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lk(mu);
    return pushed.size() == 100;
  }));
  EXPECT_EQ(pushed.front(), (std::pair<std::string, std::string>{"Even", "v0"}));
  EXPECT_EQ(pushed.back(), (std::pair<std::string, std::string>{"Odd", "v99"}));

  const Header bad[] = {{"has space", "x"}};
  po.headers = bad;
  auto r = pub->publish("h.x", "body", po);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::invalid_argument);
  const Header crlf[] = {{"ok", "a\r\nInjected: 1"}};
  po.headers = crlf;
  EXPECT_FALSE(pub->publish("h.x", "body", po));
}

TEST(Broker, PermissionsPerUid) {
  TempDir d;
  BrokerOptions o;
  o.permissions.push_back({::geteuid(), {"allowed.>"}, {"allowed.*", "svc.>"}});
  auto b = start_broker(d, o);
  auto c = connect_client(d);
  ASSERT_TRUE(b && c);
  ASSERT_TRUE(c->publish("allowed.x", "1"));
  ASSERT_TRUE(c->flush());
  ASSERT_TRUE(c->publish("denied.x", "1"));
  auto f = c->flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().category, ErrorCategory::permission_denied);
  EXPECT_NE(f.error().message.find("denied.x"), std::string::npos);
  auto s = c->subscribe("allowed.>", [](const MessageView&) {});  // not covered by allowed.*
  ASSERT_TRUE(s);
  f = c->flush();
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().category, ErrorCategory::permission_denied);
  // A restricted uid can still do request/reply through its own inbox.
  auto responder = c->subscribe("svc.x", [&](const MessageView& m) { (void)c->publish(m.reply_to, "ok"); });
  ASSERT_TRUE(responder && c->flush());
  auto rep = c->request("allowed.q", "x", 100ms);  // no responder: timeout, not refused
  EXPECT_EQ(rep.error().category, ErrorCategory::timeout);
  testing::RawConn raw(d.sock());
  ASSERT_TRUE(raw.sub(5, "_INBOX.>"));  // nobody may listen to every inbox
  auto got = raw.next();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->op, detail::Op::err);
  EXPECT_EQ(got->sid, 5u);
}

TEST(Broker, RefusesUidNotAllowed) {
  TempDir d;
  BrokerOptions o;
  o.allowed_uids = {::geteuid() + 4242};
  std::vector<std::string> logs;
  std::mutex mu;
  o.log = [&](std::string_view l) {
    std::lock_guard lk(mu);
    logs.emplace_back(l);
  };
  auto b = start_broker(d, o);
  ASSERT_TRUE(b);
  ClientOptions co;
  co.socket_path = d.sock();
  auto c = Client::connect(co);
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().category, ErrorCategory::not_authorized);
  EXPECT_NE(c.error().message.find("uid " + std::to_string(::geteuid())), std::string::npos);
  std::lock_guard lk(mu);
  ASSERT_FALSE(logs.empty());
  EXPECT_NE(logs[0].find("not authorized"), std::string::npos);
}

// A child that becomes uid 65534 (keeping fsuid 0 only to reach the socket in
// the 0700 directory) is refused by a broker with the default admission.
TEST(Broker, RefusesOtherUidByPeerCredentials) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to setuid";
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  detail::ByteBuffer ping;
  detail::Frame f;
  f.op = detail::Op::ping;
  detail::encode_frame(ping, f);
  // Everything the child needs is prepared here: after fork() in a threaded
  // process the child may only make async-signal-safe calls (no malloc).
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = d.sock().native();
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setresuid(65534, 65534, 0) != 0) ::_exit(10);
    ::setfsuid(0);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) ::_exit(11);
    // The broker may refuse and close before this write: no SIGPIPE, and the
    // ERR is still there to read.
    (void)::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL);
    char buf[512];
    std::size_t have = 0;
    while (have < sizeof buf) {
      const ssize_t n = ::read(fd, buf + have, sizeof buf - have);
      if (n <= 0) break;
      have += static_cast<std::size_t>(n);
    }
    const std::string_view got(buf, have);
    ::_exit(got.find("not authorized: uid 65534") != std::string_view::npos ? 0 : 13);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Broker, StatsReportConnectionsAndSubscriptions) {
  TempDir d;
  auto b = start_broker(d);
  auto c = connect_client(d);
  ASSERT_TRUE(b && c);
  SubscribeOptions o;
  o.policy = Policy::drop_oldest;
  o.max_msgs = 10;
  auto s = c->subscribe("x.>", [](const MessageView&) {}, o);
  ASSERT_TRUE(s && c->flush());
  ASSERT_TRUE(c->publish("x.y", "1"));
  auto st = c->stats();
  ASSERT_TRUE(st) << st.error().to_string();
  const auto j = nlohmann::json::parse(*st);
  EXPECT_EQ(j["connections"], 1);
  ASSERT_EQ(j["conns"].size(), 1u);
  const auto& sj = j["conns"][0]["subscriptions"][0];
  EXPECT_EQ(sj["subject"], "x.>");
  EXPECT_EQ(sj["policy"], "drop-oldest");
  EXPECT_EQ(sj["max_msgs"], 10);
  EXPECT_EQ(sj["delivered"], 1);
  EXPECT_EQ(j["conns"][0]["uid"], ::geteuid());
}

}  // namespace
}  // namespace airssys::bus
