#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/store.hpp>
#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "store_engine_fixture.hpp"
#include "store_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

std::string rule_yaml(const std::string& id,
                      const std::string& query = "SELECT pid, start_time FROM processes") {
  return "id: " + id + "\nname: Rule " + id + "\nseverity: medium\nquery: " + query + "\n";
}

std::vector<std::string> ids(const RuleSet& set) {
  std::vector<std::string> out;
  for (const auto& r : set.rules) out.push_back(r.id);
  return out;
}

std::string errors(const RuleSet& set) {
  std::string out;
  for (const auto& e : set.errors) out += e.message + "\n";
  return out;
}

TEST(LoadRules, LoadsYamlFilesSortedByIdAndIgnoresOthers) {
  TempDir tmp;
  write_file(tmp / "b.yaml", rule_yaml("zeta"));
  write_file(tmp / "a.yml", rule_yaml("alpha"));
  write_file(tmp / "README.md", "not a rule");
  write_file(tmp / ".hidden.yaml", "garbage: [");
  write_file(tmp / "c.yaml~", "garbage: [");
  ASSERT_EQ(::mkdir((tmp / "sub").c_str(), 0700), 0);
  write_file(tmp / "sub/nested.yaml", rule_yaml("nested"));
  RuleSet set = load_rules(tmp.path());
  EXPECT_TRUE(set.errors.empty()) << errors(set);
  EXPECT_EQ(ids(set), (std::vector<std::string>{"alpha", "zeta"}));
  EXPECT_EQ(set.rules[0].file, tmp / "a.yml");
}

TEST(LoadRules, OneBadFileIsRejectedWithItsNameAndReasonTheOthersLoad) {
  TempDir tmp;
  write_file(tmp / "good1.yaml", rule_yaml("good1"));
  write_file(tmp / "bad.yaml", "id: bad\nname: Bad\nseverity: extreme\nquery: SELECT 1\n");
  write_file(tmp / "good2.yaml", rule_yaml("good2"));
  RuleSet set = load_rules(tmp.path());
  EXPECT_EQ(ids(set), (std::vector<std::string>{"good1", "good2"}));
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].file, tmp / "bad.yaml");
  EXPECT_EQ(set.errors[0].message,
            (tmp / "bad.yaml").string() + ":3: severity 'extreme' is not one of low, medium, high, critical");
}

TEST(LoadRules, DuplicateIdRejectsTheSecondFile) {
  TempDir tmp;
  write_file(tmp / "1.yaml", rule_yaml("same"));
  write_file(tmp / "2.yaml", rule_yaml("same"));
  RuleSet set = load_rules(tmp.path());
  ASSERT_EQ(set.rules.size(), 1u);
  EXPECT_EQ(set.rules[0].file, tmp / "1.yaml");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].message, (tmp / "2.yaml").string() + ": duplicate id 'same' (already defined in " +
                                       (tmp / "1.yaml").string() + ")");
}

TEST(LoadRules, SymlinksAreNotFollowed) {
  TempDir tmp;
  const fs::path real = tmp / "real";
  ASSERT_EQ(::mkdir(real.c_str(), 0700), 0);
  write_file(real / "r.yaml", rule_yaml("r"));
  fs::create_directory_symlink(real, tmp / "linked");
  RuleSet via_link = load_rules(tmp / "linked");
  EXPECT_TRUE(via_link.rules.empty());
  ASSERT_EQ(via_link.errors.size(), 1u);
  EXPECT_EQ(
      via_link.errors[0].message,
      (tmp / "linked").string() + ": cannot open rules directory: it is a symbolic link (not followed)");
  EXPECT_EQ(via_link.errors[0].category, ErrorCategory::denied);

  fs::create_symlink(real / "r.yaml", real / "s.yaml");
  RuleSet set = load_rules(real);
  EXPECT_EQ(ids(set), (std::vector<std::string>{"r"}));
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].message,
            (real / "s.yaml").string() + ": cannot open: it is a symbolic link (not followed)");
  EXPECT_EQ(set.errors[0].category, ErrorCategory::denied);
}

TEST(LoadRules, MissingDirectoryTooBigAndNonRegularFiles) {
  TempDir tmp;
  RuleSet none = load_rules(tmp / "nope");
  ASSERT_EQ(none.errors.size(), 1u);
  EXPECT_EQ(none.errors[0].message,
            (tmp / "nope").string() + ": cannot open rules directory: No such file or directory");

  write_file(tmp / "big.yaml", rule_yaml("big") + "# " + std::string(1024 * 1024, 'x') + "\n");
  ASSERT_EQ(::mkfifo((tmp / "fifo.yaml").c_str(), 0600), 0);
  ASSERT_EQ(::mkdir((tmp / "dir.yaml").c_str(), 0700), 0);
  RuleSet set = load_rules(tmp.path());
  EXPECT_TRUE(set.rules.empty());
  const std::string all = errors(set);
  const auto big_size = fs::file_size(tmp / "big.yaml");
  EXPECT_NE(
      all.find((tmp / "big.yaml").string() + ": larger than 1 MiB (" + std::to_string(big_size) + " bytes)"),
      std::string::npos)
      << all;
  EXPECT_NE(all.find((tmp / "fifo.yaml").string() + ": not a regular file"), std::string::npos) << all;
  EXPECT_NE(all.find((tmp / "dir.yaml").string() + ": not a regular file"), std::string::npos) << all;
}

// Whoever can write the rules directory or a rule file controls the queries
// the agent runs: such a directory loads nothing, such a file is rejected.
TEST(LoadRules, DirectoryWritableByOthersOrOwnedBySomeoneElseIsRefused) {
  TempDir tmp;
  const fs::path dir = tmp / "rules";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  write_file(dir / "ok.yaml", rule_yaml("ok"));
  ASSERT_EQ(::chmod((dir / "ok.yaml").c_str(), 0644), 0);
  EXPECT_EQ(ids(load_rules(dir)), (std::vector<std::string>{"ok"}));

  const std::string prefix = dir.string() + ": refusing rules directory: it is writable by ";
  const std::string advice = "; only its owner may write it (e.g. chmod go-w)";
  for (const auto& [mode, expected] : std::vector<std::pair<mode_t, std::string>>{
           {0777, prefix + "everyone (mode 0777)" + advice},
           {01777, prefix + "everyone (mode 1777)" + advice},  // sticky, like /tmp
           {0775, prefix + "its group (mode 0775)" + advice},
       }) {
    ASSERT_EQ(::chmod(dir.c_str(), mode), 0);
    RuleSet set = load_rules(dir);
    EXPECT_TRUE(set.rules.empty()) << expected;
    ASSERT_EQ(set.errors.size(), 1u) << expected;
    EXPECT_EQ(set.errors[0].file, dir);
    EXPECT_EQ(set.errors[0].message, expected);
    EXPECT_EQ(set.errors[0].category, ErrorCategory::denied);
  }
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);

  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give the directory to nobody";
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);
  RuleSet set = load_rules(dir);
  EXPECT_TRUE(set.rules.empty());
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].message,
            dir.string() + ": refusing rules directory: owned by uid 65534, not by us (0) or root");
  ASSERT_EQ(::chown(dir.c_str(), 0, 0), 0);
  EXPECT_EQ(ids(load_rules(dir)), (std::vector<std::string>{"ok"}));
}

TEST(LoadRules, RuleFileWritableByOthersOrOwnedBySomeoneElseIsRejected) {
  TempDir tmp;
  const fs::path dir = tmp / "rules";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  for (const auto& [name, mode] : std::vector<std::pair<std::string, mode_t>>{{"ok", 0644},
                                                                              {"private", 0600},
                                                                              {"readonly", 0444},
                                                                              {"group", 0664},
                                                                              {"world", 0646},
                                                                              {"all", 0666}}) {
    write_file(dir / (name + ".yaml"), rule_yaml(name));
    ASSERT_EQ(::chmod((dir / (name + ".yaml")).c_str(), mode), 0);
  }
  const bool root = ::geteuid() == 0;
  if (root) {
    write_file(dir / "nobody.yaml", rule_yaml("nobody"));
    ASSERT_EQ(::chmod((dir / "nobody.yaml").c_str(), 0644), 0);
    ASSERT_EQ(::chown((dir / "nobody.yaml").c_str(), 65534, 65534), 0);
  }
  RuleSet set = load_rules(dir);
  EXPECT_EQ(ids(set), (std::vector<std::string>{"ok", "private", "readonly"}));
  const std::string all = errors(set);
  ASSERT_EQ(set.errors.size(), root ? 4u : 3u) << all;
  auto writable = [&](const std::string& name, const std::string& by, const std::string& mode) {
    return (dir / (name + ".yaml")).string() + ": refusing rule file: it is writable by " + by + " (mode " +
           mode + "); only its owner may write it (e.g. chmod go-w)\n";
  };
  EXPECT_NE(all.find(writable("all", "everyone", "0666")), std::string::npos) << all;
  EXPECT_NE(all.find(writable("group", "its group", "0664")), std::string::npos) << all;
  EXPECT_NE(all.find(writable("world", "everyone", "0646")), std::string::npos) << all;
  if (root) {
    EXPECT_NE(all.find((dir / "nobody.yaml").string() +
                       ": refusing rule file: owned by uid 65534, not by us (0) or root\n"),
              std::string::npos)
        << all;
  }
}

// Root reads any file, so the unreadable case runs as nobody in a child.
TEST(LoadRules, UnreadableFileIsReported) {
  TempDir tmp;
  const fs::path dir = tmp / "rules";
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  write_file(dir / "ok.yaml", rule_yaml("ok"));
  write_file(dir / "secret.yaml", rule_yaml("secret"));
  ASSERT_EQ(::chmod((dir / "ok.yaml").c_str(), 0644), 0);
  ASSERT_EQ(::chmod((dir / "secret.yaml").c_str(), 0000), 0);
  const std::string expected = (dir / "secret.yaml").string() + ": cannot open: Permission denied";
  auto check = [&]() -> int {
    RuleSet set = load_rules(dir);
    if (ids(set) != std::vector<std::string>{"ok"}) return 2;
    if (set.errors.size() != 1 || set.errors[0].message != expected) return 3;
    return 0;
  };
  if (::geteuid() != 0) {
    EXPECT_EQ(check(), 0);
    return;
  }
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(4);
    ::_exit(check());
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: wrong rules, 3: wrong error, 4: could not become nobody";
}

// The rules in a directory of their own, beside the store's (tmp_).
class LoadRulesWithEngine : public test::StoreAndEngine {
 protected:
  TempDir rules_;
};

TEST_F(LoadRulesWithEngine, RefusedSqlRejectsTheRuleAtTheQueryLine) {
  write_file(rules_ / "ok.yaml", rule_yaml("ok"));
  write_file(rules_ / "pragma.yaml", rule_yaml("pragma", "PRAGMA journal_mode=DELETE"));
  write_file(rules_ / "column.yaml", rule_yaml("column", "SELECT foo FROM processes"));
  write_file(rules_ / "two.yaml", rule_yaml("two", "SELECT 1; DELETE FROM alerts"));
  write_file(rules_ / "disabled.yaml",
             "enabled: false\n" + rule_yaml("disabled", "SELECT load_extension('x')"));
  write_file(rules_ / "key.yaml", "key: [pid, path]\n" + rule_yaml("key"));
  RuleSet set = load_rules(rules_.path(), engine_.get());
  EXPECT_EQ(ids(set), (std::vector<std::string>{"ok"}));
  auto error_for = [&](const std::string& file) -> std::string {
    auto it = std::ranges::find(set.errors, rules_ / file, &RuleError::file);
    return it == set.errors.end() ? "(none)" : it->message;
  };
  const std::string d = rules_.path().string() + "/";
  EXPECT_EQ(error_for("pragma.yaml"), d + "pragma.yaml:4: query refused: not allowed: PRAGMA journal_mode");
  EXPECT_EQ(error_for("column.yaml"), d + "column.yaml:4: query refused: no such column: foo");
  EXPECT_EQ(error_for("two.yaml"), d + "two.yaml:4: query refused: only one statement per query");
  EXPECT_EQ(error_for("disabled.yaml"),
            d + "disabled.yaml:5: query refused: not allowed: function load_extension");
  EXPECT_EQ(
      error_for("key.yaml"),
      d + "key.yaml:5: key column 'path' is not a column of the query's result (columns: pid, start_time)");
  EXPECT_EQ(set.errors.size(), 5u);
}

// A native rule's query is text from the rule file too: SQLite's message
// quoting it and the result's column names are shown escaped and cut.
TEST_F(LoadRulesWithEngine, QueryTextInMessagesIsEscapedAndCut) {
  const std::string column = "\x1b]0;pwn\x07" + std::string(1'000, 'c');
  write_file(rules_ / "cols.yaml", "key: [path]\n" + rule_yaml("cols", "SELECT pid AS \"" + column + "\" FROM processes"));
  write_file(rules_ / "token.yaml", rule_yaml("token", "SELECT \"pid\" FROM processes WHERE '" + std::string(100'000, 't')));
  write_file(rules_ / "esc.yaml", rule_yaml("esc", "SELECT pid FROM processes WHERE \x1b[2J"));
  RuleSet set = load_rules(rules_.path(), engine_.get());
  ASSERT_EQ(set.errors.size(), 3u);
  for (const auto& e : set.errors) {
    EXPECT_EQ(e.message.find('\x1b'), std::string::npos) << e.message;
    EXPECT_LT(e.message.size(), 1000u) << e.message.substr(0, 1000);
  }
  const std::string d = rules_.path().string() + "/";
  auto error_for = [&](const std::string& file) -> std::string {
    auto it = std::ranges::find(set.errors, rules_ / file, &RuleError::file);
    return it == set.errors.end() ? "(none)" : it->message;
  };
  EXPECT_EQ(error_for("cols.yaml"), d + "cols.yaml:5: key column 'path' is not a column of the query's result (columns: \\x1b]0;pwn\\x07" +
                                        std::string(56, 'c') + "… (1008 bytes))");
  EXPECT_NE(error_for("token.yaml").find(" bytes)"), std::string::npos) << error_for("token.yaml");
  EXPECT_NE(error_for("esc.yaml").find("\\x1b"), std::string::npos) << error_for("esc.yaml");
}

// Rule file names come from readdir (a cloned Sigma repository names its
// files): every message's FILE or FILE:LINE shows the name escaped, and a
// path past 256 bytes as its first 256 and its length. RuleError::file
// keeps the name as it is.
TEST_F(LoadRulesWithEngine, FileNamesInMessagesAreEscapedAndCut) {
  const std::string esc = "\x1b]0;pwn\x07";
  const std::string shown = "\\x1b]0;pwn\\x07";
  const std::string sigma_bad =
      "title: t\nlogsource: {product: linux, category: process_creation}\ndetection: {s: {Image: a}, condition: nope}\n";
  write_file(rules_ / ("native" + esc + ".yaml"), "id: n\nname: N\nseverity: extreme\nquery: SELECT 1\n");
  write_file(rules_ / ("sigma" + esc + ".yml"), sigma_bad);
  write_file(rules_ / ("query" + esc + ".yaml"), rule_yaml("q", "SELECT foo FROM processes"));
  write_file(rules_ / ("dup1" + esc + ".yaml"), rule_yaml("same"));
  write_file(rules_ / ("dup2" + esc + ".yaml"), rule_yaml("same"));
  write_file(rules_ / ("nopid" + esc + ".yaml"), rule_yaml("nopid", "SELECT name FROM processes"));
  write_file(rules_ / ("notes" + esc + ".txt"), "x");
  fs::create_symlink(rules_ / "elsewhere.yaml", rules_ / ("link" + esc + ".yaml"));
  RuleSet set = load_rules(rules_.path(), engine_.get());
  const std::string d = rules_.path().string() + "/";
  auto error_for = [&](const std::string& file) -> std::string {
    auto it = std::ranges::find(set.errors, rules_ / file, &RuleError::file);
    return it == set.errors.end() ? "(none)" : it->message;
  };
  EXPECT_EQ(error_for("native" + esc + ".yaml"),
            d + "native" + shown + ".yaml:3: severity 'extreme' is not one of low, medium, high, critical");
  EXPECT_EQ(error_for("sigma" + esc + ".yml").rfind(d + "sigma" + shown + ".yml:", 0), 0u) << error_for("sigma" + esc + ".yml");
  EXPECT_EQ(error_for("query" + esc + ".yaml"), d + "query" + shown + ".yaml:4: query refused: no such column: foo");
  EXPECT_EQ(error_for("dup2" + esc + ".yaml"),
            d + "dup2" + shown + ".yaml: duplicate id 'same' (already defined in " + d + "dup1" + shown + ".yaml)");
  EXPECT_EQ(error_for("link" + esc + ".yaml"), d + "link" + shown + ".yaml: cannot open: it is a symbolic link (not followed)");
  EXPECT_EQ(set.ignored, (std::vector<std::string>{d + "notes" + shown + ".txt: ignored, not a *.yaml or *.yml file"}));
  ASSERT_EQ(ids(set), (std::vector<std::string>{"nopid", "same"}));
  ASSERT_EQ(set.rules[0].warnings.size(), 1u);
  EXPECT_EQ(set.rules[0].warnings[0].rfind(d + "nopid" + shown + ".yaml:4: warning: ", 0), 0u) << set.rules[0].warnings[0];
  std::string all = errors(set);
  for (const auto& i : set.ignored) all += i + "\n";
  for (const auto& w : set.rules[0].warnings) all += w + "\n";
  EXPECT_EQ(all.find('\x1b'), std::string::npos) << all;
  EXPECT_EQ(all.find('\x07'), std::string::npos) << all;

  // A 250-byte name makes a path past 256 bytes: its start and end around
  // its length (osl's shown_path).
  const fs::path long_file = rules_ / (std::string(245, 'L') + ".yaml");
  write_file(long_file, "id: n\nname: N\nseverity: extreme\nquery: SELECT 1\n");
  auto one = load_rule_file(long_file, engine_.get());
  ASSERT_FALSE(one);
  EXPECT_EQ(one.error().file, long_file);
  const std::string& whole = long_file.string();
  EXPECT_EQ(one.error().message, whole.substr(0, 128) + "… (" + std::to_string(whole.size()) + " bytes) …" +
                                     whole.substr(whole.size() - 128) +
                                     ":3: severity 'extreme' is not one of low, medium, high, critical");
}

// One file, as `daemoneye-cli rules check FILE` checks it: the same per-file
// checks and messages as load_rules.
TEST_F(LoadRulesWithEngine, OneFileIsCheckedLikeAFileInTheDirectory) {
  write_file(rules_ / "ok.yaml", rule_yaml("ok"));
  auto ok = load_rule_file(rules_ / "ok.yaml", engine_.get());
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->id, "ok");
  EXPECT_EQ(ok->file, rules_ / "ok.yaml");

  const std::string d = rules_.path().string() + "/";
  auto error_of = [&](const fs::path& file) {
    auto r = load_rule_file(file, engine_.get());
    return r ? std::string("(loaded)") : r.error().message;
  };
  write_file(rules_ / "pragma.yaml", rule_yaml("pragma", "PRAGMA journal_mode=DELETE"));
  EXPECT_EQ(error_of(rules_ / "pragma.yaml"), d + "pragma.yaml:4: query refused: not allowed: PRAGMA journal_mode");
  write_file(rules_ / "bad.yaml", "id: bad\nname: Bad\nseverity: extreme\nquery: SELECT 1\n");
  EXPECT_EQ(error_of(rules_ / "bad.yaml"), d + "bad.yaml:3: severity 'extreme' is not one of low, medium, high, critical");
  fs::create_symlink(rules_ / "ok.yaml", rules_ / "link.yaml");
  EXPECT_EQ(error_of(rules_ / "link.yaml"), d + "link.yaml: cannot open: it is a symbolic link (not followed)");
  write_file(rules_ / "open.yaml", rule_yaml("open"));
  ASSERT_EQ(::chmod((rules_ / "open.yaml").c_str(), 0666), 0);
  EXPECT_EQ(error_of(rules_ / "open.yaml"),
            d + "open.yaml: refusing rule file: it is writable by everyone (mode 0666); only its owner may write it "
                "(e.g. chmod go-w)");
  write_file(rules_ / "notes.txt", rule_yaml("notes"));
  EXPECT_EQ(error_of(rules_ / "notes.txt"),
            d + "notes.txt: not a rule file name: the agent reads only *.yaml and *.yml files whose name does not "
                "start with '.'");
  EXPECT_EQ(error_of(rules_ / "missing.yaml"), d + "missing.yaml: cannot open: No such file or directory");
  // Without an engine the SQL is not checked.
  EXPECT_TRUE(load_rule_file(rules_ / "pragma.yaml"));
}

// A query selecting 40 columns: the key-column error and the no-pid warning
// list the first 16 and how many more. Before, all 40 (a query may select
// thousands, each name up to 64 bytes shown).
TEST_F(LoadRulesWithEngine, ColumnListsInMessagesAreBounded) {
  std::string select = "SELECT 1 AS c1";
  for (int i = 2; i <= 40; ++i) select += ", 1 AS c" + std::to_string(i);
  write_file(rules_ / "key.yaml", "key: [nope]\n" + rule_yaml("key", select));
  write_file(rules_ / "nopid.yaml", rule_yaml("nopid", select));
  RuleSet set = load_rules(rules_.path(), engine_.get());
  std::string first16 = "c1";
  for (int i = 2; i <= 16; ++i) first16 += ", c" + std::to_string(i);
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].message, rules_.path().string() + "/key.yaml:5: key column 'nope' is not a column of the "
                                                             "query's result (columns: " + first16 + ", … and 24 more)");
  ASSERT_EQ(ids(set), (std::vector<std::string>{"nopid"}));
  ASSERT_EQ(set.rules[0].warnings.size(), 1u);
  EXPECT_NE(set.rules[0].warnings[0].find("(columns: " + first16 + ", … and 24 more), so all its rows share one"),
            std::string::npos)
      << set.rules[0].warnings[0];
}

}  // namespace
}  // namespace airssys::daemoneye
