// Recursive delete and directory rename honour deny rules on the entries
// below the named path (the policy is asked about the named path only), on
// real trees in a temporary directory, with symlinks planted inside.

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

namespace stdfs = std::filesystem;
using test::TempDir;

class TreePolicy : public ::testing::Test {
 protected:
  void SetUp() override {
    stdfs::create_directories(dir / "srv");
    stdfs::create_directories(dir / "outside");
    test::write_file(dir / "outside" / "precious", "keep me");
    sink = std::make_shared<test::RecordingSink>();
    SystemOptions o;
    o.policy = test::policy_from(fmt::format(R"(
version: 1
rules:
  - id: srv
    effect: allow
    principals: [alice, bob]
    operations: ["fs.*"]
    resources: ["{0}/srv/**"]
  - id: no-git
    effect: deny
    principals: [alice]
    operations: ["fs.*"]
    resources: ["{0}/srv/**/.git/**"]
  - id: no-dst
    effect: deny
    principals: [alice]
    operations: [fs.rename]
    resources: ["{0}/srv/dst/*/secret"]
  - id: no-keys
    effect: deny
    principals: [alice]
    operations: [fs.delete]
    resources: ["{0}/srv/**/*.key"]
)", dir.str()));
    o.audit.sinks.push_back(sink);
    sys = std::make_unique<System>(std::move(o));
  }

  stdfs::path srv(const std::string& rel) const { return dir / "srv" / rel; }

  // srv/NAME with files, a .git directory, a nested .git, and symlinks that
  // point out of the tree and into the protected .git.
  void make_repo(const std::string& name) {
    const auto r = srv(name);
    stdfs::create_directories(r / "src" / "deep");
    stdfs::create_directories(r / ".git" / "objects");
    stdfs::create_directories(r / "vendor" / "lib" / ".git");
    test::write_file(r / "README", "r");
    test::write_file(r / "src" / "deep" / "main.c", "c");
    test::write_file(r / ".git" / "HEAD", "ref");
    test::write_file(r / ".git" / "objects" / "ab", "obj");
    test::write_file(r / "vendor" / "lib" / ".git" / "config", "cfg");
    test::write_file(r / "vendor" / "lib" / "code.c", "c");
    stdfs::create_directory_symlink(dir / "outside", r / "out-link");
    stdfs::create_directory_symlink(r / ".git", r / "src" / "git-link");
  }

  const ActivityRecord* end_record() const {
    static thread_local std::vector<ActivityRecord> keep;
    EXPECT_TRUE(sys->flush_audit(std::chrono::seconds(10)));  // the writer is asynchronous
    keep = sink->records();
    for (auto it = keep.rbegin(); it != keep.rend(); ++it) {
      if (it->event == ActivityEvent::end) return &*it;
    }
    return nullptr;
  }

  TempDir dir;
  std::shared_ptr<test::RecordingSink> sink;
  std::unique_ptr<System> sys;
};

TEST_F(TreePolicy, RecursiveDeleteKeepsDeniedEntriesAndSaysWhich) {
  make_repo("repo");
  auto r = sys->run("alice", fs::Delete{.path = srv("repo"), .recursive = true});
  ASSERT_FALSE(r) << "a delete that had to keep entries must not report success";
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  const std::string& msg = r.error().message;
  EXPECT_NE(msg.find("kept 2 entries"), std::string::npos) << msg;
  EXPECT_NE(msg.find(srv("repo/.git").string() + " (denied by rule no-git)"), std::string::npos) << msg;
  EXPECT_NE(msg.find(srv("repo/vendor/lib/.git").string() + " (denied by rule no-git)"), std::string::npos) << msg;

  // Protected entries and the directories holding them are still there.
  EXPECT_EQ(test::read_file(srv("repo/.git/HEAD")), "ref");
  EXPECT_EQ(test::read_file(srv("repo/.git/objects/ab")), "obj");
  EXPECT_EQ(test::read_file(srv("repo/vendor/lib/.git/config")), "cfg");
  // Everything else is gone, links included, and no link was followed.
  EXPECT_FALSE(stdfs::exists(srv("repo/README")));
  EXPECT_FALSE(stdfs::exists(srv("repo/src")));
  EXPECT_FALSE(stdfs::exists(srv("repo/vendor/lib/code.c")));
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(srv("repo/out-link"))));
  EXPECT_EQ(test::read_file(dir / "outside" / "precious"), "keep me");

  const ActivityRecord* end = end_record();
  ASSERT_NE(end, nullptr);
  EXPECT_EQ(end->op, OpKind::fs_delete);
  EXPECT_EQ(end->outcome, "error");
  ASSERT_TRUE(end->error);
  EXPECT_EQ(end->error->category, ErrorCategory::denied);
}

TEST_F(TreePolicy, DenyOnAFileDeepInsideKeepsItsAncestorsOnly) {
  stdfs::create_directories(srv("certs/a/b"));
  test::write_file(srv("certs/a/b/server.key"), "k");
  test::write_file(srv("certs/a/b/server.crt"), "c");
  test::write_file(srv("certs/a/other"), "o");
  stdfs::create_directories(srv("certs/z"));
  test::write_file(srv("certs/z/x"), "x");
  auto r = sys->run("alice", fs::Delete{.path = srv("certs"), .recursive = true});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  EXPECT_NE(r.error().message.find("kept 1 entry"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("server.key (denied by rule no-keys)"), std::string::npos) << r.error().message;
  EXPECT_TRUE(stdfs::exists(srv("certs/a/b/server.key")));
  EXPECT_FALSE(stdfs::exists(srv("certs/a/b/server.crt")));
  EXPECT_FALSE(stdfs::exists(srv("certs/a/other")));
  EXPECT_FALSE(stdfs::exists(srv("certs/z")));
}

TEST_F(TreePolicy, SymlinkNamedLikeAProtectedEntryIsOnlyALink) {
  // A link whose own path matches the deny is kept; the tree it points to
  // (outside, unprotected) is not touched either way.
  stdfs::create_directories(srv("proj"));
  stdfs::create_directory_symlink(dir / "outside", srv("proj/.git"));
  test::write_file(srv("proj/file"), "f");
  auto r = sys->run("alice", fs::Delete{.path = srv("proj"), .recursive = true});
  ASSERT_FALSE(r);
  EXPECT_TRUE(stdfs::is_symlink(srv("proj/.git")));
  EXPECT_FALSE(stdfs::exists(srv("proj/file")));
  EXPECT_EQ(test::read_file(dir / "outside" / "precious"), "keep me");
}

TEST_F(TreePolicy, WithoutDenyRulesBelowEverythingGoes) {
  make_repo("repo");
  // bob has the same allow and no deny rule.
  auto r = sys->run("bob", fs::Delete{.path = srv("repo"), .recursive = true});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_FALSE(stdfs::exists(stdfs::symlink_status(srv("repo"))));
  EXPECT_EQ(test::read_file(dir / "outside" / "precious"), "keep me");
  // alice, on a tree with nothing protected in it.
  stdfs::create_directories(srv("plain/a/b"));
  test::write_file(srv("plain/a/b/c"), "c");
  auto r2 = sys->run("alice", fs::Delete{.path = srv("plain"), .recursive = true});
  ASSERT_TRUE(r2) << r2.error().to_string();
  EXPECT_FALSE(stdfs::exists(srv("plain")));
}

TEST_F(TreePolicy, RenameOfATreeHoldingADeniedEntryIsRefusedWhole) {
  make_repo("repo");
  auto r = sys->run("alice", fs::Rename{.from = srv("repo"), .to = srv("moved")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  EXPECT_NE(r.error().message.find(srv("repo/.git").string() + " (denied by rule no-git)"), std::string::npos)
      << r.error().message;
  EXPECT_TRUE(stdfs::exists(srv("repo/.git/HEAD")));
  EXPECT_TRUE(stdfs::exists(srv("repo/README")));
  EXPECT_FALSE(stdfs::exists(srv("moved")));
  // The symlink into .git (src/git-link) is an entry of its own: not followed.
  EXPECT_EQ(r.error().message.find("git-link"), std::string::npos) << r.error().message;

  // Without the protected entries the same rename goes through; links move as links.
  stdfs::remove_all(srv("repo/.git"));
  stdfs::remove_all(srv("repo/vendor/lib/.git"));
  auto ok = sys->run("alice", fs::Rename{.from = srv("repo"), .to = srv("moved")});
  ASSERT_TRUE(ok) << ok.error().to_string();
  EXPECT_TRUE(stdfs::is_symlink(srv("moved/out-link")));
  EXPECT_EQ(test::read_file(dir / "outside" / "precious"), "keep me");
}

TEST_F(TreePolicy, RenameThatWouldLandAnEntryOnAProtectedPathIsRefused) {
  // The entries' new paths count too: srv/staging/x/secret would become
  // srv/dst/x/secret, which no-dst protects (the source path matches nothing).
  stdfs::create_directories(srv("staging/x"));
  test::write_file(srv("staging/x/secret"), "s");
  auto r = sys->run("alice", fs::Rename{.from = srv("staging"), .to = srv("dst")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  EXPECT_NE(r.error().message.find("denied by rule no-dst"), std::string::npos) << r.error().message;
  EXPECT_TRUE(stdfs::exists(srv("staging/x/secret")));
  EXPECT_FALSE(stdfs::exists(srv("dst")));
}

}  // namespace
}  // namespace airssys::osl
