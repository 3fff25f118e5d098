// LiveQueryGuard: what an agent accepts — signature, key, reply subject,
// addressing, time window, replays — each refusal with its reason.

#include <airssys/daemoneye/live_query_guard.hpp>
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <optional>

#include "live_query_test_keys.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

using testing::make_key_pair;
using testing::TempDir;

constexpr std::int64_t kNow = 1'800'000'000;

class GuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    make_key_pair(tmp_.path(), "op");
    make_key_pair(tmp_.path(), "stranger");
    auto sk = Ed25519PrivateKey::load(tmp_.path() / "op.pem");
    ASSERT_TRUE(sk) << sk.error();
    op_.emplace(std::move(*sk));
    auto st = Ed25519PrivateKey::load(tmp_.path() / "stranger.pem");
    ASSERT_TRUE(st) << st.error();
    stranger_.emplace(std::move(*st));
    auto pk = Ed25519PublicKey::load(tmp_.path() / "op.pub.pem");
    ASSERT_TRUE(pk) << pk.error();
    guard_ = std::make_unique<LiveQueryGuard>(LiveQueryPolicy{.host = "web1", .replay_capacity = 3},
                                              std::vector<Ed25519PublicKey>{*pk});
  }

  LiveQueryRequest request(std::vector<std::string> hosts = {"web1"}) {
    LiveQueryRequest r;
    r.query = "SELECT 1";
    r.hosts = std::move(hosts);
    r.nonce = *make_nonce();
    r.issued_at = kNow;
    r.expires_at = kNow + 10;
    r.reply_to = "_INBOX.abc";
    return r;
  }
  static LiveQueryRequest signed_by(LiveQueryRequest r, const Ed25519PrivateKey& k) {
    r.key_id = k.fingerprint();
    r.signature = to_hex(*k.sign(canonical_bytes(r)));
    return r;
  }
  std::string refusal(const LiveQueryRequest& r, std::string_view reply = "_INBOX.abc", std::int64_t now = kNow) {
    auto a = guard_->admit(r, reply, now);
    if (a) return "accepted";
    EXPECT_EQ(a.error().category, ErrorCategory::denied) << a.error();
    return a.error().message;
  }

  TempDir tmp_;
  std::optional<Ed25519PrivateKey> op_, stranger_;
  std::unique_ptr<LiveQueryGuard> guard_;
};

TEST_F(GuardTest, ASignedRequestForThisHostIsAccepted) {
  EXPECT_EQ(refusal(signed_by(request(), *op_)), "accepted");
  auto all = request({});
  all.all_hosts = true;
  EXPECT_EQ(refusal(signed_by(all, *op_)), "accepted");
  EXPECT_EQ(refusal(signed_by(request({"db1", "web1"}), *op_)), "accepted");
}

TEST_F(GuardTest, UnsignedUnknownKeyAndBadSignatureAreRefused) {
  EXPECT_EQ(refusal(request()), "not signed");
  const auto s = signed_by(request(), *stranger_);
  EXPECT_EQ(refusal(s), "key " + stranger_->fingerprint() + " is not trusted");
  // The stranger claims the trusted key's id: the signature does not verify.
  auto forged = request();
  forged.key_id = op_->fingerprint();
  forged.signature = to_hex(*stranger_->sign(canonical_bytes(forged)));
  EXPECT_EQ(refusal(forged), "bad signature (key " + op_->fingerprint() + ")");
}

TEST_F(GuardTest, EverySignedFieldIsCovered) {
  const auto good = signed_by(request(), *op_);
  const std::vector<std::function<void(LiveQueryRequest&)>> edits{
      [](auto& r) { r.query = "SELECT 2"; },
      [](auto& r) { r.hosts = {"web1", "db1"}; },
      [](auto& r) { r.hosts.clear(); r.all_hosts = true; },
      [](auto& r) { r.nonce[0] = r.nonce[0] == 'a' ? 'b' : 'a'; },
      [](auto& r) { r.issued_at -= 1; },
      [](auto& r) { r.expires_at += 1; },
      [](auto& r) { r.reply_to = "_INBOX.evil"; },
  };
  for (std::size_t i = 0; i < edits.size(); ++i) {
    auto r = good;
    edits[i](r);
    EXPECT_EQ(refusal(r, r.reply_to), "bad signature (key " + op_->fingerprint() + ")") << "edit " << i;
  }
}

TEST_F(GuardTest, ARequestResentToAnotherReplySubjectIsRefused) {
  EXPECT_EQ(refusal(signed_by(request(), *op_), "_INBOX.evil"),
            "reply subject '_INBOX.evil' is not the signed one '_INBOX.abc'");
}

TEST_F(GuardTest, ASignedReplySubjectOutsideTheInboxesIsRefusedAsUnauthenticated) {
  for (const std::string reply : {"alerts.web1", "$JS.API.STREAM.DELETE.ALERTS", "_INBOX.", "_INBOX", "x._INBOX.a"}) {
    auto r = request();
    r.reply_to = reply;
    r = signed_by(r, *op_);
    const auto a = guard_->authenticate(r, reply);
    ASSERT_FALSE(a) << reply;
    EXPECT_EQ(a.error().message, "reply subject '" + reply + "' does not start with '_INBOX.'");
    EXPECT_EQ(refusal(r, reply), a.error().message);
  }
  // Signature failures are authenticate()'s too; addressing is not.
  EXPECT_FALSE(guard_->authenticate(request(), "_INBOX.abc"));
  EXPECT_TRUE(guard_->authenticate(signed_by(request({"db1"}), *op_), "_INBOX.abc"));
}

TEST_F(GuardTest, ARequestIssuedBeforeTheStartIsRefused) {
  auto pk = Ed25519PublicKey::load(tmp_.path() / "op.pub.pem");
  ASSERT_TRUE(pk) << pk.error();
  guard_ = std::make_unique<LiveQueryGuard>(LiveQueryPolicy{.host = "web1", .not_before = kNow + 1},
                                            std::vector<Ed25519PublicKey>{*pk});
  EXPECT_EQ(refusal(signed_by(request(), *op_), "_INBOX.abc", kNow + 2),
            "issued at 1800000000, before this agent started listening at 1800000001 (a request from before a "
            "restart may have been seen then)");
  auto r = request();
  r.issued_at = kNow + 1;
  EXPECT_EQ(refusal(signed_by(r, *op_), "_INBOX.abc", kNow + 2), "accepted");
}

TEST_F(GuardTest, ARequestForOtherHostsIsRefused) {
  EXPECT_EQ(refusal(signed_by(request({"db1", "web10"}), *op_)), "not addressed to this host 'web1' (hosts: db1, web10)");
}

TEST_F(GuardTest, ExpiredFutureAndTooLongRequestsAreRefusedWithinTheSkew) {
  auto r = request();
  // 30 s of skew either way is tolerated.
  EXPECT_EQ(refusal(signed_by(r, *op_), "_INBOX.abc", kNow + 10 + 30), "accepted");
  r.nonce = *make_nonce();
  EXPECT_EQ(refusal(signed_by(r, *op_), "_INBOX.abc", kNow + 10 + 31), "expired 31 s ago (30 s of skew tolerated)");
  r.nonce = *make_nonce();
  EXPECT_EQ(refusal(signed_by(r, *op_), "_INBOX.abc", kNow - 30), "accepted");
  r.nonce = *make_nonce();
  EXPECT_EQ(refusal(signed_by(r, *op_), "_INBOX.abc", kNow - 31),
            "issued in the future (31 s ahead of this host's clock; 30 s of skew tolerated)");
  r.nonce = *make_nonce();
  r.expires_at = kNow + 301;
  EXPECT_EQ(refusal(signed_by(r, *op_)), "valid for 301 s, more than the 300 s this agent accepts");
  r.expires_at = kNow - 1;
  EXPECT_EQ(refusal(signed_by(r, *op_)), "expires (1799999999) before it was issued (1800000000)");
}

// expires_at - issued_at and expires_at + skew overflowed for such times.
TEST_F(GuardTest, TimesOutOfRangeAreRefusedWithoutOverflow) {
  auto r = request();
  r.issued_at = std::numeric_limits<std::int64_t>::min();
  r.expires_at = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(refusal(signed_by(r, *op_)), "time -9223372036854775808 out of range 0-1099511627776");
  r = request();
  r.expires_at = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(refusal(signed_by(r, *op_)), "time 9223372036854775807 out of range 0-1099511627776");
}

TEST_F(GuardTest, AReplayIsRefusedUntilItCouldNoLongerBeValid) {
  const auto r = signed_by(request(), *op_);
  EXPECT_EQ(refusal(r), "accepted");
  EXPECT_EQ(refusal(r), "replayed (nonce " + r.nonce + " was seen before)");
  EXPECT_EQ(refusal(r, "_INBOX.abc", kNow + 40), "replayed (nonce " + r.nonce + " was seen before)");
  // Past expiry + skew it is refused as expired (the cache may forget it).
  EXPECT_EQ(refusal(r, "_INBOX.abc", kNow + 41), "expired 31 s ago (30 s of skew tolerated)");
}

TEST_F(GuardTest, AFullReplayCacheRefusesNewRequestsAndForgetsExpiredOnes) {
  for (int i = 0; i < 3; ++i) EXPECT_EQ(refusal(signed_by(request(), *op_)), "accepted");
  auto a = guard_->admit(signed_by(request(), *op_), "_INBOX.abc", kNow);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().category, ErrorCategory::busy);
  EXPECT_EQ(a.error().message, "too many live queries within their validity (3 remembered); try again later");
  // Once the three are past expires_at + skew, there is room again.
  auto later = request();
  later.issued_at = later.expires_at = kNow + 41;
  EXPECT_EQ(refusal(signed_by(later, *op_), "_INBOX.abc", kNow + 41), "accepted");
}

TEST(ReplayCache, ForgetsOnlyWhatIsPastItsTime) {
  ReplayCache c(10);
  EXPECT_EQ(c.insert("a", 100, 50), ReplayCache::Outcome::fresh);
  EXPECT_EQ(c.insert("b", 200, 50), ReplayCache::Outcome::fresh);
  EXPECT_EQ(c.insert("a", 100, 100), ReplayCache::Outcome::replayed);
  EXPECT_EQ(c.insert("c", 300, 101), ReplayCache::Outcome::fresh);
  EXPECT_EQ(c.size(), 2u);  // a forgotten
  EXPECT_EQ(c.insert("b", 200, 150), ReplayCache::Outcome::replayed);
}

}  // namespace
}  // namespace airssys::daemoneye
