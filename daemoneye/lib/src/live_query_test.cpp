// Live query wire format: requests and replies round-trip, malformed ones
// are refused by field, the signed bytes are unambiguous, and an accepted
// query runs through the guarded engine with its limits.

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/store.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;

LiveQueryRequest sample() {
  LiveQueryRequest r;
  r.key_id = "sha256:" + std::string(64, 'a');
  r.query = "SELECT pid, name FROM processes";
  r.hosts = {"web1", "db1.example.com"};
  r.nonce = std::string(32, '0');
  r.issued_at = 1'800'000'000;
  r.expires_at = 1'800'000'005;
  r.reply_to = "_INBOX.x";
  r.signature = std::string(128, 'f');
  return r;
}

TEST(LiveQueryFormat, RequestsRoundTrip) {
  for (const bool all : {false, true}) {
    auto r = sample();
    if (all) {
      r.all_hosts = true;
      r.hosts.clear();
    }
    auto back = decode_request(encode_request(r));
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(canonical_bytes(*back), canonical_bytes(r));
    EXPECT_EQ(back->signature, r.signature);
    EXPECT_EQ(back->all_hosts, all);
  }
}

TEST(LiveQueryFormat, MalformedRequestsNameTheField) {
  const auto bad = [](const std::function<void(nlohmann::json&)>& edit) {
    auto j = nlohmann::json::parse(encode_request(sample()));
    edit(j);
    auto r = decode_request(j.dump());
    EXPECT_FALSE(r);
    if (r) return std::string();
    EXPECT_EQ(r.error().category, ErrorCategory::invalid_input);
    return r.error().message;
  };
  EXPECT_EQ(bad([](auto& j) { j["v"] = 2; }), "live query: version 2 (this agent speaks 1)");
  EXPECT_EQ(bad([](auto& j) { j.erase("query"); }), "live query: 'query' must be a string");
  EXPECT_EQ(bad([](auto& j) { j["iat"] = "now"; }), "live query: 'iat' must be an integer");
  EXPECT_EQ(bad([](auto& j) { j["iat"] = std::numeric_limits<std::uint64_t>::max(); }),
            "live query: 'iat' must be an integer");
  EXPECT_EQ(bad([](auto& j) { j["iat"] = -1; }), "live query: 'iat' must be Unix seconds in 0-1099511627776, not -1");
  EXPECT_EQ(bad([](auto& j) { j["exp"] = std::numeric_limits<std::int64_t>::max(); }),
            "live query: 'exp' must be Unix seconds in 0-1099511627776, not 9223372036854775807");
  EXPECT_EQ(bad([](auto& j) { j["exp"] = std::numeric_limits<std::int64_t>::min(); }),
            "live query: 'exp' must be Unix seconds in 0-1099511627776, not -9223372036854775808");
  {
    auto j = nlohmann::json::parse(encode_request(sample()));
    j["iat"] = 0;
    j["exp"] = kLiveQueryMaxTime;
    EXPECT_TRUE(decode_request(j.dump()));
  }
  EXPECT_EQ(bad([](auto& j) { j["nonce"] = "xyz"; }), "live query: 'nonce' must be 32 lowercase hex digits");
  EXPECT_EQ(bad([](auto& j) { j["sig"] = std::string(127, 'a'); }), "live query: 'sig' must be 128 lowercase hex digits");
  EXPECT_EQ(bad([](auto& j) { j["hosts"] = nlohmann::json::array(); }),
            "live query: 'hosts' must be \"all\" or a list of 1-10000 host names");
  EXPECT_EQ(bad([](auto& j) { j["hosts"] = {1}; }), "live query: 'hosts' must hold host names (strings of 1-255 bytes)");
  EXPECT_EQ(bad([](auto& j) { j["query"] = std::string(1'000'001, 'x'); }),
            "live query: 'query' is longer than 1000000 bytes");
  EXPECT_FALSE(decode_request("not json"));
  EXPECT_FALSE(decode_request("[]"));
}

TEST(LiveQueryFormat, SignedBytesAreUnambiguous) {
  // Moving bytes between fields, or a host list that spells "all", changes the bytes.
  auto a = sample(), b = sample();
  a.hosts = {"ab", "c"};
  b.hosts = {"a", "bc"};
  EXPECT_NE(canonical_bytes(a), canonical_bytes(b));
  b.hosts = {"*all*"};
  a.hosts.clear();
  a.all_hosts = true;
  EXPECT_NE(canonical_bytes(a), canonical_bytes(b));
  a = sample();
  b = sample();
  a.query = "SELECT 1\nreply=8:_INBOX.y";
  b.query = "SELECT 1";
  b.reply_to = "_INBOX.y";
  EXPECT_NE(canonical_bytes(a), canonical_bytes(b));
  EXPECT_EQ(canonical_bytes(sample()).substr(0, 21), "daemoneye live query\n");
}

TEST(LiveQueryFormat, SubjectsAndNonces) {
  EXPECT_EQ(live_query_subject_all(), "daemoneye.query.all");
  EXPECT_EQ(live_query_subject_for("web1.example.com"), "daemoneye.query.host.web1_example_com");
  EXPECT_EQ(live_query_subject_for("all"), "daemoneye.query.host.all");
  auto n1 = make_nonce(), n2 = make_nonce();
  ASSERT_TRUE(n1 && n2);
  EXPECT_EQ(n1->size(), 32u);
  EXPECT_NE(*n1, *n2);
}

TEST(LiveQueryFormat, RepliesRoundTripWithEveryValueType) {
  LiveQueryReply r;
  r.host = "web1";
  r.nonce = std::string(32, '1');
  r.columns = {"i", "d", "s", "n"};
  r.rows = {{std::int64_t{-5}, 1.5, std::string("x\xff"), std::monostate{}}};
  r.truncated = true;
  r.elapsed_us = 42;
  auto back = decode_reply(encode_reply(r));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->columns, r.columns);
  ASSERT_EQ(back->rows.size(), 1u);
  EXPECT_EQ(std::get<std::int64_t>(back->rows[0][0]), -5);
  EXPECT_EQ(std::get<double>(back->rows[0][1]), 1.5);
  EXPECT_EQ(std::get<std::string>(back->rows[0][2]), "x\xef\xbf\xbd");  // invalid UTF-8 as U+FFFD
  EXPECT_TRUE(std::holds_alternative<std::monostate>(back->rows[0][3]));
  EXPECT_TRUE(back->truncated);
  LiveQueryReply refused{.host = "web1", .status = LiveQueryStatus::refused, .category = ErrorCategory::denied,
                         .message = "not signed"};
  back = decode_reply(encode_reply(refused));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->status, LiveQueryStatus::refused);
  EXPECT_EQ(back->category, ErrorCategory::denied);
  EXPECT_EQ(back->message, "not signed");
  EXPECT_FALSE(decode_reply(R"({"v":1})"));
}

class LiveQueryRun : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open({.path = tmp_ / "d.db"});
    ASSERT_TRUE(s) << s.error();
    std::vector<ProcessRecord> all;
    for (int i = 0; i < 50; ++i) all.push_back(test::proc(1000 + i, fmt::format("p{}", i)));
    ASSERT_TRUE((*s)->apply_snapshot(all));
    // A time limit far above what these queries need on a busy machine
    // under ASan; the test of the clock runs its query on runaway_engine().
    auto e = QueryEngine::open(tmp_ / "d.db", {.time = 60s, .max_rows = 20});
    ASSERT_TRUE(e) << e.error();
    engine_ = std::move(*e);
  }
  std::unique_ptr<QueryEngine> runaway_engine() {
    auto e = QueryEngine::open(tmp_ / "d.db", {.time = 500ms, .max_rows = 20});
    EXPECT_TRUE(e) << e.error();
    return e ? std::move(*e) : nullptr;
  }
  test::TempDir tmp_;
  std::unique_ptr<QueryEngine> engine_;
};

TEST_F(LiveQueryRun, RowsComeBackWithTheEnginesRowCap) {
  auto req = sample();
  req.query = "SELECT pid, name FROM processes ORDER BY pid";
  auto reply = run_live_query(*engine_, req, "web1");
  ASSERT_EQ(reply.status, LiveQueryStatus::ok) << reply.message;
  EXPECT_EQ(reply.host, "web1");
  EXPECT_EQ(reply.nonce, req.nonce);
  EXPECT_EQ(reply.columns, (std::vector<std::string>{"pid", "name"}));
  ASSERT_EQ(reply.rows.size(), 20u);
  EXPECT_TRUE(reply.truncated);
  EXPECT_EQ(std::get<std::int64_t>(reply.rows[0][0]), 1000);
}

TEST_F(LiveQueryRun, TheSqlGuardAndTimeLimitApply) {
  auto req = sample();
  req.query = "DELETE FROM processes";
  auto reply = run_live_query(*engine_, req, "web1");
  EXPECT_EQ(reply.status, LiveQueryStatus::failed);
  EXPECT_EQ(reply.category, ErrorCategory::denied);
  EXPECT_EQ(reply.message, "not allowed: DELETE from processes");
  req.query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c";
  auto runaway = runaway_engine();
  ASSERT_TRUE(runaway);
  reply = run_live_query(*runaway, req, "web1");
  EXPECT_EQ(reply.status, LiveQueryStatus::failed);
  EXPECT_EQ(reply.category, ErrorCategory::timeout);
}

TEST_F(LiveQueryRun, AReplyIsCutToFitTheMessageSize) {
  auto req = sample();
  req.query = "SELECT pid, name, cmdline FROM processes";
  auto reply = run_live_query(*engine_, req, "web1");
  const auto full = encode_reply(reply).size();
  const auto out = encode_reply_within(reply, full / 2);
  EXPECT_LE(out.size(), full / 2);
  EXPECT_GT(reply.rows.size(), 0u);
  EXPECT_LT(reply.rows.size(), 20u);
  EXPECT_TRUE(reply.truncated);
  EXPECT_EQ(decode_reply(out)->rows.size(), reply.rows.size());
}

}  // namespace
}  // namespace airssys::daemoneye
