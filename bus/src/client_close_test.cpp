// A client closed or destroyed while a thread waits in request() and reads
// the socket itself (the read role, client_core.hpp), flush()/stats()
// called on the thread that holds the read role, and publishes racing
// close(): each fails with `closed` or reaches the broker.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::eventually;
using testing::start_broker;
using testing::TempDir;

// A broker on which our uid may publish to ok.> only: a publish elsewhere
// comes back as an asynchronous ERR, which whoever reads the socket hands
// to on_error.
std::unique_ptr<Broker> restricted_broker(const TempDir& d) {
  BrokerOptions o;
  o.permissions.push_back(Permission{::geteuid(), {"ok.>"}, {">"}});
  return start_broker(d, std::move(o));
}

// on_error calls `on_requester` when it runs on the thread waiting in
// request() (not the reader thread), once.
struct RequesterErrors {
  std::atomic<bool> id_set{false}, entered{false};
  std::thread::id requester;
  std::function<void()> on_requester;

  std::function<void(const Error&)> hook() {
    return [this](const Error&) {
      if (!id_set.load() || std::this_thread::get_id() != requester) return;
      if (entered.exchange(true)) return;
      on_requester();
    };
  }
  void mark_requester() {
    requester = std::this_thread::get_id();
    id_set = true;
  }
};

std::unique_ptr<Client> connect_with(const TempDir& d, std::function<void(const Error&)> on_error) {
  ClientOptions o;
  o.socket_path = d.sock();
  o.on_error = std::move(on_error);
  auto c = Client::connect(std::move(o));
  EXPECT_TRUE(c) << (c ? "" : c.error().to_string());
  return c ? std::move(*c) : nullptr;
}

// Publishes where we may not until on_error has run on the requester: the
// ERR is read by the requester once it holds the read role.
bool provoke_on_requester(Client& c, const RequesterErrors& e) {
  return eventually([&] {
    (void)c.publish("denied.x", "y");
    return e.entered.load();
  });
}

// The client is destroyed while its requester runs on_error: the
// destruction waits until the requester has handed the read role back (no
// callback of the client runs after it), and the request ends with
// `closed`, not at its timeout, touching nothing freed (ASan).
TEST(ClientClose, DestroyedWhileARequesterReads) {
  TempDir d;
  auto b = restricted_broker(d);
  ASSERT_TRUE(b);
  RequesterErrors errs;
  std::atomic<bool> in_on_error{false};
  errs.on_requester = [&] {
    in_on_error = true;
    std::this_thread::sleep_for(300ms);  // the client is destroyed meanwhile
    in_on_error = false;
  };
  auto client = connect_with(d, errs.hook());
  ASSERT_TRUE(client);
  Client* c = client.get();

  std::optional<std::expected<Message, Error>> result;
  std::atomic<bool> done{false};
  std::thread t([&] {
    errs.mark_requester();
    result = c->request("ok.nobody", "x", 600s);  // nobody answers
    done = true;
  });
  ASSERT_TRUE(provoke_on_requester(*client, errs));
  client.reset();
  EXPECT_FALSE(in_on_error.load()) << "the client was destroyed while on_error still ran on the requester";
  ASSERT_TRUE(eventually([&] { return done.load(); }));  // long before 600 s
  t.join();
  ASSERT_TRUE(result && !*result);
  EXPECT_EQ(result->error().category, ErrorCategory::closed) << result->error().to_string();
}

// flush() and stats() from on_error on a requesting thread would wait for
// a PONG only that thread reads: they fail at once with invalid_argument,
// and the request is still answered afterwards.
TEST(ClientClose, FlushAndStatsFromOnErrorOnARequesterFailAtOnce) {
  TempDir d;
  auto b = restricted_broker(d);
  ASSERT_TRUE(b);
  RequesterErrors errs;
  Client* c = nullptr;
  std::optional<std::expected<void, Error>> flushed;
  std::optional<std::expected<std::string, Error>> stats;
  errs.on_requester = [&] {
    flushed = c->flush(5s);
    stats = c->stats(5s);
  };
  auto client = connect_with(d, errs.hook());
  auto responder = testing::connect_client(d);
  ASSERT_TRUE(client && responder);
  c = client.get();

  std::atomic<bool> release{false};
  Client* r = responder.get();
  auto svc = responder->subscribe("ok.svc", [&, r](const MessageView& m) {
    while (!release.load()) std::this_thread::sleep_for(1ms);  // until on_error ran
    (void)r->publish(m.reply_to, "answer");
  });
  ASSERT_TRUE(svc && responder->flush());

  std::optional<std::expected<Message, Error>> result;
  std::thread t([&] {
    errs.mark_requester();
    result = c->request("ok.svc", "x", 600s);
  });
  const bool provoked = provoke_on_requester(*client, errs);
  release = true;
  t.join();
  ASSERT_TRUE(provoked);
  ASSERT_TRUE(flushed && !*flushed);
  EXPECT_EQ(flushed->error().category, ErrorCategory::invalid_argument) << flushed->error().to_string();
  ASSERT_TRUE(stats && !*stats);
  EXPECT_EQ(stats->error().category, ErrorCategory::invalid_argument) << stats->error().to_string();
  ASSERT_TRUE(result && *result) << (result && !*result ? result->error().to_string() : "");
  EXPECT_EQ((*result)->payload, "answer");
  auto later = client->flush(30s);  // reports the refused publishes, now off the requester
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().category, ErrorCategory::permission_denied) << later.error().to_string();
}

// A handler that destroys its own client (an "on this message, disconnect"
// handler): the reader thread cannot join itself, so it is left to end on
// its own after the handler returns, keeping the client's state alive
// until then. Before, join() threw resource_deadlock_would_occur from a
// destructor (std::terminate). The subscription's handle outlives the
// client; later publishes reach no handler.
TEST(ClientClose, DestroyedFromItsOwnHandler) {
  TempDir d;
  auto b = start_broker(d);
  auto client = testing::connect_client(d);
  auto feeder = testing::connect_client(d);
  ASSERT_TRUE(b && client && feeder);
  std::atomic<int> calls{0};
  std::atomic<bool> destroyed{false};
  std::unique_ptr<Client>* slot = &client;
  auto s = client->subscribe("self.x", [&, slot](const MessageView& m) {
    ++calls;
    if (m.payload != "bye") return;
    slot->reset();
    destroyed = true;
  });
  ASSERT_TRUE(s && client->flush());
  ASSERT_TRUE(feeder->publish("self.x", "hello") && feeder->publish("self.x", "bye") && feeder->flush());
  ASSERT_TRUE(eventually([&] { return destroyed.load(); }));
  EXPECT_EQ(calls.load(), 2);
  ASSERT_TRUE(feeder->publish("self.x", "after") && feeder->flush());
  std::this_thread::sleep_for(100ms);  // a late delivery would show in `calls`
  EXPECT_EQ(calls.load(), 2);
  s->unsubscribe();  // on a destroyed client: nothing to do, nothing freed touched
}

// The same from on_error on the reader thread.
TEST(ClientClose, DestroyedFromItsOwnOnError) {
  TempDir d;
  auto b = restricted_broker(d);
  ASSERT_TRUE(b);
  std::unique_ptr<Client> client;
  std::atomic<bool> destroyed{false};
  std::atomic<bool> armed{false};
  std::atomic<bool> once{false};
  client = connect_with(d, [&](const Error&) {
    if (once.exchange(true)) return;
    // Not before the publish below has returned on the main thread.
    while (!armed.load()) std::this_thread::sleep_for(1ms);
    client.reset();
    destroyed = true;
  });
  ASSERT_TRUE(client);
  auto keep = client->subscribe("ok.keep", [](const MessageView&) {});  // the reader thread reads
  ASSERT_TRUE(keep && client->flush());
  ASSERT_TRUE(client->publish("denied.x", "y"));  // its ERR comes to on_error on the reader thread
  armed = true;
  ASSERT_TRUE(eventually([&] { return destroyed.load(); }));
}

// A broker that stops reading (stopped, wedged) must not hold close()
// forever: the flusher is blocked writing to the full socket with the
// write lock held, and before close_timeout close() waited for that lock
// without end. Here a fake broker answers the handshake and then reads
// nothing; the client buffers 8 MB (far more than the socket holds).
TEST(ClientClose, BoundedWhenTheBrokerStopsReading) {
  TempDir d;
  std::filesystem::create_directory(d.sock().parent_path());
  auto listener = detail::listen_unix(d.sock(), 4);
  ASSERT_TRUE(listener) << listener.error().to_string();
  detail::UniqueFd conn;
  std::thread server([&] {
    pollfd pf{listener->get(), POLLIN, 0};
    if (::poll(&pf, 1, 60'000) != 1) return;
    detail::UniqueFd c(::accept4(listener->get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) return;
    char buf[256];
    if (::read(c.get(), buf, sizeof buf) <= 0) return;  // the PING, in one small read
    detail::ByteBuffer b;
    detail::Frame pong;
    pong.op = detail::Op::pong;
    detail::encode_frame(b, pong);
    (void)::send(c.get(), b.data(), b.size(), MSG_NOSIGNAL);
    conn = std::move(c);  // kept open, never read again
  });
  ClientOptions o;
  o.reconnect = false;
  o.flush_threshold = std::size_t{64} << 20;       // publishes never write inline...
  o.flush_delay = std::chrono::milliseconds(200);  // ...the flusher does, and blocks
  o.close_timeout = std::chrono::milliseconds(500);
  auto core = testing::start_core(d, o);
  server.join();
  ASSERT_TRUE(core && conn);
  const std::string chunk(64 * 1024, 'x');
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(core->publish("stuck.x", chunk, {}));
  std::this_thread::sleep_for(std::chrono::milliseconds(400));  // the flusher is in its write (or close() does it)
  const auto t0 = std::chrono::steady_clock::now();
  core.reset();  // BoundedDelete: a failure if it takes 60 s
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, std::chrono::seconds(60));
}

// The same from a subscription handler on the reader thread.
TEST(ClientClose, FlushFromAHandlerFailsAtOnce) {
  TempDir d;
  auto b = start_broker(d);
  auto client = testing::connect_client(d);
  auto feeder = testing::connect_client(d);
  ASSERT_TRUE(b && client && feeder);
  Client* c = client.get();
  std::optional<std::expected<void, Error>> flushed;
  std::atomic<bool> ran{false};
  auto s = client->subscribe("h.x", [&, c](const MessageView&) {
    flushed = c->flush(600s);
    ran = true;
  });
  ASSERT_TRUE(s && client->flush());
  ASSERT_TRUE(feeder->publish("h.x", "go") && feeder->flush());
  ASSERT_TRUE(eventually([&] { return ran.load(); }));  // long before 600 s
  ASSERT_TRUE(flushed && !*flushed);
  EXPECT_EQ(flushed->error().category, ErrorCategory::invalid_argument);
}

// A publish on another thread once close() has written the buffer for the
// last time (close_hook makes that ordering instead of racing for it) fails
// with `closed` or reaches the subscriber: never accepted and dropped.
// Until session 15 close() wrote the buffer before it refused publishes:
// this publish was accepted, left to the flusher (a write had just been
// made) and lost when the flusher stopped.
TEST(ClientClose, APublishAfterCloseWroteTheBufferFailsOrArrives) {
  TempDir d;
  auto b = start_broker(d);
  auto sub = testing::connect_client(d);
  ASSERT_TRUE(b && sub);
  std::atomic<int> got{0};
  std::atomic<bool> late_arrived{false}, buffered_arrived{false};
  auto s = sub->subscribe("closing.x", [&](const MessageView& m) {
    if (m.payload == "late") late_arrived = true;
    if (m.payload == "buffered") buffered_arrived = true;
    ++got;
  });
  ASSERT_TRUE(s && sub->flush());
  // A publish right after a write is left to the flusher, which then waits
  // a year: only close() writes it.
  auto core = testing::start_core(d, {.flush_delay = testing::kFlushDelayYear});
  ASSERT_TRUE(core);
  ASSERT_TRUE(core->publish("closing.x", "first", {}));  // idle: written at once
  ASSERT_TRUE(eventually([&] { return got.load() == 1; })) << "the first publish was not written at once";
  ASSERT_TRUE(core->publish("closing.x", "buffered", {}));  // for the flusher: close() writes it
  detail::ClientCore* c = core.get();
  std::optional<std::expected<void, Error>> late;
  c->close_hook = [&late, c] { std::thread([&late, c] { late = c->publish("closing.x", "late", {}); }).join(); };
  core.reset();  // close(), bounded
  ASSERT_TRUE(late.has_value()) << "close() did not run its hook";
  EXPECT_TRUE(eventually([&] { return buffered_arrived.load(); })) << "close() did not write the buffered publish";
  if (*late) {
    EXPECT_TRUE(eventually([&] { return late_arrived.load(); }, 30s))
        << "a publish accepted while the client closed was dropped";
  } else {
    EXPECT_EQ(late->error().category, ErrorCategory::closed) << late->error().to_string();
  }
}

// The same raced for: publishers on four threads while another closes the
// client. Every publish either fails with `closed` or arrives; the
// subscriber receives exactly the accepted ones.
TEST(ClientClose, EveryPublishAcceptedWhileClosingArrives) {
  TempDir d;
  auto b = start_broker(d);
  auto sub = testing::connect_client(d);
  ASSERT_TRUE(b && sub);
  std::atomic<long> got{0};
  SubscribeOptions so;
  so.max_msgs = 1'000'000;  // the broker must not drop (its default is 65536)
  auto s = sub->subscribe("race.x", [&](const MessageView&) { ++got; }, so);
  ASSERT_TRUE(s && sub->flush());
  auto core = testing::start_core(d);
  ASSERT_TRUE(core);

  constexpr long kPerThread = 50'000;  // a bound, in case close() comes late
  std::atomic<long> accepted{0}, other_errors{0};
  std::vector<std::thread> pubs;
  for (int t = 0; t < 4; ++t) {
    pubs.emplace_back([&, core] {
      for (long i = 0; i < kPerThread; ++i) {
        auto r = core->publish("race.x", "m", {});
        if (!r) {
          if (r.error().category != ErrorCategory::closed) ++other_errors;
          return;
        }
        ++accepted;
      }
    });
  }
  EXPECT_TRUE(eventually([&] { return accepted.load() >= 1000; }));
  core->close();
  for (auto& t : pubs) t.join();
  EXPECT_EQ(other_errors.load(), 0) << "a publish failed with something other than `closed`";
  EXPECT_TRUE(eventually([&] { return got.load() >= accepted.load(); }))
      << got.load() << " of " << accepted.load() << " accepted publishes arrived";
  EXPECT_EQ(got.load(), accepted.load());
}

}  // namespace
}  // namespace airssys::bus
