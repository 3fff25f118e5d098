// request() reading its own reply (the read role, client_core.hpp): many
// requests at once while a subscription on the same client receives (with a
// handler, and pulled), handlers never on a requesting thread, a
// request whose connection drops, a timed-out request followed by its late
// reply, a request from a handler, and the reader thread taking the role
// back after requests.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::connect_client;
using testing::eventually;
using testing::RawConn;
using testing::start_broker;
using testing::TempDir;

// An echo responder on `subject` (its own client).
Subscription echo(Client& responder, const std::string& subject) {
  Client* r = &responder;
  auto s = responder.subscribe(subject, [r](const MessageView& m) {
    (void)r->publish(m.reply_to, "echo:" + std::string(m.payload));
  });
  EXPECT_TRUE(s && responder.flush());
  return s ? std::move(*s) : Subscription{};
}

// A reply to the request a RawConn received (its PUB to the inbox).
bool reply(RawConn& c, const std::string& reply_to, std::string_view payload) {
  detail::Frame f;
  f.op = detail::Op::pub;
  f.subject = reply_to;
  f.payload = payload;
  return c.send(f);
}

// Four threads request at once on one client that also has a subscription
// fed by another client: every request gets its own reply, every message
// arrives once and in order, and handlers never run two at a time (with a
// handler subscription the reader thread alone reads and dispatches).
TEST(Request, ManyThreadsAtOnceWhileASubscriptionReceives) {
  TempDir d;
  auto b = start_broker(d);
  auto responder = connect_client(d);
  auto client = connect_client(d);
  auto feeder = connect_client(d);
  ASSERT_TRUE(b && responder && client && feeder);
  auto svc = echo(*responder, "svc.echo");

  constexpr int kFeed = 3000;
  std::atomic<int> in_handler{0}, overlaps{0}, received{0}, out_of_order{0};
  int last = -1;  // only touched by handlers, which never overlap (checked)
  auto feed = client->subscribe("feed.x", [&](const MessageView& m) {
    if (in_handler.fetch_add(1) != 0) ++overlaps;
    const int seq = std::stoi(std::string(m.payload));
    if (seq != last + 1) ++out_of_order;
    last = seq;
    ++received;
    in_handler.fetch_sub(1);
  });
  ASSERT_TRUE(feed && client->flush());

  constexpr int kThreads = 4, kEach = 150;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto rep = client->request("svc.echo", body, 30s);
        if (!rep) {
          ++failed;
          ADD_FAILURE() << rep.error().to_string();
        } else if (rep->payload != "echo:" + body) {
          ++wrong;
        }
      }
    });
  }
  for (int i = 0; i < kFeed; ++i) ASSERT_TRUE(feeder->publish("feed.x", std::to_string(i)));
  ASSERT_TRUE(feeder->flush());
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(eventually([&] { return received.load() == kFeed; })) << received.load();
  EXPECT_EQ(out_of_order.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
}

// Four threads request at once while a pull subscription on the same client
// receives: the requesters read (no handler subscription), and whatever
// they read besides their replies reaches the pull queue once and in order.
TEST(Request, ManyThreadsAtOnceWhileAPullSubscriptionReceives) {
  TempDir d;
  auto b = start_broker(d);
  auto responder = connect_client(d);
  auto client = connect_client(d);
  auto feeder = connect_client(d);
  ASSERT_TRUE(b && responder && client && feeder);
  auto svc = echo(*responder, "svc.echo");
  auto pull = client->subscribe_pull("feed.p");
  ASSERT_TRUE(pull && client->flush());

  constexpr int kFeed = 3000, kThreads = 4, kEach = 150;
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto rep = client->request("svc.echo", body, 30s);
        if (!rep || rep->payload != "echo:" + body) ++failed;
      }
    });
  }
  for (int i = 0; i < kFeed; ++i) ASSERT_TRUE(feeder->publish("feed.p", std::to_string(i)));
  ASSERT_TRUE(feeder->flush());
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  for (int i = 0; i < kFeed; ++i) {
    auto m = pull->next(30s);
    ASSERT_TRUE(m) << "message " << i;
    ASSERT_EQ(m->payload, std::to_string(i));
  }
}

// Handlers run on the reader thread only: never on a thread waiting in
// request() (whose caller may hold a lock the handler takes), also for a
// handler subscription made while that thread is reading its replies.
TEST(Request, HandlersNeverRunOnARequestingThread) {
  TempDir d;
  auto b = start_broker(d);
  auto responder = connect_client(d);
  auto client = connect_client(d);
  auto feeder = connect_client(d);
  ASSERT_TRUE(b && responder && client && feeder);
  auto svc = echo(*responder, "svc.echo");

  std::atomic<bool> stop{false};
  std::atomic<int> failed{0}, requests{0};
  std::thread::id requester_id;
  std::atomic<bool> id_set{false};
  std::thread requester([&] {
    requester_id = std::this_thread::get_id();
    id_set = true;
    while (!stop.load()) {
      if (!client->request("svc.echo", "x", 30s)) ++failed;
      ++requests;
    }
  });
  ASSERT_TRUE(eventually([&] { return id_set.load() && requests.load() > 20; }));
  std::atomic<int> got{0}, on_requester{0};
  auto s = client->subscribe("feed.h", [&](const MessageView&) {
    if (std::this_thread::get_id() == requester_id) ++on_requester;
    ++got;
  });
  ASSERT_TRUE(s && client->flush(30s));  // the SUB is at the broker before the feed
  constexpr int kFeed = 500;
  for (int i = 0; i < kFeed; ++i) ASSERT_TRUE(feeder->publish("feed.h", "m"));
  ASSERT_TRUE(feeder->flush());
  EXPECT_TRUE(eventually([&] { return got.load() == kFeed; })) << got.load();
  const int before = requests.load();
  EXPECT_TRUE(eventually([&] { return requests.load() > before + 20; }));  // requests still served
  stop = true;
  requester.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(on_requester.load(), 0);
}

// After requests handed the role back and no request follows, messages for
// a subscription are still dispatched (the reader thread took the role back).
TEST(Request, ReaderThreadReadsAgainAfterRequests) {
  TempDir d;
  auto b = start_broker(d);
  auto responder = connect_client(d);
  auto client = connect_client(d);
  auto feeder = connect_client(d);
  ASSERT_TRUE(b && responder && client && feeder);
  auto svc = echo(*responder, "svc.echo");
  std::atomic<int> got{0};
  auto s = client->subscribe("feed.y", [&](const MessageView&) { ++got; });
  ASSERT_TRUE(s && client->flush());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(client->request("svc.echo", "x", 30s));
  ASSERT_TRUE(feeder->publish("feed.y", "1"));
  ASSERT_TRUE(feeder->flush());
  EXPECT_TRUE(eventually([&] { return got.load() == 1; }));
  // flush() waits for a PONG only the reader thread can read now.
  EXPECT_TRUE(client->flush(30s));
}

// The broker goes away while a request waits for a reply that will never
// come: the request fails at once with the lost connection (not at its
// timeout), and the client reconnects and serves requests again.
TEST(Request, ConnectionDropsWhileWaiting) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  RawConn silent(d.sock());  // receives the request, never answers
  ASSERT_TRUE(silent.sub(1, "svc.silent") && silent.ping());
  ASSERT_TRUE(silent.next());  // PONG: the SUB is in place
  auto client = connect_client(d);
  ASSERT_TRUE(client);

  std::optional<std::expected<Message, Error>> result;
  std::atomic<bool> done{false};
  std::thread t([&] {
    result = client->request("svc.silent", "x", 600s);
    done = true;
  });
  auto req = silent.next();
  ASSERT_TRUE(req && req->op == detail::Op::msg);
  b->stop();
  b.reset();
  ASSERT_TRUE(eventually([&] { return done.load(); }));  // long before 600 s
  t.join();
  ASSERT_TRUE(result && !*result);
  EXPECT_EQ(result->error().category, ErrorCategory::not_connected) << result->error().to_string();

  b = start_broker(d);
  ASSERT_TRUE(b);
  auto responder = connect_client(d);
  ASSERT_TRUE(responder);
  auto svc = echo(*responder, "svc.echo");
  ASSERT_TRUE(eventually([&] { return client->connected(); }));
  ASSERT_TRUE(client->flush(30s));  // the inbox SUB was re-sent before this PONG
  auto rep = client->request("svc.echo", "again", 30s);
  ASSERT_TRUE(rep) << rep.error().to_string();
  EXPECT_EQ(rep->payload, "echo:again");
}

// A request times out; its reply arrives later, while the next request
// waits. The late reply is dropped and the next request gets its own.
TEST(Request, TimedOutRequestThenLateReply) {
  TempDir d;
  auto b = start_broker(d);
  ASSERT_TRUE(b);
  RawConn responder(d.sock());
  ASSERT_TRUE(responder.sub(1, "svc.slow") && responder.ping());
  ASSERT_TRUE(responder.next());
  auto client = connect_client(d);
  ASSERT_TRUE(client);

  auto first = client->request("svc.slow", "first", 200ms);
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().category, ErrorCategory::timeout);
  auto req1 = responder.next();
  ASSERT_TRUE(req1 && req1->op == detail::Op::msg && req1->payload == "first");

  std::optional<std::expected<Message, Error>> second;
  std::thread t([&] { second = client->request("svc.slow", "second", 60s); });
  auto req2 = responder.next();
  ASSERT_TRUE(req2 && req2->payload == "second");
  ASSERT_NE(req1->reply_to, req2->reply_to);
  ASSERT_TRUE(reply(responder, req1->reply_to, "late"));  // first, to the timed-out request
  ASSERT_TRUE(reply(responder, req2->reply_to, "on time"));
  t.join();
  ASSERT_TRUE(second && *second) << (second && !*second ? second->error().to_string() : "");
  EXPECT_EQ((*second)->payload, "on time");
  // And the client is still usable: a third request and a flush.
  std::thread t3([&] { second = client->request("svc.slow", "third", 60s); });
  auto req3 = responder.next();
  ASSERT_TRUE(req3 && reply(responder, req3->reply_to, "3"));
  t3.join();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->payload, "3");
  EXPECT_TRUE(client->flush(30s));
}

// A handler calling request() would wait for a reply only its own thread
// could read after it returned: refused at once.
TEST(Request, FromAHandlerIsRefused) {
  TempDir d;
  auto b = start_broker(d);
  auto client = connect_client(d);
  auto feeder = connect_client(d);
  ASSERT_TRUE(b && client && feeder);
  std::optional<std::expected<Message, Error>> inner;
  std::atomic<bool> ran{false};
  Client* c = client.get();
  auto s = client->subscribe("h.x", [&, c](const MessageView&) {
    inner = c->request("svc.any", "x", 600s);
    ran = true;
  });
  ASSERT_TRUE(s && client->flush());
  ASSERT_TRUE(feeder->publish("h.x", "go") && feeder->flush());
  ASSERT_TRUE(eventually([&] { return ran.load(); }));
  ASSERT_TRUE(inner && !*inner);
  EXPECT_EQ(inner->error().category, ErrorCategory::invalid_argument);
}

// A broker that polls after each turn (BrokerOptions::busy_poll) serves the
// same: sequential requests from two threads get their own replies, a
// subscriber fed between them gets every message in order, and the broker
// stops while it may be polling.
TEST(Request, ABrokerThatBusyPollsServesRequestsAndMessages) {
  TempDir d;
  BrokerOptions bo;
  bo.busy_poll = 200us;
  auto b = start_broker(d, std::move(bo));
  auto responder = connect_client(d);
  auto client = connect_client(d);
  auto sub = connect_client(d);
  ASSERT_TRUE(b && responder && client && sub);
  auto e = echo(*responder, "poll.echo");
  std::atomic<int> got{0}, out_of_order{0};
  int next = 0;  // handlers run on the reader thread only
  auto s = sub->subscribe("poll.feed", [&](const MessageView& m) {
    if (m.payload != std::to_string(next)) ++out_of_order;
    ++next;
    ++got;
  });
  ASSERT_TRUE(s && sub->flush());
  std::atomic<int> wrong{0};
  auto requests = [&](int who) {
    for (int i = 0; i < 300; ++i) {
      const std::string p = std::to_string(who) + "/" + std::to_string(i);
      auto r = client->request("poll.echo", p, 10s);
      if (!r || r->payload != "echo:" + p) ++wrong;
      if (who == 0) (void)responder->publish("poll.feed", std::to_string(i));
    }
  };
  std::thread t1(requests, 1);
  requests(0);
  t1.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_TRUE(eventually([&] { return got.load() == 300; })) << got.load();
  EXPECT_EQ(out_of_order.load(), 0);
  b->stop();
}

}  // namespace
}  // namespace airssys::bus
