// Rule exceptions (rule_exception.hpp, exception_filter.hpp): parsing with
// exact messages, the column check against a real store's engine, the path
// trust checks on real files, matching, expiry and the filter's counters.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <airssys/daemoneye/exception_filter.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_exception.hpp>
#include <airssys/daemoneye/store.hpp>

#include <limits>
#include <string>
#include <vector>

#include "store_engine_fixture.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15

std::string errors(const ExceptionSet& s) {
  std::string out;
  for (const auto& e : s.errors) out += e.message + "\n";
  return out;
}

constexpr std::string_view kMemfd = R"(exceptions:
  - id: sandbox-backend
    rule: exec-from-tmp
    reason: the VM's tool backend
    match:
      path: { glob: "/memfd:sealed-*" }
      parent: 1
      uid: 0
)";

Alert alert(std::string rule, std::string row, std::string key = "k") {
  Alert a;
  a.rule_id = std::move(rule);
  a.row_json = std::move(row);
  a.dedup_key = std::move(key);
  return a;
}

TEST(ParseExceptions, ReadsAnEntryAndMatchesByGlobAndNumber) {
  const ExceptionSet s = parse_exceptions(kMemfd, "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  ASSERT_EQ(s.exceptions.size(), 1u);
  const RuleException& e = s.exceptions[0];
  EXPECT_EQ(e.id, "sandbox-backend");
  EXPECT_EQ(e.rule, "exec-from-tmp");
  EXPECT_EQ(e.line, 2);
  EXPECT_TRUE(e.weak.empty()) << e.weak;  // uid 0: the kernel's
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_TRUE(matches(e, R"j({"pid":5,"path":"/memfd:sealed-91173221a7ea (deleted)","parent":1,"uid":0})j"));
  EXPECT_FALSE(matches(e, R"j({"pid":5,"path":"/memfd:sealed-91173221a7ea (deleted)","parent":2,"uid":0})j"));
  // The reviewer's row: uid 65534's orphan ran memfd_create("sealed-91173221a7ea").
  EXPECT_FALSE(matches(e, R"j({"pid":5,"path":"/memfd:sealed-91173221a7ea (deleted)","parent":1,"uid":65534})j"));
  EXPECT_FALSE(matches(e, R"({"pid":5,"path":"/tmp/payload","parent":1,"uid":0})"));
  EXPECT_FALSE(matches(e, R"({"pid":5,"parent":1,"uid":0})"));                 // a column the row lacks
  EXPECT_FALSE(matches(e, R"({"pid":5,"path":null,"parent":1,"uid":0})"));     // NULL never holds
  EXPECT_FALSE(matches(e, R"({"pid":5,"path":"/memfd:sealed-x","parent":"1x","uid":0})"));
  EXPECT_TRUE(matches(e, R"({"pid":5,"path":"/memfd:sealed-x","parent":"1","uid":0})"));  // text compared as written
  // FNM_PATHNAME on path: '*' does not cross '/'.
  EXPECT_FALSE(matches(e, R"({"pid":5,"path":"/memfd:sealed-x/../../tmp/p","parent":1,"uid":0})"));
  // Only its own rule.
  EXPECT_EQ(exception_for(s.exceptions, alert("exec-from-tmp", R"({"path":"/memfd:sealed-1","parent":1,"uid":0})"), kNow), &e);
  EXPECT_EQ(exception_for(s.exceptions, alert("reverse-shell", R"({"path":"/memfd:sealed-1","parent":1,"uid":0})"), kNow), nullptr);
}

TEST(ParseExceptions, AnExceptionOnlyOnColumnsTheProcessChoosesOrWithABareStarIsWeakAndWarned) {
  // The shipped example before the review: path and parent, no uid.
  const ExceptionSet s = parse_exceptions(
      "exceptions:\n"
      "  - {id: a, rule: r, reason: x, match: {path: {glob: '/memfd:sealed-*'}, parent: 1}}\n"
      "  - {id: b, rule: r, reason: x, match: {uid: {glob: '0'}, name: n}}\n"
      "  - {id: c, rule: r, reason: x, match: {uid: 0, cmdline: {glob: '**'}}}\n"
      "  - {id: d, rule: r, reason: x, match: {euid: 0, cmdline: {glob: '*x*'}}}\n",
      "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  ASSERT_EQ(s.exceptions.size(), 4u);
  const std::string process_chosen =
      "no exact condition on a column the kernel gives (uid, euid, gid, egid, start_time, loginuid, auid): name, "
      "cmdline, cwd, path and parent are the process's to choose, so any user's process can match it";
  EXPECT_EQ(s.exceptions[0].weak, process_chosen);
  EXPECT_EQ(s.exceptions[1].weak, process_chosen);  // a glob on uid pins nothing exact
  EXPECT_EQ(s.exceptions[2].weak, "match: cmdline: the glob '**' matches any value");
  EXPECT_EQ(s.exceptions[3].weak, "");
  ASSERT_EQ(s.warnings.size(), 3u);
  EXPECT_EQ(s.warnings[0].message, "x.yaml:2: exception 'a': weak: " + process_chosen);
  EXPECT_EQ(s.warnings[0].rule, "r");
  // '*' crosses '/' in a column that is not path-like.
  EXPECT_TRUE(matches(s.exceptions[3], R"({"euid":0,"cmdline":"/bin/x/y"})"));
}

TEST(ParseExceptions, ANulByteInAValueOrPatternIsRefused) {
  const ExceptionSet s = parse_exceptions(
      "exceptions:\n"
      "  - {id: a, rule: r, reason: x, match: {uid: 0, cmdline: {glob: \"*\\0/tmp/x\"}}}\n"
      "  - {id: b, rule: r, reason: x, match: {uid: 0, cmdline: \"a\\0b\"}}\n",
      "x.yaml", kNow);
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_EQ(errors(s),
            "x.yaml:2: exception 'a': match: cmdline: a NUL byte in the value (it would cut the pattern there)\n"
            "x.yaml:3: exception 'b': match: cmdline: a NUL byte in the value (it would cut the pattern there)\n");
}

TEST(ParseExceptions, ExactValuesAreNotPatterns) {
  const ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: x, match: {path: \"/tmp/*\"}}\n", "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  EXPECT_TRUE(matches(s.exceptions[0], R"({"path":"/tmp/*"})"));
  EXPECT_FALSE(matches(s.exceptions[0], R"({"path":"/tmp/x"})"));
}

TEST(ParseExceptions, EachBadEntryIsAnErrorNamingFileLineEntryAndFieldTheOthersLoad) {
  const std::string text = R"(exceptions:
  - id: ok
    rule: r
    reason: fine
    match: {pid: 1}
  - id: no-reason
    rule: r
    match: {pid: 1}
  - id: empty-reason
    rule: r
    reason: "  "
    match: {pid: 1}
  - id: typo
    rule: r
    reason: x
    match: {pid: 1}
    expire: 2027-01-01
  - id: bad-date
    rule: r
    reason: x
    match: {pid: 1}
    expires: 2027-02-30
  - id: wildcard
    rule: "exec-*"
    reason: x
    match: {pid: 1}
  - id: empty-match
    rule: r
    reason: x
    match: {}
  - id: ok
    rule: r
    reason: again
    match: {pid: 2}
)";
  const ExceptionSet s = parse_exceptions(text, "/e/x.yaml", kNow);
  ASSERT_EQ(s.exceptions.size(), 1u) << errors(s);
  EXPECT_EQ(errors(s),
            "/e/x.yaml:6: exception 'no-reason': missing required field 'reason'\n"
            "/e/x.yaml:11: exception 'empty-reason': reason: must not be empty (say why this match is fine)\n"
            "/e/x.yaml:17: exception 'typo': unknown field 'expire' (known: id, rule, reason, match, expires, owner, "
            "ticket)\n"
            "/e/x.yaml:22: exception 'bad-date': expires: '2027-02-30' is not a date (2027-03-31) or a UTC time "
            "(2027-03-31T12:00:00Z, or with an offset +02:00)\n"
            "/e/x.yaml:24: exception 'wildcard': rule: 'exec-*' is not a rule id (an exception names one rule: no "
            "wildcard)\n"
            "/e/x.yaml:30: exception 'empty-match': match: must be a mapping of at least one column to a value or "
            "{glob: PATTERN} (got a mapping)\n"
            "/e/x.yaml:31: exception 'ok': duplicate id 'ok'\n");
  EXPECT_EQ(s.errors[0].rule, "r");
}

TEST(ParseExceptions, Expiry) {
  EXPECT_EQ(parse_expiry("2027-01-15"), 1'800'000'000 - 1'800'000'000 % 86400);
  EXPECT_EQ(parse_expiry("2027-01-15T08:00:00Z"), 1'800'000'000 - 1'800'000'000 % 86400 + 8 * 3600);
  EXPECT_EQ(parse_expiry("2027-01-15T10:00:00+02:00"), parse_expiry("2027-01-15T08:00:00Z"));
  EXPECT_EQ(parse_expiry("2027-01-15T08:00:00"), std::nullopt);  // no zone: ambiguous
  EXPECT_EQ(parse_expiry("15.01.2027"), std::nullopt);
  EXPECT_EQ(parse_expiry("2027-13-01"), std::nullopt);
  const ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: x, match: {uid: 1}, expires: 2027-01-01}\n", "x.yaml", kNow);
  ASSERT_EQ(s.exceptions.size(), 1u) << errors(s);
  EXPECT_FALSE(in_force(s.exceptions[0], kNow));
  EXPECT_TRUE(in_force(s.exceptions[0], *parse_expiry("2026-12-31T23:59:59Z")));
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0].message, "x.yaml:2: exception 'a': expired at 2027-01-01T00:00:00Z: it no longer applies (remove it)");
  EXPECT_EQ(exception_for(s.exceptions, alert("r", R"({"uid":1})"), kNow), nullptr);
}

class LoadExceptions : public test::StoreAndEngine {
 protected:
  void SetUp() override {
    StoreAndEngine::SetUp();
    if (HasFatalFailure()) return;
    Rule r;
    r.id = "exec-from-tmp";
    r.query = "SELECT pid, path, parent, uid, start_time FROM processes";
    rules_.push_back(r);
    ASSERT_EQ(::mkdir((tmp_ / "exc").c_str(), 0755), 0);
  }
  ExceptionSet load(const fs::path& p) { return load_exceptions(p, rules_, *engine_, kNow); }
  std::vector<Rule> rules_;
};

TEST_F(LoadExceptions, AMatchOnAColumnTheRuleLacksIsRefusedNamingIt) {
  write_file(tmp_ / "exc/a.yaml", "exceptions:\n  - {id: typo, rule: exec-from-tmp, reason: x, match: {pathh: /x}}\n");
  const ExceptionSet s = load(tmp_ / "exc/a.yaml");
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_EQ(errors(s), (tmp_ / "exc/a.yaml").string() +
                           ":2: exception 'typo': match: 'pathh' is not a column of rule exec-from-tmp's result, so the "
                           "exception could never match (columns: pid, path, parent, uid, start_time)\n");
}

TEST_F(LoadExceptions, AnUnknownRuleIsAWarningAndLoads) {
  write_file(tmp_ / "exc/a.yaml", "exceptions:\n  - {id: gone, rule: removed-rule, reason: x, match: {pathh: /x, uid: 0}}\n");
  const ExceptionSet s = load(tmp_ / "exc/a.yaml");
  EXPECT_TRUE(s.errors.empty()) << errors(s);
  ASSERT_EQ(s.exceptions.size(), 1u);
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_NE(s.warnings[0].message.find("rule 'removed-rule' is not loaded"), std::string::npos) << s.warnings[0].message;
  EXPECT_EQ(s.warnings[0].rule, "removed-rule");
}

TEST_F(LoadExceptions, ADirectoryLoadsItsYamlFilesInNameOrderAndDuplicatesAcrossFilesAreRefused) {
  write_file(tmp_ / "exc/b.yaml", "exceptions:\n  - {id: one, rule: exec-from-tmp, reason: y, match: {pid: 2}}\n");
  write_file(tmp_ / "exc/a.yml", "exceptions:\n  - {id: one, rule: exec-from-tmp, reason: x, match: {pid: 1}}\n");
  write_file(tmp_ / "exc/README", "not read");
  const ExceptionSet s = load(tmp_ / "exc");
  ASSERT_EQ(s.exceptions.size(), 1u) << errors(s);
  EXPECT_EQ(s.exceptions[0].reason, "x");
  EXPECT_EQ(errors(s), (tmp_ / "exc/b.yaml").string() + ":2: exception 'one': duplicate id (already in " +
                           (tmp_ / "exc/a.yml").string() + ")\n");
}

TEST_F(LoadExceptions, AFileOthersMayWriteOrASymlinkIsRefused) {
  write_file(tmp_ / "exc/a.yaml", std::string(kMemfd));
  ASSERT_EQ(::chmod((tmp_ / "exc/a.yaml").c_str(), 0666), 0);
  ExceptionSet s = load(tmp_ / "exc/a.yaml");
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_EQ(errors(s), (tmp_ / "exc/a.yaml").string() +
                           ": refusing exception file: it is writable by everyone (mode 0666); only its owner may "
                           "write it (e.g. chmod go-w)\n");
  s = load(tmp_ / "exc");  // the same file read from its directory
  EXPECT_TRUE(s.exceptions.empty());
  ASSERT_EQ(::chmod((tmp_ / "exc/a.yaml").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((tmp_ / "exc").c_str(), 0777), 0);
  s = load(tmp_ / "exc");
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_NE(errors(s).find("refusing exception directory: it is writable by everyone"), std::string::npos) << errors(s);
  ASSERT_EQ(::chmod((tmp_ / "exc").c_str(), 0755), 0);
  fs::create_symlink(tmp_ / "exc/a.yaml", tmp_ / "link.yaml");
  s = load(tmp_ / "link.yaml");
  EXPECT_TRUE(s.exceptions.empty());
  EXPECT_NE(errors(s).find("it is a symbolic link (not followed)"), std::string::npos) << errors(s);
  s = load(tmp_ / "exc/a.yaml");
  EXPECT_EQ(s.exceptions.size(), 1u) << errors(s);
}

TEST(MergeOnReload, KeepsTheOldVersionOnlyOfWhatTheLoadCouldNotJudge) {
  const auto ex = [](std::string id, std::string file) {
    RuleException e;
    e.id = std::move(id);
    e.rule = "r";
    e.file = std::move(file);
    return e;
  };
  const std::vector<RuleException> old{ex("a", "/e/x.yaml"), ex("b", "/e/x.yaml"), ex("c", "/e/y.yaml"),
                                       ex("d", "/e/z.yaml")};
  ExceptionSet fresh;
  fresh.exceptions = {ex("d", "/e/z.yaml"), ex("n", "/e/x.yaml")};
  fresh.errors = {{"/e/x.yaml:3: exception 'a': ...", "r", "a", "/e/x.yaml"},  // a refused by id
                  {"/e/y.yaml: invalid YAML", "", "", "/e/y.yaml"}};          // y refused as a whole
  std::vector<std::string> kept;
  const auto out = merge_on_reload(old, fresh, kept);
  std::vector<std::string> ids;
  for (const auto& e : out) ids.push_back(e.id);
  // b: gone from x.yaml, which loaded: dropped (a typo elsewhere does not keep it).
  EXPECT_EQ(ids, (std::vector<std::string>{"d", "n", "a", "c"}));
  EXPECT_EQ(kept, (std::vector<std::string>{"a", "c"}));
  // rules.exceptions refused as a whole (a directory others may write): all kept.
  ExceptionSet dir;
  dir.errors = {{"rules.exceptions: /e: refusing exception directory", "", "", "/e"}};
  kept.clear();
  EXPECT_EQ(merge_on_reload(old, dir, kept).size(), 4u);
  // No errors: exactly the new set.
  kept.clear();
  EXPECT_EQ(merge_on_reload(old, ExceptionSet{}, kept).size(), 0u);
  EXPECT_TRUE(kept.empty());
}

TEST_F(LoadExceptions, AMissingFileIsNoExceptionsWithAWarning) {
  const ExceptionSet s = load(tmp_ / "exc/gone.yaml");
  EXPECT_TRUE(s.errors.empty()) << errors(s);
  EXPECT_TRUE(s.exceptions.empty());
  ASSERT_EQ(s.warnings.size(), 1u);
  EXPECT_EQ(s.warnings[0].message,
            "rules.exceptions: " + (tmp_ / "exc/gone.yaml").string() + " does not exist: no rule exceptions are in force");
}

TEST(ExceptionFilter, RemovesMatchesCountsThemLogsEachKeyOnceAndTellsTheExpiry) {
  std::vector<std::string> log;
  ExceptionFilter f([&](std::string_view m) { log.emplace_back(m); });
  ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: known, match: {name: {glob: 'ok-*'}}, expires: 2027-01-16}\n", "x.yaml",
      kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  f.replace(s.exceptions);
  std::vector<Alert> c{alert("r", R"({"name":"ok-1"})", "r|pid=1"), alert("r", R"({"name":"bad"})", "r|pid=2"),
                       alert("q", R"({"name":"ok-1"})", "q|pid=1"), alert("r", R"({"name":"ok-1"})", "r|pid=1")};
  EXPECT_EQ(f.apply(c, kNow), 2u);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].dedup_key, "r|pid=2");
  EXPECT_EQ(c[1].dedup_key, "q|pid=1");
  ASSERT_EQ(log.size(), 1u);  // one key, logged once
  EXPECT_EQ(log[0], "exception a silenced an alert of rule r: r|pid=1 (first match of this key; reason: known; row: "
                    "name=ok-1)");
  auto st = f.stats();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].hits, 2u);
  EXPECT_EQ(st[0].last_hit, kNow);
  EXPECT_FALSE(st[0].expired);
  // The same exception again (a reload): the counters stay.
  f.replace(s.exceptions);
  EXPECT_EQ(f.stats()[0].hits, 2u);
  // Expired: told once, and its rows pass.
  const std::int64_t later = *parse_expiry("2027-01-16");
  std::vector<Alert> d{alert("r", R"({"name":"ok-1"})", "r|pid=1")};
  EXPECT_EQ(f.apply(d, later), 0u);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_EQ(f.apply(d, later + 10), 0u);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1], "exception a (rule r) expired at 2027-01-16T00:00:00Z: the rows it matched raise alerts again "
                    "(x.yaml)");
  EXPECT_TRUE(f.stats()[0].expired);
}

// A row matched as it is read (RowMatcher, the scans' road) gets the
// answer its alert's row_json gets (exception_for, the CLI's road), for
// every kind of value: repeated column names, invalid UTF-8 (replaced in
// the JSON), a NUL byte, NULL, reals (an infinite one is null in the
// JSON), integers matched by a glob.
TEST(ExceptionForRow, AnswersAsTheAlertsRowJsonDoes) {
  ExceptionSet s = parse_exceptions(R"(exceptions:
  - {id: tmp, rule: r, reason: x, match: {path: {glob: "/tmp/*"}, uid: 0}}
  - {id: second-path, rule: r, reason: x, match: {path_2: /usr/bin/b, uid: 0}}
  - {id: pid-glob, rule: r, reason: x, match: {pid: {glob: "12*"}, uid: 0}}
  - {id: real, rule: r, reason: x, match: {cpu: 1.5, uid: 0}}
  - {id: infinite, rule: r, reason: x, match: {cpu: inf, uid: 0}}
  - {id: replaced, rule: r, reason: x, match: {name: "x\uFFFD", uid: 0}}
  - {id: nul, rule: r, reason: x, match: {name: {glob: "a*"}, uid: 0}}
  - {id: negative, rule: r, reason: x, match: {uid: -1}}
  - {id: null-name, rule: r, reason: x, match: {name: "", uid: 0}}
  - {id: replaced-glob, rule: r, reason: x, match: {path: {glob: "/tmp/\uFFFD*"}, uid: -1}}
)",
                                    "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  ASSERT_EQ(s.exceptions.size(), 10u);
  const double inf = std::numeric_limits<double>::infinity();
  QueryResult r;
  r.columns = {"path", "uid", "pid", "cpu", "name", "path"};
  r.rows = {
      {std::string("/tmp/x"), std::int64_t{0}, std::int64_t{123}, 1.5, std::string("x\xff"), std::string("/usr/bin/b")},
      {std::string("/tmp/a/b"), std::int64_t{0}, std::int64_t{99}, inf, std::string("a\0b", 3), Value{}},
      {std::string("/tmp/\xfe"), std::int64_t{-1}, std::int64_t{12}, 2.0, Value{}, std::string("/usr/bin/b")},
      {Value{}, std::int64_t{0}, Value{}, Value{}, std::string(""), std::string("/usr/bin/c")},
  };
  const std::vector<std::string> keys = row_keys(r.columns);
  EXPECT_EQ(keys, (std::vector<std::string>{"path", "uid", "pid", "cpu", "name", "path_2"}));
  // [exception][row], from the JSON road; checked against it below.
  const std::vector<std::vector<bool>> expected = {
      {true, false, false, false},   // tmp: /tmp/a/b does not match /tmp/* with FNM_PATHNAME
      {true, false, false, false},   // second-path: path_2 is the second "path"
      {true, false, false, false},   // pid-glob: 123 (12 has uid -1)
      {true, false, false, false},   // real
      {false, false, false, false},  // infinite: null in the JSON, never equal
      {true, false, false, false},   // replaced: "x\xff" is "x\uFFFD" in the JSON
      {false, false, false, false},  // nul: a glob never matches a value holding NUL
      {false, false, true, false},   // negative
      {false, false, false, true},   // null-name: "" equals "", NULL equals nothing
      {false, false, true, false},   // replaced-glob: "/tmp/\xfe" is "/tmp/\uFFFD" in the JSON
  };
  for (std::size_t e = 0; e < s.exceptions.size(); ++e) {
    for (std::size_t i = 0; i < r.rows.size(); ++i) {
      const bool by_json = matches(s.exceptions[e], row_to_json(r, i));
      const RowMatcher one(std::span(&s.exceptions[e], 1), "r", keys, kNow);
      EXPECT_EQ(one.match(r.rows[i]) != nullptr, by_json)
          << s.exceptions[e].id << " row " << i << ": " << row_to_json(r, i);
      EXPECT_EQ(by_json, expected[e][i]) << s.exceptions[e].id << " row " << i;
    }
  }
  // All of them: the first that holds, in their order; none of another rule.
  EXPECT_EQ(RowMatcher(s.exceptions, "r", keys, kNow).match(r.rows[0]), &s.exceptions[0]);
  EXPECT_EQ(RowMatcher(s.exceptions, "r", keys, kNow).match(r.rows[3]), &s.exceptions[8]);
  EXPECT_EQ(RowMatcher(s.exceptions, "other", keys, kNow).match(r.rows[0]), nullptr);
  // A column the result lacks (no path_2 when "path" is not repeated) holds for no row.
  const std::vector<std::string> short_keys = row_keys(std::vector<std::string>{"path", "uid"});
  const std::vector<Value> row{std::string("/usr/bin/b"), std::int64_t{0}};
  EXPECT_EQ(RowMatcher(std::span(&s.exceptions[1], 1), "r", short_keys, kNow).match(row), nullptr);
}

TEST(ExceptionFilter, TakeRowCountsAndLogsAMatchAndMakesNoAlertForARowItLetsThrough) {
  std::vector<std::string> log;
  ExceptionFilter f([&](std::string_view m) { log.emplace_back(m); });
  ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: known, match: {name: {glob: 'ok-*'}, uid: 0}}\n", "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  f.replace(s.exceptions);
  f.begin(kNow);
  const std::vector<std::string> keys{"name", "uid"};
  const RowMatcher r(f.exceptions(), "r", keys, kNow), q(f.exceptions(), "q", keys, kNow);
  int made = 0;
  const auto make = [&] {
    ++made;
    return alert("r", R"({"name":"ok-1","uid":0})", "r|pid=1");
  };
  EXPECT_FALSE(f.take_row(r, std::vector<Value>{std::string("bad"), std::int64_t{0}}, kNow, make));
  EXPECT_FALSE(f.take_row(q, std::vector<Value>{std::string("ok-1"), std::int64_t{0}}, kNow, make));
  EXPECT_FALSE(f.take_row(r, std::vector<Value>{std::string("ok-1"), std::int64_t{1}}, kNow, make));
  EXPECT_EQ(made, 0);
  EXPECT_TRUE(f.take_row(r, std::vector<Value>{std::string("ok-1"), std::int64_t{0}}, kNow, make));
  EXPECT_EQ(made, 1);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_EQ(log[0], "exception a silenced an alert of rule r: r|pid=1 (first match of this key; reason: known; row: "
                    "name=ok-1, uid=0)");
  EXPECT_EQ(f.stats()[0].hits, 1u);
}

TEST(ExceptionFilter, LogsTheRowEscapedAndCappedAtMostTwentyKeysAMinuteThenSaysHowManyWereNot) {
  std::vector<std::string> info, warn;
  ExceptionFilter f([&](std::string_view m) { info.emplace_back(m); }, [&](std::string_view m) { warn.emplace_back(m); });
  ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: known, match: {uid: 0, name: {glob: 'ok-*'}}}\n", "x.yaml", kNow);
  ASSERT_TRUE(s.errors.empty()) << errors(s);
  f.replace(s.exceptions);
  // The row's text is the process's: escaped, each value capped.
  std::vector<Alert> one{alert("r", R"({"uid":0,"name":"ok-\u001b[2J","cmdline":")" + std::string(1000, 'x') + R"("})",
                               "r|pid=1")};
  ASSERT_EQ(f.apply(one, kNow), 1u);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_NE(info[0].find("row: uid=0, name=ok-\\x1b[2J, cmdline=xxx"), std::string::npos) << info[0];
  EXPECT_EQ(info[0].find('\x1b'), std::string::npos) << info[0];
  EXPECT_LT(info[0].size(), 600u) << info[0];
  // 100 more keys in one minute: 20 logged in all, the rest counted.
  std::vector<Alert> flood;
  for (int i = 2; i <= 101; ++i) flood.push_back(alert("r", R"({"uid":0,"name":"ok-1"})", "r|pid=" + std::to_string(i)));
  ASSERT_EQ(f.apply(flood, kNow + 1), 100u);
  EXPECT_EQ(info.size(), ExceptionFilter::kMaxLoggedPerWindow);
  EXPECT_TRUE(warn.empty());
  // The next minute: one line says how many were not logged, and a new key is logged again
  // (a lifetime cap would never log it).
  std::vector<Alert> later{alert("r", R"({"uid":0,"name":"ok-1"})", "r|pid=500")};
  ASSERT_EQ(f.apply(later, kNow + 61), 1u);
  ASSERT_EQ(warn.size(), 1u);
  EXPECT_EQ(warn[0], "exception a (rule r) silenced 101 rows since 2027-01-15T08:00:00Z, 81 not logged (at most 20 "
                     "logged a minute)");
  ASSERT_EQ(info.size(), ExceptionFilter::kMaxLoggedPerWindow + 1);
  EXPECT_NE(info.back().find("r|pid=500"), std::string::npos) << info.back();
  // A key logged is not logged again within the hour, then is.
  std::vector<Alert> again{alert("r", R"({"uid":0,"name":"ok-1"})", "r|pid=500")};
  f.apply(again, kNow + 120);
  EXPECT_EQ(info.size(), ExceptionFilter::kMaxLoggedPerWindow + 1);
  again = {alert("r", R"({"uid":0,"name":"ok-1"})", "r|pid=500")};
  f.apply(again, kNow + 61 + ExceptionFilter::kRelogAfterSeconds + 60);
  EXPECT_EQ(info.size(), ExceptionFilter::kMaxLoggedPerWindow + 2);
}

TEST(ExceptionFilter, AClockStepBackBeforeTheExpiryIsSaidAndASecondExpiryToo) {
  std::vector<std::string> info, warn;
  ExceptionFilter f([&](std::string_view m) { info.emplace_back(m); }, [&](std::string_view m) { warn.emplace_back(m); });
  ExceptionSet s = parse_exceptions(
      "exceptions:\n  - {id: a, rule: r, reason: known, match: {uid: 0}, expires: 2027-01-16}\n", "x.yaml", kNow);
  f.replace(s.exceptions);
  const std::int64_t expiry = *parse_expiry("2027-01-16");
  std::vector<Alert> none;
  f.apply(none, expiry + 5);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_NE(info[0].find("exception a (rule r) expired at 2027-01-16T00:00:00Z"), std::string::npos) << info[0];
  f.apply(none, expiry - 100);  // the clock stepped back
  ASSERT_EQ(warn.size(), 1u);
  EXPECT_EQ(warn[0], "exception a (rule r) applies again: the time (2027-01-15T23:58:20Z) is before its expiry "
                     "(2027-01-16T00:00:00Z) (the clock stepped back?); its matches are silenced (x.yaml)");
  std::vector<Alert> c{alert("r", R"({"uid":0})", "r|pid=1")};
  EXPECT_EQ(f.apply(c, expiry - 90), 1u);
  f.apply(none, expiry + 1);  // and expires again: said again
  ASSERT_EQ(info.size(), 3u);  // the expiry, the hit, the second expiry
  EXPECT_NE(info[2].find("expired at 2027-01-16T00:00:00Z"), std::string::npos) << info[2];
}

}  // namespace
}  // namespace airssys::daemoneye
