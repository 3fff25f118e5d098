// daemoneye-agent and a ledger it finds unreadable at start, across a start
// that fails: the ledger is set aside only once the store has opened (a
// store the agent refuses leaves it where it is), the set-aside is logged
// when it happens, and a discontinuity found by a start that then fails (a
// sink that cannot open) is recorded in the store and raised by the next
// start, once, with the problem, reason and place the failed start found -
// not as another problem, and not never because the failed start had moved
// the store's mark onto the new ledger. Also: a ledger.dir written with a
// trailing slash. The real agent and procmond on real files
// (docs/daemoneye.md "A ledger missing, cut short or replaced at start").

#include "harness.hpp"
#include "store_query.hpp"

#include <airssys/ledger/ledger.hpp>

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace detest {
namespace {

constexpr const char* kDiscontinuityRule = "daemoneye-ledger-discontinuity";

struct AsideAgent : AgentDir {
  fs::path db = var / "daemoneye.db";
  fs::path ledger = var / "ledger";

  explicit AsideAgent(std::string_view extra = "") {
    write_self_rule(rules);  // matches this test process: raised at the first scan
    write_config(extra);
  }

  std::int64_t ledger_size() const {
    auto l = airssys::ledger::Ledger::open(ledger, {.read_only = true});
    return l ? static_cast<std::int64_t>((*l)->size()) : -1;
  }
  // A start that fails: its exit code.
  int failed_start() {
    auto agent = start_agent();
    return agent->wait().value_or(-1);
  }
  void damage_head() const {
    std::fstream head(ledger / "head", std::ios::in | std::ios::out | std::ios::binary);
    head.seekp(20);
    head.put('\xff');
  }
  std::vector<fs::path> set_aside() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(var))
      if (e.path().filename().string().starts_with("ledger.unverifiable-")) out.push_back(e.path());
    return out;
  }
  // The file sink made unopenable (a directory where its file is) and back.
  void break_sink() const {
    fs::rename(alerts, var / "alerts.kept");
    fs::create_directory(alerts);
  }
  void mend_sink() const {
    fs::remove(alerts);
    fs::rename(var / "alerts.kept", alerts);
  }
};

std::string checksum_reason(const fs::path& ledger) {
  return fmt::format("unverifiable: ledger {0}: corrupt: {0}: head: checksum mismatch (set aside as {0}.unverifiable-",
                     ledger.string());
}

// Before: the ledger was renamed before the store opened; a store refused
// for its schema version stopped the start with the ledger already moved
// and nothing said, and the next start called it "shorter", without reason
// or place.
TEST(AgentLedgerSetAside, AStoreThatRefusesTheStartLeavesTheLedgerWhereItIs) {
  AsideAgent a;
  a.run_until("self", 1);
  const std::int64_t old_size = a.ledger_size();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  const std::string version = query_text(a.db, "PRAGMA user_version");
  a.damage_head();
  ASSERT_EQ(exec_sql(a.db, "PRAGMA user_version=99"), "");
  EXPECT_EQ(a.failed_start(), 2) << slurp(a.log);
  EXPECT_NE(slurp(a.log).find("database schema version 99 is newer"), std::string::npos) << slurp(a.log);
  EXPECT_TRUE(a.set_aside().empty()) << "the ledger was moved by a start that did not go on";
  EXPECT_TRUE(fs::exists(a.ledger / "head"));

  ASSERT_EQ(exec_sql(a.db, "PRAGMA user_version=" + version), "");
  a.run_until(kDiscontinuityRule, 1);
  const auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  const nlohmann::json& row = raised[0]["row"];
  EXPECT_EQ(row.value("problem", ""), "unverifiable") << row.dump();
  EXPECT_TRUE(row.value("reason", "").starts_with(checksum_reason(a.ledger))) << row.dump();
  EXPECT_EQ(row.value("expected_size", std::int64_t{-1}), old_size) << row.dump();
  ASSERT_EQ(a.set_aside().size(), 1u);
  EXPECT_TRUE(row.value("reason", "").ends_with(a.set_aside()[0].string() + ")")) << row.dump();
}

// Before: the start logged the set-aside, moved the store's mark onto the
// new ledger, then failed on its sink; the next start raised nothing at all.
TEST(AgentLedgerSetAside, ASetAsideByAStartThatThenFailsIsRaisedOnceByTheNextStart) {
  AsideAgent a;
  a.run_until("self", 1);
  const std::int64_t old_size = a.ledger_size();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  a.damage_head();
  a.break_sink();
  EXPECT_EQ(a.failed_start(), 2) << slurp(a.log);
  const auto aside = a.set_aside();
  ASSERT_EQ(aside.size(), 1u) << slurp(a.log);
  // Said when it happened, with where it went.
  EXPECT_NE(slurp(a.log).find(fmt::format("error daemoneye-agent: the audit ledger {} cannot be read (", a.ledger.string())),
            std::string::npos)
      << slurp(a.log);
  EXPECT_NE(slurp(a.log).find(fmt::format("set aside as it is, as {}", aside[0].string())), std::string::npos)
      << slurp(a.log);

  a.mend_sink();
  a.run_until(kDiscontinuityRule, 1);
  auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  const nlohmann::json& row = raised[0]["row"];
  EXPECT_EQ(row.value("problem", ""), "unverifiable") << row.dump();
  EXPECT_EQ(row.value("reason", ""),
            fmt::format("unverifiable: ledger {0}: corrupt: {0}: head: checksum mismatch (set aside as {1})",
                        a.ledger.string(), aside[0].string()))
      << row.dump();
  EXPECT_EQ(row.value("expected_size", std::int64_t{-1}), old_size) << row.dump();
  EXPECT_EQ(row.value("found_size", std::int64_t{-1}), 0) << row.dump();
  EXPECT_EQ(a.set_aside().size(), 1u) << "the new ledger was set aside too";
  EXPECT_EQ(count_rows(a.db, fmt::format("SELECT count(*) FROM alerts WHERE rule_id = '{}'", kDiscontinuityRule)), 1);

  // Once: a restart raises nothing more.
  a.run_until("daemoneye.ledger", a.alerts_of("daemoneye.ledger").size() + 1);
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 1u) << slurp(a.log);
}

// The older kinds the same: a ledger moved away, found by a start that
// then fails, is raised "missing" by the next.
TEST(AgentLedgerSetAside, AMissingLedgerFoundByAStartThatThenFailsIsRaisedOnceByTheNextStart) {
  AsideAgent a;
  a.run_until("self", 1);
  const std::int64_t old_size = a.ledger_size();
  ASSERT_GE(old_size, 1) << slurp(a.log);
  fs::rename(a.ledger, a.var / "ledger.1");
  a.break_sink();
  EXPECT_EQ(a.failed_start(), 2) << slurp(a.log);
  a.mend_sink();
  a.run_until(kDiscontinuityRule, 1);
  const auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0]["row"].value("problem", ""), "missing") << raised[0].dump();
  EXPECT_EQ(raised[0]["row"].value("expected_size", std::int64_t{-1}), old_size) << raised[0].dump();
  a.run_until("daemoneye.ledger", a.alerts_of("daemoneye.ledger").size() + 1);
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 1u) << slurp(a.log);
}

// An I/O error is no proof of damage (EIO, EMFILE, ENOMEM, ENOSPC... may
// pass): the start fails with exit 1, which systemd retries, and the ledger
// stays as it is. The error made here: a socket where a ledger file is,
// whose open fails ENXIO, which the ledger library reports as `io` as it
// does EIO. Before, every `io` error but EACCES/EPERM set the ledger aside.
TEST(AgentLedgerSetAside, AnIoErrorFailsTheStartAndLeavesTheLedgerWhereItIs) {
  AsideAgent a;
  a.run_until("self", 1);
  const std::int64_t size = a.ledger_size();
  ASSERT_GE(size, 1) << slurp(a.log);
  const fs::path head = a.ledger / "head", kept = a.var / "head.kept";
  fs::rename(head, kept);
  const int sock = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  ASSERT_LT(head.string().size(), sizeof addr.sun_path);
  std::memcpy(addr.sun_path, head.c_str(), head.string().size());
  ASSERT_EQ(::bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
  EXPECT_EQ(a.failed_start(), 1) << slurp(a.log);
  ::close(sock);
  EXPECT_NE(slurp(a.log).find(fmt::format("cannot start: ledger {0}: io: {0}: open head: No such device or address",
                                          a.ledger.string())),
            std::string::npos)
      << slurp(a.log);
  EXPECT_TRUE(a.set_aside().empty()) << "a ledger set aside over an I/O error";

  // The error gone, the same ledger goes on: nothing to raise.
  fs::remove(head);
  fs::rename(kept, head);
  a.run_until("daemoneye.ledger", a.alerts_of("daemoneye.ledger").size() + 1);
  EXPECT_EQ(a.alerts_of(kDiscontinuityRule).size(), 0u) << slurp(a.log);
  EXPECT_GE(a.ledger_size(), size);
}

// Before: "ledger.dir: DIR/" named the aside DIR/.unverifiable-T, which
// rename refuses (EINVAL): every start failed.
TEST(AgentLedgerSetAside, ALedgerDirWithATrailingSlashIsSetAsideBesideIt) {
  AsideAgent a;
  a.write_config("ledger: { dir: " + a.ledger.string() + "/ }\n");
  a.run_until("self", 1);
  a.damage_head();
  a.run_until(kDiscontinuityRule, 1);
  const auto aside = a.set_aside();
  ASSERT_EQ(aside.size(), 1u) << slurp(a.log);
  const auto raised = a.alerts_of(kDiscontinuityRule);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_TRUE(raised[0]["row"].value("reason", "").ends_with(aside[0].string() + ")")) << raised[0].dump();
}

}  // namespace
}  // namespace detest
