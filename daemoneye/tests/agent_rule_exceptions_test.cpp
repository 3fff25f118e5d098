// Rule exceptions (docs/daemoneye.md "Rule exceptions") in the real agent:
// an exception silences exactly the rows of its rule it matches (another
// process matching the same rule, and another rule matching the same
// process, still raise), counts them in status.json and the metrics, and
// logs what it silenced; a SIGHUP takes a new exception; a broken file at a
// reload keeps the exceptions in use and makes the reload partial; an
// expired exception lets its rows raise again. At start, an exception on a
// column its rule does not return, or in a file others may write, is
// refused (its rows raise) and said.

#include "harness.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <csignal>

namespace detest {
namespace {

struct ExceptionsFixture : AgentDir {
  fs::path exc_dir = dir.path() / "exceptions";
  fs::path exc = exc_dir / "known.yaml";

  explicit ExceptionsFixture(const fs::path& exceptions_path = {}) {
    fs::create_directories(exc_dir);
    ::chmod(exc_dir.c_str(), 0755);
    write_config("", "500ms", "exceptions: " + (exceptions_path.empty() ? exc : exceptions_path).string());
    // Two rules over the same processes: the exceptions name `probe` only.
    for (const std::string id : {"probe", "probe2"})
      write_file(rules / (id + ".yaml"),
                 fmt::format("id: {}\nname: Exception probe {}\nseverity: high\nquery: \"SELECT pid, name, start_time, "
                             "cmdline, uid FROM processes WHERE cmdline LIKE '%exc-probe-%'\"\n",
                             id, id));
  }
  void write_exceptions(const std::string& entries) const {
    write_file(exc, "exceptions:\n" + entries);
    ::chmod(exc.c_str(), 0644);
  }
  static std::string entry(const std::string& id, const std::string& glob, const std::string& extra = "") {
    return fmt::format("  - id: {}\n    rule: probe\n    reason: a known test process\n    match:\n      cmdline: "
                       "{{glob: \"*{}*\"}}\n{}",
                       id, glob, extra);
  }
  nlohmann::json status() const {
    auto j = nlohmann::json::parse(slurp(var / "status.json"), nullptr, false);
    return j.is_discarded() ? nlohmann::json(nullptr) : j;
  }
  // status.json's entry for exception `id` (null while there is none).
  nlohmann::json exception(const std::string& id) const {
    const auto s = status();
    if (!s.is_object() || !s.contains("exceptions")) return nullptr;
    for (const auto& e : s["exceptions"])
      if (e.value("id", "") == id) return e;
    return nullptr;
  }
  std::uint64_t hits(const std::string& id) const {
    const auto e = exception(id);
    return e.is_object() ? e.value("hits", std::uint64_t{0}) : 0;
  }
  bool alerted(const std::string& rule, pid_t pid) const {
    for (const auto& a : alert_lines())
      if (a.value("rule_id", "") == rule && a["row"].value("pid", -1) == pid) return true;
    return false;
  }
  std::unique_ptr<Child> probe(const std::string& marker) const {
    return std::make_unique<Child>(std::vector<std::string>{"/bin/sh", "-c", "sleep 120; : exc-probe-" + marker});
  }
  std::uint64_t reloads() const {
    const auto s = status();
    if (!s.is_object() || !s.contains("reload")) return 0;
    const auto& r = s["reload"];
    return r.value("ok", 0u) + r.value("partial", 0u) + r.value("failed", 0u);
  }
  void hup(Child& agent) const {
    const std::uint64_t before = reloads();
    agent.signal(SIGHUP);
    ASSERT_TRUE(eventually([&] { return reloads() == before + 1; }, 60s)) << status().dump() << slurp(log);
  }
  std::string last_reload(const char* field) const { return status()["reload"]["last"].value(field, ""); }
  Outcome cli(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--config", config.string()});
    return run_cli(std::move(args), dir.path());
  }
};

TEST(AgentRuleExceptions, SilenceExactlyTheirRowsCountThemAndFollowReloadsAndExpiry) {
  ExceptionsFixture f;
  f.write_exceptions(ExceptionsFixture::entry("quiet-a", "exc-probe-quiet"));
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);

  auto quiet = f.probe("quiet");
  auto loud = f.probe("loud");
  // The same scan runs both rules: once probe2 raised the quiet process,
  // probe has seen it too.
  ASSERT_TRUE(eventually([&] {
    return f.alerted("probe2", quiet->pid()) && f.alerted("probe", loud->pid()) && f.alerted("probe2", loud->pid()) &&
           f.hits("quiet-a") > 0;
  }, 60s)) << slurp(f.alerts) << f.status().dump() << slurp(f.log);
  EXPECT_FALSE(f.alerted("probe", quiet->pid())) << slurp(f.alerts);
  const auto e = f.exception("quiet-a");
  EXPECT_EQ(e.value("rule", ""), "probe") << e.dump();
  EXPECT_EQ(e.value("reason", ""), "a known test process") << e.dump();
  EXPECT_GT(e.value("last_hit", std::int64_t{0}), 0) << e.dump();
  EXPECT_FALSE(e.value("expired", true)) << e.dump();
  // Only a glob on the command line, which the process chooses: weak, said at load and in status.json.
  EXPECT_TRUE(e.value("weak", false)) << e.dump();
  EXPECT_NE(e.value("weak_reason", "").find("no exact condition on a column the kernel gives"), std::string::npos)
      << e.dump();
  EXPECT_NE(slurp(f.log).find("rule exception: " + f.exc.string() + ":2: exception 'quiet-a': weak: "),
            std::string::npos)
      << slurp(f.log);
  // What was silenced is in the log, with the row's key and its columns.
  EXPECT_NE(slurp(f.log).find(fmt::format("exception quiet-a silenced an alert of rule probe: probe|pid={}|", quiet->pid())),
            std::string::npos)
      << slurp(f.log);
  EXPECT_NE(slurp(f.log).find(fmt::format("row: pid={}, name=sh, start_time=", quiet->pid())), std::string::npos)
      << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("cmdline=/bin/sh -c sleep 120; : exc-probe-quiet, uid="), std::string::npos)
      << slurp(f.log);
  // And kept in the store, for daemoneye-cli query (excepted_alerts).
  const auto q = f.cli({"query", "SELECT exception_id, rule_id, dedup_key, row FROM excepted_alerts"});
  EXPECT_EQ(q.code, 0) << q.err;
  EXPECT_NE(q.out.find(fmt::format("probe|pid={}|", quiet->pid())), std::string::npos) << q.out << q.err;
  EXPECT_NE(q.out.find("quiet-a"), std::string::npos) << q.out;
  EXPECT_NE(q.out.find("exc-probe-quiet"), std::string::npos) << q.out;
  const auto metrics = f.cli({"metrics"});
  EXPECT_NE(metrics.out.find("daemoneye_alerts_excepted_total{rule=\"probe\",exception=\"quiet-a\"} "),
            std::string::npos)
      << metrics.out << metrics.err;
  EXPECT_EQ(metrics.out.find("daemoneye_alerts_excepted_total{rule=\"probe\",exception=\"quiet-a\"} 0\n"),
            std::string::npos)
      << metrics.out;

  // A SIGHUP takes a new exception; this one pinned by the uid (the kernel's): not weak.
  const std::string my_uid = fmt::format("      uid: {}\n", ::getuid());
  f.write_exceptions(ExceptionsFixture::entry("quiet-a", "exc-probe-quiet") +
                     ExceptionsFixture::entry("quiet-new", "exc-probe-new", my_uid));
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent));
  EXPECT_EQ(f.last_reload("result"), "ok") << f.status()["reload"].dump() << slurp(f.log);
  EXPECT_FALSE(f.exception("quiet-new").value("weak", true)) << f.status().dump();
  auto added = f.probe("new");
  ASSERT_TRUE(eventually([&] { return f.alerted("probe2", added->pid()) && f.hits("quiet-new") > 0; }, 60s))
      << slurp(f.alerts) << f.status().dump() << slurp(f.log);
  EXPECT_FALSE(f.alerted("probe", added->pid())) << slurp(f.alerts);
  EXPECT_GT(f.hits("quiet-a"), 0u);  // kept its count across the reload

  // A broken edit at a reload: quiet-a broken (a typo), quiet-new removed, a new
  // entry refused. The old quiet-a stays (the load could not judge it); quiet-new
  // is gone from a file that loaded, so it is gone (before: a typo kept it in force).
  f.write_exceptions("  - {id: quiet-a, rule: probe, reason: x, match: {cmdlin: y}}\n"
                     "  - {id: typo, rule: probe, reason: x, match: {cmdlin: y}}\n" +
                     ExceptionsFixture::entry("other", "exc-probe-other", my_uid));
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent));
  EXPECT_EQ(f.last_reload("result"), "partial") << f.status()["reload"].dump();
  const std::string error = f.last_reload("error");
  EXPECT_NE(error.find("rule exceptions: 2 refused, 1 loaded, the old version of 1 kept (quiet-a)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("'cmdlin' is not a column of rule probe's result"), std::string::npos) << error;
  ASSERT_TRUE(f.status()["exceptions_rejected"].is_array()) << f.status().dump();
  EXPECT_EQ(f.status()["exceptions_rejected"].size(), 2u) << f.status().dump();
  EXPECT_TRUE(f.exception("quiet-new").is_null()) << f.status().dump();
  EXPECT_FALSE(f.exception("other").is_null()) << f.status().dump();
  auto quiet2 = f.probe("quiet-2");
  auto new2 = f.probe("new-2");
  ASSERT_TRUE(eventually([&] { return f.alerted("probe2", quiet2->pid()) && f.alerted("probe", new2->pid()); }, 60s))
      << slurp(f.alerts) << slurp(f.log);
  EXPECT_FALSE(f.alerted("probe", quiet2->pid())) << slurp(f.alerts);  // the old quiet-a

  // Expired: its rows raise again (the quiet process, never raised by probe, is now).
  f.write_exceptions(ExceptionsFixture::entry("quiet-a", "exc-probe-quiet", "    expires: 2026-01-01\n"));
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent));
  EXPECT_EQ(f.last_reload("result"), "ok") << f.status()["reload"].dump() << slurp(f.log);
  ASSERT_TRUE(eventually([&] { return f.alerted("probe", quiet->pid()) && f.alerted("probe", quiet2->pid()); }, 60s))
      << slurp(f.alerts) << slurp(f.log);
  EXPECT_TRUE(f.exception("quiet-a").value("expired", false)) << f.status().dump();
  EXPECT_TRUE(f.exception("other").is_null()) << f.status().dump();  // gone with the reload
  EXPECT_NE(slurp(f.log).find("exception quiet-a (rule probe) expired at 2026-01-01T00:00:00Z"), std::string::npos)
      << slurp(f.log);

  // The file deleted: no exceptions (not the old ones), said.
  ASSERT_EQ(::unlink(f.exc.c_str()), 0);
  ASSERT_NO_FATAL_FAILURE(f.hup(*agent));
  EXPECT_EQ(f.last_reload("result"), "ok") << f.status()["reload"].dump() << slurp(f.log);
  EXPECT_TRUE(f.status()["exceptions"].empty()) << f.status().dump();
  EXPECT_NE(slurp(f.log).find("rules.exceptions: " + f.exc.string() + " does not exist: no rule exceptions are in force"),
            std::string::npos)
      << slurp(f.log);

  stop_agent(*agent, f.log);
}

// Excepted rows are taken as the rows are read: a flood of them cannot use
// up the rule's max_rows and push a real row past the cut. A result still
// cut is said (log, status.json rules.cut, the metric).
TEST(AgentRuleExceptions, ExceptedRowsUseNoneOfMaxRowsAndACutResultIsSaid) {
  ExceptionsFixture f;
  f.write_config("", "500ms", "exceptions: " + f.exc.string() + ", max_rows: 3");
  // The excepted rows first, so a cut before the exceptions keeps only them.
  write_file(f.rules / "flood.yaml",
             "id: flood\nname: Exception flood\nseverity: high\nquery: \"SELECT pid, name, start_time, cmdline, uid "
             "FROM processes WHERE cmdline LIKE '%exc-flood-%' ORDER BY cmdline LIKE '%exc-flood-loud%', pid\"\n");
  f.write_exceptions(fmt::format("  - id: flood-quiet\n    rule: flood\n    reason: known\n    match:\n      cmdline: "
                                 "{{glob: \"*exc-flood-quiet*\"}}\n      uid: {}\n",
                                 ::getuid()));
  const auto child = [](const std::string& marker) {
    return std::make_unique<Child>(std::vector<std::string>{"/bin/sh", "-c", "sleep 120; : exc-flood-" + marker});
  };
  std::vector<std::unique_ptr<Child>> quiet;
  for (int i = 0; i < 5; ++i) quiet.push_back(child("quiet-" + std::to_string(i)));
  auto loud = child("loud-0");
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(eventually([&] { return f.alerted("flood", loud->pid()) && f.hits("flood-quiet") >= 5; }, 60s))
      << slurp(f.alerts) << f.status().dump() << slurp(f.log);
  for (const auto& q : quiet) EXPECT_FALSE(f.alerted("flood", q->pid())) << slurp(f.alerts);
  EXPECT_EQ(slurp(f.log).find("rule flood: its result was cut"), std::string::npos) << slurp(f.log);

  // Four rows past the exceptions, max_rows 3: cut, and said.
  std::vector<std::unique_ptr<Child>> more;
  for (int i = 1; i <= 3; ++i) more.push_back(child("loud-" + std::to_string(i)));
  ASSERT_TRUE(eventually([&] {
    const auto s = f.status();
    return s.is_object() && s["rules"].contains("cut") && s["rules"]["cut"].value("flood", 0u) > 0;
  }, 60s)) << f.status().dump() << slurp(f.log);
  EXPECT_NE(slurp(f.log).find("rule flood: its result was cut at 3 rows (5 more taken by rule exceptions)"),
            std::string::npos)
      << slurp(f.log);
  const auto metrics = f.cli({"metrics"});
  EXPECT_NE(metrics.out.find("daemoneye_rule_results_cut_total{rule=\"flood\"} "), std::string::npos)
      << metrics.out << metrics.err;
  stop_agent(*agent, f.log);
}

TEST(AgentRuleExceptions, AtStartAnExceptionOnAMissingColumnOrInAFileOthersMayWriteIsRefusedAndItsRowsRaise) {
  ExceptionsFixture f(fs::path{});  // rules.exceptions: the directory
  f.write_config("", "500ms", "exceptions: " + f.exc_dir.string());
  write_file(f.exc_dir / "a.yaml", "exceptions:\n" + ExceptionsFixture::entry("typo", "exc-probe-t") +
                                       "      pathh: /x\n");
  ::chmod((f.exc_dir / "a.yaml").c_str(), 0644);
  write_file(f.exc_dir / "b.yaml", "exceptions:\n" + ExceptionsFixture::entry("open-file", "exc-probe-t"));
  ::chmod((f.exc_dir / "b.yaml").c_str(), 0666);
  auto agent = f.start_agent();
  ASSERT_GT(agent->pid(), 0);
  auto p = f.probe("t");
  ASSERT_TRUE(eventually([&] { return f.alerted("probe", p->pid()); }, 60s)) << slurp(f.alerts) << slurp(f.log);
  const std::string log = slurp(f.log);
  EXPECT_NE(log.find("exception 'typo': match: 'pathh' is not a column of rule probe's result, so the exception "
                     "could never match (columns: pid, name, start_time, cmdline, uid)"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find((f.exc_dir / "b.yaml").string() +
                     ": refusing exception file: it is writable by everyone (mode 0666)"),
            std::string::npos)
      << log;
  const auto s = f.status();
  ASSERT_TRUE(s["exceptions_rejected"].is_array()) << s.dump();
  EXPECT_EQ(s["exceptions_rejected"].size(), 2u) << s.dump();
  EXPECT_TRUE(s["exceptions"].empty()) << s.dump();
  stop_agent(*agent, f.log);
}

}  // namespace
}  // namespace detest
