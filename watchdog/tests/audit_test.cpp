// Every kill task-watchdog makes is in its audit trail: <registry dir>/audit.jsonl
// (0600, osl's records) and, with --audit-ledger, an airssys-ledger. A real
// task that ignores SIGTERM is killed at its deadline by its monitor, and by
// the `kill` command; the records are read back from the real files.

#include "harness.hpp"

#include <airssys/ledger/ledger.hpp>

#include <sys/stat.h>

using namespace wdtest;
using nlohmann::json;

namespace {

// A task that must be killed: it ignores SIGTERM, and writes its pid first.
constexpr const char* kStubborn = R"(trap "" TERM; echo $$ > "$D/pid"; while :; do sleep 1; done)";

std::vector<json> records(const fs::path& file) {
  std::vector<json> out;
  std::istringstream in(slurp(file));
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

std::optional<pid_t> task_pid(const fs::path& dir) {
  const std::string s = slurp(dir / "pid");
  if (s.empty() || s.back() != '\n') return std::nullopt;
  return static_cast<pid_t>(std::stol(s));
}

bool names(const json& r, const std::string& resource) {
  for (const auto& x : r.value("resources", json::array())) {
    if (x == resource) return true;
  }
  return false;
}

// The ops (by op_id) whose start record satisfies `pred` and that ended ok.
std::size_t ended_ok(const std::vector<json>& recs, const std::function<bool(const json&)>& pred) {
  std::set<std::uint64_t> started;
  for (const auto& r : recs) {
    if (r["event"] == "start" && pred(r)) started.insert(r["op_id"].get<std::uint64_t>());
  }
  std::size_t n = 0;
  for (const auto& r : recs) {
    if (r["event"] == "end" && r["outcome"] == "ok" && started.contains(r["op_id"].get<std::uint64_t>())) ++n;
  }
  return n;
}

// SIGTERM and then a SIGKILL reached the task: a process.signal of 15 to its
// pid, and a process.kill of it or a cgroup.kill of its cgroup.
void expect_kill_audited(const std::vector<json>& recs, pid_t pid, const std::string& cgroup) {
  const auto to_pid = [&](const json& r, int sig) {
    return r.contains("detail") && r["detail"].value("pid", 0) == pid && r["detail"].value("signal", 0) == sig;
  };
  EXPECT_GE(ended_ok(recs, [&](const json& r) { return r["op"] == "process.signal" && to_pid(r, SIGTERM); }), 1u)
      << "no SIGTERM to " << pid << " in the audit log";
  const auto sigkill = ended_ok(recs, [&](const json& r) { return r["op"] == "process.kill" && to_pid(r, SIGKILL); });
  const auto cgkill = cgroup.empty() ? 0 : ended_ok(recs, [&](const json& r) { return r["op"] == "cgroup.kill" && names(r, cgroup); });
  EXPECT_GE(sigkill + cgkill, 1u) << "no SIGKILL of " << pid << " or cgroup.kill of '" << cgroup << "' in the audit log";
}

struct Started {
  pid_t pid = 0;
  std::string cgroup;  // empty: no cgroup here
};

Started start_stubborn(const TempDir& d, const fs::path& reg, const std::string& id, std::vector<std::string> extra) {
  std::vector<std::string> args{"start", "--registry", reg.string(), "--id", id, "--grace", "300ms", "--env", "D=" + d.path.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  args.insert(args.end(), {"--", "/bin/sh", "-c", kStubborn});
  auto r = run(d.path, args);
  EXPECT_EQ(r.rc, 0) << r.err;
  Started s;
  EXPECT_TRUE(eventually([&] { return task_pid(d.path).has_value(); }, 30s)) << "the task did not start";
  s.pid = task_pid(d.path).value_or(0);
  if (auto st = status_json(d.path, reg, id); st && (*st)["containment"]["kind"] == "cgroup2") {
    s.cgroup = (*st)["containment"]["cgroup"].get<std::string>();
  }
  return s;
}

TEST(Audit, DeadlineKillIsInTheAuditLog) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "state" / "registry.json";
  const auto log = d.path / "state" / "audit.jsonl";
  const Started t = start_stubborn(d, reg, "late", {"--timeout", "2s"});
  ASSERT_GT(t.pid, 0);
  ASSERT_TRUE(eventually([&] { return terminal(d.path, reg, "late"); }, 60s));
  EXPECT_TRUE(state_is(d.path, reg, "late", "timed_out"));
  EXPECT_TRUE(eventually([&] { return gone(t.pid); }, 10s));

  struct stat st{};
  ASSERT_EQ(::stat(log.c_str(), &st), 0) << "no " << log;
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  // The monitor writes its records as it ends: wait for the kill's.
  std::vector<json> recs;
  EXPECT_TRUE(eventually([&] {
    recs = records(log);
    return ended_ok(recs, [&](const json& r) { return r["op"] == "process.signal"; }) > 0 &&
           (t.cgroup.empty() || ended_ok(recs, [&](const json& r) { return r["op"] == "cgroup.remove"; }) > 0);
  }, 30s));
  expect_kill_audited(recs, t.pid, t.cgroup);
  EXPECT_GE(ended_ok(recs, [&](const json& r) { return r["op"] == "process.spawn" && names(r, "/usr/bin/dash") + names(r, "/bin/sh") + names(r, "/usr/bin/sh") + names(r, "/bin/dash") > 0; }), 1u)
      << "the task's spawn is not in the audit log";
  if (!t.cgroup.empty()) {
    EXPECT_GE(ended_ok(recs, [&](const json& r) { return r["op"] == "cgroup.create" && names(r, t.cgroup); }), 1u);
    EXPECT_GE(ended_ok(recs, [&](const json& r) { return r["op"] == "cgroup.remove" && names(r, t.cgroup); }), 1u);
  }
}

TEST(Audit, KillCommandIsInTheAuditLogAndTheLedger) {
  ASSERT_FALSE(bin().empty()) << "TASK_WATCHDOG_BIN is not set";
  TempDir d;
  const auto reg = d.path / "state" / "registry.json";
  const auto log = d.path / "state" / "audit.jsonl";
  const auto ledger_dir = d.path / "ledger";
  const Started t = start_stubborn(d, reg, "victim", {});
  ASSERT_GT(t.pid, 0);
  auto r = run(d.path, {"--audit-ledger", ledger_dir.string(), "kill", "--registry", reg.string(), "victim", "--grace", "300ms"});
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_TRUE(gone(t.pid));
  EXPECT_TRUE(state_is(d.path, reg, "victim", "killed"));

  // The kill command's own records are written before it exits.
  expect_kill_audited(records(log), t.pid, t.cgroup);

  // The same records, in the ledger: each entry is one record's JSON line.
  auto ledger = airssys::ledger::Ledger::open(ledger_dir, {.read_only = true});
  ASSERT_TRUE(ledger) << ledger.error().message;
  std::vector<json> entries;
  for (std::uint64_t i = 0; i < (*ledger)->size(); ++i) {
    auto e = (*ledger)->entry(i);
    ASSERT_TRUE(e);
    entries.push_back(json::parse(std::string(e->begin(), e->end())));
  }
  expect_kill_audited(entries, t.pid, t.cgroup);
}

}  // namespace
