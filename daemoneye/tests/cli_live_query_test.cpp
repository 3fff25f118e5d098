// Signed live queries end to end: a real nats-server on 127.0.0.1, the real
// daemoneye-agent with live_query enabled and the real daemoneye-cli
// (started and ended by pid here). A signed query returns the agent's rows;
// a query signed by an untrusted key and an unsigned request are refused
// without an answer (the CLI reports no reply); an expired and a replayed
// request are refused, audited with their reason, and not answered; every decision is in the agent's
// audit ledger. Then the CLI's own refusals: a private key others
// can read, flags that do not go together, no NATS server.

#include "harness.hpp"

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>
#include <airssys/ledger/ledger.hpp>

#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <sys/stat.h>

#include <ctime>

#include "../lib/src/live_query_test_keys.hpp"
#include "../lib/src/nats_test_server.hpp"

namespace detest {
namespace {

namespace de = airssys::daemoneye;

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded()) out.push_back(std::move(j));
  }
  return out;
}

class LiveQueryEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(cli_bin().empty()) << "DAEMONEYE_CLI_BIN is not set: run this test through ctest";
    ASSERT_FALSE(agent_bin().empty()) << "DAEMONEYE_AGENT_BIN is not set: run this test through ctest";
    fs::create_directories(rules_);
    fs::create_directories(keys_);
    de::testing::make_key_pair(keys_, "op");
    de::testing::make_key_pair(keys_, "stranger");
  }

  void write_config() {
    write_file(config_, fmt::format(R"(database: {{ path: {0}/daemoneye.db }}
scan: {{ interval: 500ms }}
rules: {{ dir: {1} }}
host: web1
alerts: {{ sinks: [] }}
live_query:
  enabled: true
  url: {2}
  trusted_keys: [{3}]
  max_rows: 100
  timeout: 2s
)",
                                    var_.string(), rules_.string(), server_.url(), (keys_ / "op.pub.pem").string()));
  }

  Outcome cli(std::vector<std::string> args) const { return run_cli(std::move(args), dir_.path()); }

  // A request sent by hand (libnats), for what the CLI never sends.
  std::optional<de::LiveQueryReply> send_raw(natsConnection* nc, de::LiveQueryRequest r, bool sign, const std::string& inbox,
                                             std::int64_t wait_ms = 10000) {
    r.reply_to = inbox;
    if (sign) {
      auto k = de::Ed25519PrivateKey::load(keys_ / "op.pem");
      EXPECT_TRUE(k) << k.error();
      r.key_id = k->fingerprint();
      r.signature = de::to_hex(*k->sign(de::canonical_bytes(r)));
    }
    natsSubscription* sub = nullptr;
    EXPECT_EQ(natsConnection_SubscribeSync(&sub, nc, inbox.c_str()), NATS_OK);
    EXPECT_EQ(natsConnection_Flush(nc), NATS_OK);
    const std::string body = de::encode_request(r);
    const std::string subject = de::live_query_subject_for("web1");
    EXPECT_EQ(natsConnection_PublishRequest(nc, subject.c_str(), inbox.c_str(), body.data(), static_cast<int>(body.size())),
              NATS_OK);
    natsMsg* m = nullptr;
    std::optional<de::LiveQueryReply> out;
    if (natsSubscription_NextMsg(&m, sub, wait_ms) == NATS_OK) {
      auto reply = de::decode_reply({natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))});
      if (reply) out = std::move(*reply);
      natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    return out;
  }

  std::vector<nlohmann::json> audited() const {
    std::vector<nlohmann::json> out;
    auto l = airssys::ledger::Ledger::open(var_ / "ledger", {.read_only = true});
    EXPECT_TRUE(l.has_value()) << l.error().to_string();
    if (!l) return out;
    for (std::uint64_t i = 0; i < (*l)->size(); ++i) {
      auto e = (*l)->entry(i);
      if (!e) continue;
      auto j = nlohmann::json::parse(std::string(e->begin(), e->end()), nullptr, false);
      if (!j.is_discarded() && j.value("type", "") == "live_query") out.push_back(std::move(j));
    }
    return out;
  }

  TempDir dir_;
  fs::path var_ = dir_.path() / "var";
  fs::path rules_ = dir_.path() / "rules";
  fs::path keys_ = dir_.path() / "keys";
  fs::path config_ = dir_.path() / "config.yaml";
  fs::path log_ = dir_.path() / "agent.log";
  de::testing::NatsServer server_{dir_.path() / "js", dir_.path() / "nats-server.log"};
};

TEST_F(LiveQueryEndToEnd, SignedQueriesRunAndEveryOtherRequestIsRefusedAndAudited) {
  server_.start();
  write_config();
  Child agent({agent_bin(), "--config", config_.string()}, log_, log_);
  ASSERT_TRUE(eventually([&] { return slurp(log_).find("first scan stored") != std::string::npos; }, 60s))
      << slurp(log_);
  ASSERT_NE(slurp(log_).find("live queries: listening on daemoneye.query.host.web1"), std::string::npos) << slurp(log_);
  const std::string sql = fmt::format("SELECT pid, name FROM processes WHERE pid = {}", agent.pid());
  const std::string op = (keys_ / "op.pem").string();

  // A signed query: the agent's own row comes back.
  Outcome ok = cli({"fleet", "query", "--key", op, "--hosts", "web1", "--server", server_.url(), "--json", sql});
  ASSERT_EQ(ok.code, 0) << ok.err << ok.out;
  auto lines = json_lines(ok.out);
  ASSERT_EQ(lines.size(), 1u) << ok.out;
  EXPECT_EQ(lines[0]["host"], "web1");
  EXPECT_EQ(lines[0]["status"], "ok");
  EXPECT_EQ(lines[0]["columns"], nlohmann::json({"pid", "name"}));
  ASSERT_EQ(lines[0]["rows"].size(), 1u) << ok.out;
  EXPECT_EQ(lines[0]["rows"][0][0], agent.pid());
  // The table, and --all reaches it too.
  Outcome table = cli({"fleet", "query", "--key", op, "--all", "--timeout", "2s", "--server", server_.url(), sql});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("== web1 (1 rows"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(std::to_string(agent.pid())), std::string::npos) << table.out;

  // The SQL guard still applies: exit 4 with the engine's reason.
  Outcome del = cli({"fleet", "query", "--key", op, "--hosts", "web1", "--server", server_.url(), "DELETE FROM processes"});
  EXPECT_EQ(del.code, 4) << del.err << del.out;
  EXPECT_NE(del.out.find("failed: not allowed: DELETE from processes"), std::string::npos) << del.out;

  // An untrusted key: refused without an answer (its reply subject is
  // unverified), so the CLI sees no reply: exit 6.
  Outcome wrong = cli({"fleet", "query", "--key", (keys_ / "stranger.pem").string(), "--hosts", "web1", "--server",
                       server_.url(), "--timeout", "2s", "--json", sql});
  EXPECT_EQ(wrong.code, 6) << wrong.err << wrong.out;
  lines = json_lines(wrong.out);
  ASSERT_EQ(lines.size(), 1u) << wrong.out;
  EXPECT_EQ(lines[0]["status"], "no_reply");
  EXPECT_NE(wrong.err.find("no reply from web1"), std::string::npos) << wrong.err;

  // What the CLI never sends: unsigned, expired, replayed.
  natsConnection* nc = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&nc, server_.url().c_str()), NATS_OK);
  de::LiveQueryRequest r;
  r.query = sql;
  r.hosts = {"web1"};
  r.nonce = *de::make_nonce();
  r.issued_at = static_cast<std::int64_t>(::time(nullptr));
  r.expires_at = r.issued_at + 10;
  // The unsigned, expired and replayed ones are audited but unanswered
  // (a captured request republished in a loop makes the agent publish
  // nothing); the agent handles requests in order, so the answer to the
  // next good one shows each was read.
  auto unsigned_reply = send_raw(nc, r, false, "_INBOX.test.1", 200);
  auto expired = r;
  expired.nonce = *de::make_nonce();
  expired.issued_at -= 600;
  expired.expires_at = expired.issued_at + 10;
  auto expired_reply = send_raw(nc, expired, true, "_INBOX.test.2", 200);
  auto fresh = r;
  fresh.nonce = *de::make_nonce();
  auto first = send_raw(nc, fresh, true, "_INBOX.test.3");
  auto replayed = send_raw(nc, fresh, true, "_INBOX.test.3", 200);
  auto after = r;
  after.nonce = *de::make_nonce();
  auto last = send_raw(nc, after, true, "_INBOX.test.4");
  natsConnection_Destroy(nc);
  EXPECT_FALSE(unsigned_reply) << unsigned_reply->message;
  EXPECT_FALSE(expired_reply) << expired_reply->message;
  EXPECT_FALSE(replayed) << replayed->message;
  ASSERT_TRUE(first && last);
  EXPECT_EQ(first->status, de::LiveQueryStatus::ok) << first->message;
  EXPECT_EQ(last->status, de::LiveQueryStatus::ok) << last->message;

  // The ledger holds every decision, in order, with the key's fingerprint and the reason.
  const auto op_fp = de::Ed25519PrivateKey::load(keys_ / "op.pem")->fingerprint();
  const auto stranger_fp = de::Ed25519PrivateKey::load(keys_ / "stranger.pem")->fingerprint();
  const auto a = audited();
  ASSERT_EQ(a.size(), 9u) << nlohmann::json(a).dump(1);
  const std::vector<std::pair<std::string, std::string>> expected{
      {"accepted", op_fp}, {"accepted", op_fp}, {"accepted", op_fp}, {"refused", stranger_fp}, {"refused", ""},
      {"refused", op_fp},  {"accepted", op_fp}, {"refused", op_fp},  {"accepted", op_fp}};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(a[i]["decision"], expected[i].first) << i << ": " << a[i].dump();
    EXPECT_EQ(a[i]["key"], expected[i].second) << i << ": " << a[i].dump();
    EXPECT_EQ(a[i]["host"], "web1");
  }
  EXPECT_EQ(a[0]["query"], sql);
  EXPECT_EQ(a[4]["reason"], "not signed");
  EXPECT_TRUE(a[5]["reason"].get<std::string>().starts_with("expired ")) << a[5].dump();
  EXPECT_EQ(a[7]["reason"], "replayed (nonce " + fresh.nonce + " was seen before)");
  // No key material in the ledger or the log.
  const std::string pem = slurp(keys_ / "op.pem");
  const std::string body = pem.substr(pem.find('\n') + 1, 40);
  EXPECT_EQ(nlohmann::json(a).dump().find(body), std::string::npos);
  EXPECT_EQ(slurp(log_).find(body), std::string::npos);
  EXPECT_NE(slurp(log_).find("live query refused: not signed"), std::string::npos) << slurp(log_);

  agent.signal(SIGTERM);
  EXPECT_EQ(agent.wait(60s).value_or(-1), 0);
}

TEST_F(LiveQueryEndToEnd, TheCliRefusesBadKeysBadFlagsAndMissingServers) {
  const std::string op = (keys_ / "op.pem").string();
  // Read by others: refused before anything is sent.
  ::chmod(op.c_str(), 0644);
  Outcome open_key = cli({"fleet", "query", "--key", op, "--hosts", "web1", "--server", "nats://127.0.0.1:1", "SELECT 1"});
  EXPECT_EQ(open_key.code, 4) << open_key.err;
  EXPECT_NE(open_key.err.find("refusing private key"), std::string::npos) << open_key.err;
  ::chmod(op.c_str(), 0600);
  // A public key where the private one belongs (its mode is one a private key may have).
  ::chmod((keys_ / "op.pub.pem").c_str(), 0600);
  Outcome pub = cli({"fleet", "query", "--key", (keys_ / "op.pub.pem").string(), "--all", "SELECT 1"});
  EXPECT_EQ(pub.code, 2) << pub.err;
  EXPECT_NE(pub.err.find("not an Ed25519 private key"), std::string::npos) << pub.err;
  EXPECT_EQ(cli({"fleet", "query", "--key", op, "SELECT 1"}).code, 2);
  EXPECT_EQ(cli({"fleet", "query", "--key", op, "--all", "--hosts", "a", "SELECT 1"}).code, 2);
  EXPECT_EQ(cli({"fleet", "query", "--key", op, "--all", "--timeout", "10m", "SELECT 1"}).code, 2);
  EXPECT_EQ(cli({"fleet", "query", "--key", op, "--hosts", "a,,b", "SELECT 1"}).code, 2);
  EXPECT_EQ(cli({"fleet", "query", "--all", "SELECT 1"}).code, 2);  // --key is required
  // No server: 6 (try again).
  const int port = de::testing::free_port();
  Outcome none = cli({"fleet", "query", "--key", op, "--all", "--timeout", "1s", "--server",
                      fmt::format("nats://127.0.0.1:{}", port), "SELECT 1"});
  EXPECT_EQ(none.code, 6) << none.err;
  EXPECT_NE(none.err.find("no NATS server answers"), std::string::npos) << none.err;
  // A server but nobody listening for the named host: 6, and the host is named.
  server_.start();
  Outcome silent = cli({"fleet", "query", "--key", op, "--hosts", "db9", "--timeout", "1s", "--server", server_.url(),
                        "SELECT 1"});
  EXPECT_EQ(silent.code, 6) << silent.err;
  EXPECT_NE(silent.err.find("no reply from db9 within 1000 ms"), std::string::npos) << silent.err;
}

}  // namespace
}  // namespace detest
