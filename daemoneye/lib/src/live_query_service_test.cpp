// LiveQueryService against a real nats-server on 127.0.0.1 and a real
// store: a signed request gets its rows; replayed, expired and misaddressed
// ones are refused with the reason on the signed inbox; unsigned, wrong-key
// and redirected ones are refused without any answer; every decision is
// audited, and an accepted query the audit could not record is not run.

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>
#include <airssys/daemoneye/live_query_service.hpp>
#include <airssys/daemoneye/store.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <functional>
#include <optional>
#include <set>
#include <thread>
#include <mutex>
#include <nlohmann/json.hpp>

#include "live_query_test_keys.hpp"
#include "nats_test_server.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::int64_t unix_now() { return static_cast<std::int64_t>(::time(nullptr)); }

class LiveQueryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    auto s = Store::open({.path = tmp_ / "d.db"});
    ASSERT_TRUE(s) << s.error();
    std::vector<ProcessRecord> all;
    for (int i = 0; i < 5; ++i) all.push_back(test::proc(1000 + i, fmt::format("p{}", i)));
    ASSERT_TRUE((*s)->apply_snapshot(all));
    testing::make_key_pair(tmp_.path(), "op");
    testing::make_key_pair(tmp_.path(), "stranger");
    op_.emplace(*Ed25519PrivateKey::load(tmp_ / "op.pem"));
    stranger_.emplace(*Ed25519PrivateKey::load(tmp_ / "stranger.pem"));
    ASSERT_EQ(natsConnection_ConnectTo(&nc_, server_.url().c_str()), NATS_OK);
  }
  void TearDown() override {
    service_.reset();
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }

  void start_service(bool audit_fails = false, std::function<std::int64_t()> now = {}) {
    LiveQueryServiceOptions o;
    o.now = std::move(now);
    o.config.enabled = true;
    o.config.url = server_.url();
    o.config.trusted_keys = {tmp_ / "op.pub.pem"};
    o.config.max_rows = 3;
    o.config.timeout = timeout_;
    o.host = "web1.example.com";
    o.database = tmp_ / "d.db";
    o.audit = [this, audit_fails](const LiveQueryAuditRecord& r) -> Result<void> {
      std::lock_guard lock(mu_);
      if (audit_fails) return fail(ErrorCategory::io, "ledger: disk full");
      audited_.push_back(nlohmann::json::parse(audit_json(r)));
      return {};
    };
    auto s = LiveQueryService::start(std::move(o));
    ASSERT_TRUE(s) << s.error();
    service_ = std::move(*s);
  }

  LiveQueryRequest request(const std::string& inbox, std::vector<std::string> hosts = {"web1.example.com"}) {
    LiveQueryRequest r;
    r.query = "SELECT pid, name FROM processes ORDER BY pid";
    r.hosts = std::move(hosts);
    r.nonce = *make_nonce();
    r.issued_at = unix_now();
    r.expires_at = r.issued_at + 10;
    r.reply_to = inbox;
    return r;
  }
  static void sign(LiveQueryRequest& r, const Ed25519PrivateKey& k) {
    r.key_id = k.fingerprint();
    r.signature = to_hex(*k.sign(canonical_bytes(r)));
  }

  // Sends `body` to `subject` with reply subject `inbox`, returns the reply (nullopt: none in `wait`).
  std::optional<LiveQueryReply> ask(const std::string& subject, const std::string& body, const std::string& inbox,
                                    std::chrono::milliseconds wait = 10s) {
    natsSubscription* sub = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&sub, nc_, inbox.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_Flush(nc_), NATS_OK);
    EXPECT_EQ(natsConnection_PublishRequest(nc_, subject.c_str(), inbox.c_str(), body.data(), static_cast<int>(body.size())),
              NATS_OK);
    natsMsg* m = nullptr;
    std::optional<LiveQueryReply> out;
    if (natsSubscription_NextMsg(&m, sub, wait.count()) == NATS_OK) {
      auto r = decode_reply(std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
      EXPECT_TRUE(r) << r.error();
      if (r) out = std::move(*r);
      natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    return out;
  }
  std::string inbox() {
    natsInbox* in = nullptr;
    EXPECT_EQ(natsInbox_Create(&in), NATS_OK);
    std::string s = in;
    natsInbox_Destroy(in);
    return s;
  }
  std::vector<nlohmann::json> audited() {
    std::lock_guard lock(mu_);
    return audited_;
  }

  testing::TempDir tmp_;
  testing::NatsServer server_{tmp_ / "js", tmp_ / "nats.log"};
  natsConnection* nc_ = nullptr;
  std::optional<Ed25519PrivateKey> op_, stranger_;
  std::unique_ptr<LiveQueryService> service_;
  std::chrono::seconds timeout_ = 5s;  // live_query.timeout
  std::mutex mu_;
  std::vector<nlohmann::json> audited_;
};

TEST_F(LiveQueryServiceTest, ASignedQueryReturnsRowsAndIsAudited) {
  start_service();
  const auto in = inbox();
  auto r = request(in);
  sign(r, *op_);
  auto reply = ask(live_query_subject_for("web1.example.com"), encode_request(r), in);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, LiveQueryStatus::ok) << reply->message;
  EXPECT_EQ(reply->host, "web1.example.com");
  EXPECT_EQ(reply->nonce, r.nonce);
  EXPECT_EQ(reply->columns, (std::vector<std::string>{"pid", "name"}));
  ASSERT_EQ(reply->rows.size(), 3u);  // max_rows
  EXPECT_TRUE(reply->truncated);
  EXPECT_EQ(std::get<std::int64_t>(reply->rows[0][0]), 1000);
  const auto a = audited();
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0]["type"], "live_query");
  EXPECT_EQ(a[0]["decision"], "accepted");
  EXPECT_EQ(a[0]["key"], op_->fingerprint());
  EXPECT_EQ(a[0]["query"], r.query);
  EXPECT_EQ(a[0]["nonce"], r.nonce);
  // The same request for all hosts, on the all subject.
  const auto in2 = inbox();
  auto all = request(in2, {});
  all.all_hosts = true;
  sign(all, *op_);
  reply = ask(live_query_subject_all(), encode_request(all), in2);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, LiveQueryStatus::ok) << reply->message;
  EXPECT_EQ(service_->stats().accepted, 2u);
}

TEST_F(LiveQueryServiceTest, RefusalsOfSignedRequestsAreAnsweredOnTheSignedInbox) {
  start_service();
  const std::string host_subject = live_query_subject_for("web1.example.com");
  struct Case {
    std::string name;
    std::function<std::string(const std::string& inbox)> body;
    std::string reason_starts;
  };
  const std::vector<Case> cases{
      {"other host",
       [&](const std::string& in) {
         auto r = request(in, {"db1"});
         sign(r, *op_);
         return encode_request(r);
       },
       "not addressed to this host"},
      {"issued before the agent started",
       [&](const std::string& in) {
         auto r = request(in);
         r.issued_at -= 5;
         sign(r, *op_);
         return encode_request(r);
       },
       "issued at "},
  };
  for (const auto& c : cases) {
    const auto in = inbox();
    auto reply = ask(host_subject, c.body(in), in);
    ASSERT_TRUE(reply) << c.name;
    EXPECT_EQ(reply->status, LiveQueryStatus::refused) << c.name;
    EXPECT_TRUE(reply->message.starts_with(c.reason_starts)) << c.name << ": " << reply->message;
    EXPECT_TRUE(reply->rows.empty());
  }
  const auto a = audited();
  ASSERT_EQ(a.size(), cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(a[i]["decision"], "refused") << cases[i].name;
    EXPECT_TRUE(a[i]["reason"].get<std::string>().starts_with(cases[i].reason_starts)) << a[i].dump();
  }
  EXPECT_EQ(service_->stats().refused, cases.size());
  EXPECT_EQ(service_->stats().accepted, 0u);
}

// A captured signed request republished in a loop must not make every agent
// publish: its refusal is answered once, and an expired one never (both
// still audited).
TEST_F(LiveQueryServiceTest, ARefusalIsAnsweredOnceAndNeverWhenExpired) {
  start_service();
  const std::string subject = live_query_subject_for("web1.example.com");
  const auto in = inbox();
  auto other = request(in, {"db1"});
  sign(other, *op_);
  auto first = ask(subject, encode_request(other), in);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, LiveQueryStatus::refused);
  EXPECT_FALSE(ask(subject, encode_request(other), in, 1500ms));

  const auto in2 = inbox();
  auto expired = request(in2);
  expired.issued_at -= 300;
  expired.expires_at = expired.issued_at + 10;
  sign(expired, *op_);
  EXPECT_FALSE(ask(subject, encode_request(expired), in2, 1500ms));

  EXPECT_EQ(service_->stats().refused, 3u);
  const auto a = audited();
  ASSERT_EQ(a.size(), 3u);
  EXPECT_TRUE(a[1]["reason"].get<std::string>().starts_with("not addressed to this host")) << a[1].dump();
  EXPECT_TRUE(a[2]["reason"].get<std::string>().starts_with("expired ")) << a[2].dump();
}

// "Issued before the start" follows the monotonic clock: after the wall
// clock steps back (NTP correcting a clock that was ahead), a request
// issued at the corrected time is accepted, not refused until real time
// catches up with the old start.
TEST_F(LiveQueryServiceTest, AWallClockStepBackAfterTheStartRefusesNothing) {
  std::atomic<std::int64_t> clock{unix_now() + 120};
  start_service(false, [&clock] { return clock.load(); });
  clock = unix_now();
  const auto in = inbox();
  auto r = request(in);
  sign(r, *op_);
  auto reply = ask(live_query_subject_for("web1.example.com"), encode_request(r), in);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, LiveQueryStatus::ok) << reply->message;
}

// Whoever may publish a request chooses the message's reply subject: until
// the signature and the signed reply subject check out, the agent publishes
// nothing anywhere (a reply could land on an alert stream or $JS.API.*).
TEST_F(LiveQueryServiceTest, UnauthenticatedRequestsAreAuditedButNeverAnswered) {
  start_service();
  natsSubscription* everything = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&everything, nc_, ">"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  const std::string target = "alerts.web1";  // where an attacker wants the agent to write
  const auto signed_for = [&](const std::string& reply_to, const Ed25519PrivateKey& k) {
    auto r = request(reply_to);
    sign(r, k);
    return encode_request(r);
  };
  struct Case {
    std::string name;
    std::string body;
    std::string reason_starts;
  };
  const std::vector<Case> cases{
      {"garbage", "{not json", "live query: not a JSON object"},
      {"unsigned", encode_request(request(target)), "not signed"},
      {"wrong key", signed_for(target, *stranger_), "key " + stranger_->fingerprint() + " is not trusted"},
      {"resent to another subject", signed_for("_INBOX.operator", *op_), "reply subject 'alerts.web1' is not the signed"},
      {"signed reply subject outside _INBOX.", signed_for(target, *op_),
       "reply subject 'alerts.web1' does not start with '_INBOX.'"},
  };
  for (const auto& c : cases) {
    for (const auto& subject : {live_query_subject_for("web1.example.com"), live_query_subject_all()})
      ASSERT_EQ(natsConnection_PublishRequest(nc_, subject.c_str(), target.c_str(), c.body.data(),
                                              static_cast<int>(c.body.size())),
                NATS_OK);
  }
  // The agent handles a subject's messages in order: once a good request's
  // reply arrives, an answer to any of the above would have arrived before it.
  const auto in = inbox();
  auto good = request(in);
  sign(good, *op_);
  const std::string body = encode_request(good);
  ASSERT_EQ(natsConnection_PublishRequest(nc_, live_query_subject_all().c_str(), in.c_str(), body.data(),
                                          static_cast<int>(body.size())),
            NATS_OK);
  const auto in2 = inbox();
  auto good2 = request(in2);
  sign(good2, *op_);
  const std::string body2 = encode_request(good2);
  ASSERT_EQ(natsConnection_PublishRequest(nc_, live_query_subject_for("web1.example.com").c_str(), in2.c_str(),
                                          body2.data(), static_cast<int>(body2.size())),
            NATS_OK);
  std::set<std::string> answered;
  while (answered.size() < 2) {
    natsMsg* m = nullptr;
    ASSERT_EQ(natsSubscription_NextMsg(&m, everything, 10000), NATS_OK) << "answers to the good requests";
    const std::string subject = natsMsg_GetSubject(m);
    natsMsg_Destroy(m);
    if (subject.starts_with("daemoneye.query.")) continue;  // the requests themselves
    ASSERT_TRUE(subject == in || subject == in2) << "the agent published to " << subject;
    answered.insert(subject);
  }
  natsSubscription_Destroy(everything);
  const auto a = audited();
  ASSERT_EQ(a.size(), 2 * cases.size() + 2);
  // The two subjects' requests are handled on two threads, so their records interleave.
  for (const auto& c : cases) {
    const auto n = std::ranges::count_if(a, [&](const nlohmann::json& rec) {
      return rec["decision"] == "refused" && rec["reply_to"] == target &&
             rec["reason"].get<std::string>().starts_with(c.reason_starts);
    });
    EXPECT_EQ(n, 2) << c.name;
  }
  EXPECT_EQ(service_->stats().refused, 2 * cases.size());
}

TEST_F(LiveQueryServiceTest, AReplayIsRefused) {
  start_service();
  const auto in = inbox();
  auto r = request(in);
  sign(r, *op_);
  const auto subject = live_query_subject_for("web1.example.com");
  auto first = ask(subject, encode_request(r), in);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, LiveQueryStatus::ok);
  // Refused and audited, not answered: a replay loop makes no agent publish.
  EXPECT_FALSE(ask(subject, encode_request(r), in, 1500ms));
  EXPECT_EQ(service_->stats().refused, 1u);
  const auto a = audited();
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[1]["decision"], "refused");
  EXPECT_EQ(a[1]["reason"], "replayed (nonce " + r.nonce + " was seen before)");
  // Sent to another reply subject, the captured request does not verify
  // (and is not answered: UnauthenticatedRequestsAreAuditedButNeverAnswered).
}

TEST_F(LiveQueryServiceTest, AQueryTheAuditCannotRecordDoesNotRun) {
  start_service(/*audit_fails=*/true);
  const auto in = inbox();
  auto r = request(in);
  sign(r, *op_);
  auto reply = ask(live_query_subject_for("web1.example.com"), encode_request(r), in);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, LiveQueryStatus::failed);
  EXPECT_EQ(reply->message, "not run: the audit ledger could not record it: ledger: disk full");
  EXPECT_TRUE(reply->rows.empty());
  const LiveQueryStats st = service_->stats();
  EXPECT_EQ(st.accepted, 0u);  // not recorded, not run: counted once, as failed_ledger
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.failed_ledger, 1u);
}

TEST_F(LiveQueryServiceTest, AnUnsafeTrustedKeyStopsTheStart) {
  ::chmod((tmp_ / "op.pub.pem").c_str(), 0666);
  LiveQueryServiceOptions o;
  o.config.url = server_.url();
  o.config.trusted_keys = {tmp_ / "op.pub.pem"};
  o.host = "web1";
  o.database = tmp_ / "d.db";
  auto s = LiveQueryService::start(std::move(o));
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::denied);
  EXPECT_TRUE(s.error().message.starts_with("live_query.trusted_keys: refusing trusted key")) << s.error();
}

// SIGHUP's reload: from the next request on exactly the keys whose files
// load now are trusted. A key whose file is gone or unsafe (writable by
// others, a symbolic link) is dropped and the reload says why, while the
// other files still load: revoking a key cannot fail open.
TEST_F(LiveQueryServiceTest, AReloadTrustsExactlyTheKeysThatLoadNow) {
  start_service();
  const std::string subject = live_query_subject_for("web1.example.com");
  auto query_by = [&](const Ed25519PrivateKey& k, std::chrono::milliseconds wait = 10s) {
    const auto in = inbox();
    auto r = request(in);
    sign(r, k);
    return ask(subject, encode_request(r), in, wait);
  };
  auto ok = query_by(*op_);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, LiveQueryStatus::ok);

  auto k = service_->reload_trusted_keys({tmp_ / "stranger.pub.pem"});
  EXPECT_EQ(k.trusted, 1u);
  EXPECT_TRUE(k.dropped.empty());
  ok = query_by(*stranger_);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, LiveQueryStatus::ok);
  EXPECT_FALSE(query_by(*op_, 1500ms));  // no longer trusted: not answered

  // op's file deleted: op is revoked although the other listed file is fine.
  k = service_->reload_trusted_keys({tmp_ / "stranger.pub.pem", tmp_ / "op.pub.pem"});
  EXPECT_EQ(k.trusted, 2u);
  ASSERT_TRUE(query_by(*op_));
  fs::rename(tmp_ / "op.pub.pem", tmp_ / "op.pub.pem.revoked");
  k = service_->reload_trusted_keys({tmp_ / "stranger.pub.pem", tmp_ / "op.pub.pem"});
  EXPECT_EQ(k.trusted, 1u);
  ASSERT_EQ(k.dropped.size(), 1u);
  EXPECT_TRUE(k.dropped[0].message.starts_with("live_query.trusted_keys")) << k.dropped[0];
  EXPECT_NE(k.dropped[0].message.find("op.pub.pem"), std::string::npos) << k.dropped[0];
  EXPECT_FALSE(query_by(*op_, 1500ms));
  ok = query_by(*stranger_);  // the other key is still trusted
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, LiveQueryStatus::ok);

  // Writable by everyone, or replaced by a symbolic link: dropped too.
  fs::rename(tmp_ / "op.pub.pem.revoked", tmp_ / "op.pub.pem");
  ASSERT_EQ(::chmod((tmp_ / "op.pub.pem").c_str(), 0666), 0);
  k = service_->reload_trusted_keys({tmp_ / "op.pub.pem", tmp_ / "stranger.pub.pem"});
  EXPECT_EQ(k.trusted, 1u);
  ASSERT_EQ(k.dropped.size(), 1u);
  EXPECT_NE(k.dropped[0].message.find("writable"), std::string::npos) << k.dropped[0];
  EXPECT_FALSE(query_by(*op_, 1500ms));
  fs::copy_file(tmp_ / "stranger.pub.pem", tmp_ / "stranger.real.pem");
  fs::remove(tmp_ / "stranger.pub.pem");
  fs::create_symlink(tmp_ / "stranger.real.pem", tmp_ / "stranger.pub.pem");
  k = service_->reload_trusted_keys({tmp_ / "stranger.pub.pem"});
  EXPECT_EQ(k.trusted, 0u);
  ASSERT_EQ(k.dropped.size(), 1u);
  EXPECT_NE(k.dropped[0].message.find("symbolic link"), std::string::npos) << k.dropped[0];
  EXPECT_FALSE(query_by(*stranger_, 1500ms));
  EXPECT_EQ(service_->reload_trusted_keys({}).trusted, 0u);
}

// stats() is what the agent's only thread calls (status.json): it must not
// wait for a query being run. The query runs until live_query.timeout
// (seconds); the counters are read meanwhile: the snapshot that first shows
// it accepted shows no reply yet. Before the fix stats() waited for the
// whole request, so that snapshot already counted the reply.
TEST_F(LiveQueryServiceTest, StatsDoNotWaitForAQueryBeingRun) {
  timeout_ = 3s;
  start_service();
  const auto in = inbox();
  auto r = request(in);
  r.query = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
  r.expires_at = r.issued_at + 60;
  sign(r, *op_);
  natsSubscription* sub = nullptr;
  ASSERT_EQ(natsConnection_SubscribeSync(&sub, nc_, in.c_str()), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(nc_), NATS_OK);
  const std::string body = encode_request(r);
  const std::string subject = live_query_subject_for("web1.example.com");
  ASSERT_EQ(natsConnection_PublishRequest(nc_, subject.c_str(), in.c_str(), body.data(), static_cast<int>(body.size())),
            NATS_OK);
  LiveQueryStats st;
  for (int i = 0; i < 600000 && (st = service_->stats()).accepted == 0; ++i) std::this_thread::sleep_for(100us);
  EXPECT_EQ(st.accepted, 1u);
  EXPECT_EQ(st.answered, 0u);  // read while the query runs
  natsMsg* m = nullptr;
  ASSERT_EQ(natsSubscription_NextMsg(&m, sub, 60000), NATS_OK);
  auto reply = decode_reply(std::string_view(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))));
  natsMsg_Destroy(m);
  natsSubscription_Destroy(sub);
  ASSERT_TRUE(reply) << reply.error();
  EXPECT_EQ(reply->status, LiveQueryStatus::failed);  // cut by the time limit
  st = service_->stats();
  EXPECT_EQ(st.answered, 1u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_EQ(st.failed_ledger, 0u);
}

// Each decision moves its counter: refusals by the step that refused,
// replies and their rows, refusals left unanswered (expired, replayed).
// Everything goes to one subject, so the last reply means every request
// before it was handled.
TEST_F(LiveQueryServiceTest, TheCountersFollowEachDecision) {
  start_service();
  const std::string subject = live_query_subject_for("web1.example.com");
  // With the request's own reply subject, as the signed one must be.
  auto send = [&](const std::string& body, const std::string& reply_to) {
    ASSERT_EQ(natsConnection_PublishRequest(nc_, subject.c_str(), reply_to.c_str(), body.data(),
                                            static_cast<int>(body.size())),
              NATS_OK);
  };
  send("{not a request", inbox());
  const auto in1 = inbox();
  send(encode_request(request(in1)), in1);  // not signed
  const auto in2 = inbox();
  auto elsewhere = request(in2, {"db1"});
  sign(elsewhere, *op_);
  auto refused = ask(subject, encode_request(elsewhere), in2);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, LiveQueryStatus::refused);
  auto expired = request(inbox());
  expired.issued_at -= 300;
  expired.expires_at = expired.issued_at + 10;
  sign(expired, *op_);
  send(encode_request(expired), expired.reply_to);
  const auto in3 = inbox();
  auto first = request(in3);
  sign(first, *op_);
  auto rows = ask(subject, encode_request(first), in3);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->rows.size(), 3u);
  send(encode_request(first), in3);  // replayed
  const auto in4 = inbox();
  auto second = request(in4);
  sign(second, *op_);
  rows = ask(subject, encode_request(second), in4);
  ASSERT_TRUE(rows);
  EXPECT_EQ(rows->status, LiveQueryStatus::ok);

  const LiveQueryStats st = service_->stats();
  EXPECT_EQ(st.accepted, 2u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.refused, 5u);
  auto by = [&](LiveQueryRefusal r) { return st.refused_by[static_cast<std::size_t>(r)]; };
  EXPECT_EQ(by(LiveQueryRefusal::malformed), 1u);
  EXPECT_EQ(by(LiveQueryRefusal::unauthenticated), 1u);
  EXPECT_EQ(by(LiveQueryRefusal::not_addressed), 1u);
  EXPECT_EQ(by(LiveQueryRefusal::clock), 1u);
  EXPECT_EQ(by(LiveQueryRefusal::replayed), 1u);
  EXPECT_EQ(by(LiveQueryRefusal::before_start), 0u);
  EXPECT_EQ(by(LiveQueryRefusal::busy), 0u);
  EXPECT_EQ(st.answered, 3u);  // the misaddressed refusal and two results
  EXPECT_EQ(st.rows, 6u);
  EXPECT_EQ(st.dropped, 2u);   // the expired and the replayed request
  EXPECT_EQ(st.audit_suppressed, 0u);
  EXPECT_EQ(audited().size(), 7u);
}

}  // namespace
}  // namespace airssys::daemoneye
