// run_fleet_query against a real nats-server and a stand-in agent (a
// subscriber on the request subjects that answers as several hosts): with
// named hosts only their replies are kept, once each; with --all the kept
// replies stop at the count and byte caps, and the result says so.

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_client.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "live_query_test_keys.hpp"
#include "nats_test_server.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;

// Answers every request it sees as each of `hosts`, in order, with `rows`
// rows of one integer each.
//
// Its handler runs on libnats' delivery thread and may still be answering
// (20,000 rows, three hosts) when the query it answers has returned: the
// destructor waits until libnats says the handler has returned for the last
// time (natsSubscription_SetOnCompleteCB) before the members it reads go.
// Before, a test could end inside the handler (heap-use-after-free on
// hosts_, seen under load).
class StandIn {
 public:
  StandIn(const std::string& url, std::vector<std::string> hosts, std::size_t rows = 1)
      : hosts_(std::move(hosts)), rows_(rows) {
    EXPECT_EQ(natsConnection_ConnectTo(&nc_, url.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_Subscribe(&sub_, nc_, "daemoneye.query.>", &StandIn::on_msg, this), NATS_OK);
    completion_set_ = natsSubscription_SetOnCompleteCB(sub_, &StandIn::on_complete, this) == NATS_OK;
    EXPECT_TRUE(completion_set_);
    EXPECT_EQ(natsConnection_Flush(nc_), NATS_OK);
  }
  ~StandIn() {
    if (natsSubscription_Unsubscribe(sub_) == NATS_OK && completion_set_) {
      std::unique_lock lock(mu_);
      EXPECT_TRUE(completed_cv_.wait_for(lock, std::chrono::minutes(2), [&] { return completed_; }))
          << "the stand-in's handler never returned";
    }
    // Closed (its reader thread joined) before the subscription goes: libnats
    // 3.4 can crash destroying a subscription its reader is handling a message
    // for (nats.c #637; seen here under load, SEGV in natsConn_processMsg).
    natsConnection_Close(nc_);
    natsSubscription_Destroy(sub_);
    natsConnection_Destroy(nc_);
  }
  StandIn(const StandIn&) = delete;
  StandIn& operator=(const StandIn&) = delete;

 private:
  static void on_complete(void* self_ptr) {
    auto* self = static_cast<StandIn*>(self_ptr);
    std::lock_guard lock(self->mu_);
    self->completed_ = true;
    self->completed_cv_.notify_all();
  }
  static void on_msg(natsConnection* nc, natsSubscription*, natsMsg* m, void* self_ptr) {
    auto* self = static_cast<StandIn*>(self_ptr);
    auto req = decode_request({natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))});
    if (req) {
      for (const auto& h : self->hosts_) {
        LiveQueryReply r{.host = h, .nonce = req->nonce, .columns = {"x"}};
        r.rows.assign(self->rows_, {Value{std::int64_t{1}}});
        const std::string body = encode_reply(r);
        (void)natsConnection_Publish(nc, natsMsg_GetReply(m), body.data(), static_cast<int>(body.size()));
      }
    }
    natsMsg_Destroy(m);
  }
  std::vector<std::string> hosts_;
  std::size_t rows_;
  natsConnection* nc_ = nullptr;
  natsSubscription* sub_ = nullptr;
  bool completion_set_ = false;
  std::mutex mu_;
  std::condition_variable completed_cv_;
  bool completed_ = false;
};

class FleetQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    testing::make_key_pair(tmp_.path(), "op");
    auto k = Ed25519PrivateKey::load(tmp_.path() / "op.pem");
    ASSERT_TRUE(k) << k.error();
    key_.emplace(std::move(*k));
    connection_.url = server_.url();
  }
  static std::vector<std::string> hosts_of(const FleetQueryResult& r) {
    std::vector<std::string> out;
    for (const auto& reply : r.replies) out.push_back(reply.host);
    return out;
  }

  testing::TempDir tmp_;
  testing::NatsServer server_{tmp_.path() / "js", tmp_.path() / "nats.log"};
  std::optional<Ed25519PrivateKey> key_;
  LiveQueryConfig connection_;
};

TEST_F(FleetQueryTest, WithNamedHostsOnlyTheirRepliesAreKept) {
  StandIn agent(server_.url(), {"intruder", "web1", "web1", "web2"});
  auto r = run_fleet_query(connection_, *key_, {.query = "SELECT 1", .hosts = {"web1", "db9"}, .timeout = 2s});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(hosts_of(*r), (std::vector<std::string>{"web1"}));
  EXPECT_EQ(r->missing, (std::vector<std::string>{"db9"}));
  EXPECT_TRUE(r->cut.empty()) << r->cut;
}

TEST_F(FleetQueryTest, WithAllTheRepliesKeptAreCapped) {
  StandIn agent(server_.url(), {"h1", "h2", "h3", "h4", "h5", "h5"});
  auto all = run_fleet_query(connection_, *key_, {.query = "SELECT 1", .all_hosts = true, .timeout = 1s});
  ASSERT_TRUE(all) << all.error();
  EXPECT_EQ(hosts_of(*all), (std::vector<std::string>{"h1", "h2", "h3", "h4", "h5"}));
  EXPECT_TRUE(all->cut.empty()) << all->cut;

  auto by_count =
      run_fleet_query(connection_, *key_, {.query = "SELECT 1", .all_hosts = true, .timeout = 5s, .max_replies = 3});
  ASSERT_TRUE(by_count) << by_count.error();
  EXPECT_EQ(hosts_of(*by_count), (std::vector<std::string>{"h1", "h2", "h3"}));
  EXPECT_TRUE(by_count->cut.starts_with("stopped collecting at 3 replies (")) << by_count->cut;

  // Each reply here holds the same; a cap of 1.5 replies keeps two.
  auto decoded = decode_reply(encode_reply({.host = "h1", .nonce = std::string(32, '0'), .columns = {"x"},
                                            .rows = {{Value{std::int64_t{1}}}}}));
  ASSERT_TRUE(decoded) << decoded.error();
  const std::size_t one = memory_estimate(*decoded);
  auto by_bytes = run_fleet_query(connection_, *key_,
                                  {.query = "SELECT 1", .all_hosts = true, .timeout = 5s, .max_reply_bytes = one + one / 2});
  ASSERT_TRUE(by_bytes) << by_bytes.error();
  EXPECT_EQ(hosts_of(*by_bytes), (std::vector<std::string>{"h1", "h2"}));
  EXPECT_EQ(by_bytes->cut, fmt::format("stopped collecting at 2 replies (about {} bytes in memory): at most 10000 "
                                       "replies or {} bytes are kept",
                                       2 * one, one + one / 2));
}

// The byte cap counts what the decoded replies hold, not their wire size:
// 20,000 one-integer rows are ~100 KB of JSON but ~1.6 MB of variants and
// vectors. A cap of five replies' wire bytes keeps one of them.
TEST_F(FleetQueryTest, TheByteCapCountsDecodedMemoryNotWireBytes) {
  constexpr std::size_t kRows = 20'000;
  LiveQueryReply sample{.host = "h1", .nonce = std::string(32, '0'), .columns = {"x"}};
  sample.rows.assign(kRows, {Value{std::int64_t{1}}});
  const std::size_t wire = encode_reply(sample).size();
  auto decoded = decode_reply(encode_reply(sample));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_GT(memory_estimate(*decoded), 8 * wire);
  EXPECT_GE(memory_estimate(*decoded), kRows * (sizeof(Value) + sizeof(std::vector<Value>)));

  StandIn agent(server_.url(), {"h1", "h2", "h3"}, kRows);
  auto r = run_fleet_query(connection_, *key_,
                           {.query = "SELECT 1", .all_hosts = true, .timeout = 5s, .max_reply_bytes = 5 * wire});
  ASSERT_TRUE(r) << r.error();
  EXPECT_EQ(hosts_of(*r), (std::vector<std::string>{"h1"}));
  EXPECT_TRUE(r->cut.starts_with("stopped collecting at 1 replies (about ")) << r->cut;
}

}  // namespace
}  // namespace airssys::daemoneye
