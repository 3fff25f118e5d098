// A client closed or destroyed while a thread waits in request() and reads
// the socket itself (the read role, client_core.hpp), and flush()/stats()
// called on the thread that holds the read role.

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>

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

}  // namespace
}  // namespace airssys::bus
