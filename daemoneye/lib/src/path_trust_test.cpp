// check_trusted_path and check_config_paths against real files and
// directories, some owned by nobody (65534): the entry, a directory above
// it, a sticky directory, a symbolic link, what does not exist yet.
#include <airssys/daemoneye/path_trust.hpp>

#include <gtest/gtest.h>

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#include "test_temp_dir.hpp"

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;
using testing::write_file;

constexpr uid_t kNobody = 65534;

class PathTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to nobody";
  }
  TempDir tmp;
  fs::path mkdir(const fs::path& p, mode_t mode, uid_t owner = 0) {
    fs::create_directories(p);
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_EQ(::chown(p.c_str(), owner, owner), 0);
    return p;
  }
  fs::path file(const fs::path& p, mode_t mode, uid_t owner = 0) {
    write_file(p, "x\n");
    EXPECT_EQ(::chmod(p.c_str(), mode), 0);
    EXPECT_EQ(::chown(p.c_str(), owner, owner), 0);
    return p;
  }
  // A configuration whose database and rules are under `safe`, no sink.
  static Config config_in(const fs::path& safe) {
    Config c;
    c.database.path = safe / "var" / "daemoneye.db";
    c.rules.dir = safe / "rules";
    c.alerts.sinks.clear();
    return c;
  }
  std::string refusal(const fs::path& p) {
    auto r = check_trusted_path(p, "k");
    return r ? "" : r.error().message;
  }
};

TEST_F(PathTrustTest, AnEntryOwnedByUsOrRootAndWritableByNoOneElseIsTrusted) {
  const fs::path d = mkdir(tmp / "d", 0755);
  EXPECT_EQ(refusal(file(d / "mine", 0600)), "");
  EXPECT_EQ(refusal(file(d / "readable", 0644)), "");
  EXPECT_EQ(refusal(d), "");
  EXPECT_EQ(refusal(d / "not-yet"), "");            // created later by the agent
  EXPECT_EQ(refusal(d / "not-yet" / "deeper"), "");
}

TEST_F(PathTrustTest, TheEntryItselfRefusedNamesKeyPathAndWhatWasFound) {
  const fs::path d = mkdir(tmp / "d", 0755);
  const std::string advice = "; only its owner may write it (e.g. chmod go-w)";
  struct Case {
    mode_t mode;
    uid_t owner;
    std::string expected;
  };
  const Case cases[] = {
      {0666, 0, "k: refusing " + (d / "f").string() + ": it is writable by everyone (mode 0666)" + advice},
      {0664, 0, "k: refusing " + (d / "f").string() + ": it is writable by its group (mode 0664)" + advice},
      {0600, kNobody, "k: refusing " + (d / "f").string() + ": owned by uid 65534, not by us (0) or root"},
      {0777, kNobody, "k: refusing " + (d / "f").string() + ": it is writable by everyone (mode 0777)" + advice},
  };
  for (const auto& c : cases) {
    fs::remove(d / "f");
    file(d / "f", c.mode, c.owner);
    auto r = check_trusted_path(d / "f", "k");
    ASSERT_FALSE(r) << std::oct << c.mode;
    EXPECT_EQ(r.error().message, c.expected);
    EXPECT_EQ(r.error().category, ErrorCategory::denied);
  }
}

TEST_F(PathTrustTest, ADirectoryAboveRefusedIsNamed) {
  const fs::path theirs = mkdir(tmp / "theirs", 0755, kNobody);
  const fs::path inner = mkdir(theirs / "inner", 0700);
  const fs::path f = file(inner / "f", 0600);
  EXPECT_EQ(refusal(f), "k: refusing directory " + theirs.string() + " above " + f.string() +
                            ": owned by uid 65534, not by us (0) or root");
  // Not there yet: who could put it there still counts.
  EXPECT_EQ(refusal(inner / "later"), "k: refusing directory " + theirs.string() + " above " +
                                          (inner / "later").string() + ": owned by uid 65534, not by us (0) or root");
  const fs::path group = mkdir(tmp / "group", 0775);
  EXPECT_EQ(refusal(group / "f"), "k: refusing directory " + group.string() + " above " + (group / "f").string() +
                                      ": it is writable by its group (mode 0775); only its owner may write it "
                                      "(e.g. chmod go-w)");
}

// /tmp: a root-owned sticky directory may hold a trusted entry (one that is
// ours or root's); one owned by another user in it is refused, and the
// sticky directory itself is no place for a directory the agent fills.
TEST_F(PathTrustTest, AStickyDirectoryAboveIsFineForAnEntryOfOursOnly) {
  const fs::path pub = mkdir(tmp / "pub", 01777);
  EXPECT_EQ(refusal(file(pub / "root-owned", 0755)), "");
  // Missing: anyone may create it there first (a credentials file, a CA
  // certificate named in /tmp and not there yet would be theirs).
  EXPECT_EQ(refusal(pub / "not-yet"), "k: refusing " + (pub / "not-yet").string() + ": " + (pub / "not-yet").string() +
                                          " does not exist, and directory " + pub.string() +
                                          " (mode 1777) lets everyone create it; name a path in a directory only its "
                                          "owner may write");
  EXPECT_EQ(refusal(pub / "not-yet" / "below"),
            "k: refusing " + (pub / "not-yet" / "below").string() + ": " + (pub / "not-yet").string() +
                " does not exist, and directory " + pub.string() +
                " (mode 1777) lets everyone create it; name a path in a directory only its owner may write");
  const fs::path group_sticky = mkdir(tmp / "group-sticky", 01770);
  EXPECT_NE(refusal(group_sticky / "not-yet").find("lets its group create it"), std::string::npos)
      << refusal(group_sticky / "not-yet");
  // In a directory only its owner may write, a missing entry is the agent's to make.
  EXPECT_EQ(refusal(mkdir(tmp / "ours", 0755) / "not-yet"), "");
  EXPECT_EQ(refusal(file(pub / "planted", 0755, kNobody)),
            "k: refusing " + (pub / "planted").string() + ": owned by uid 65534, not by us (0) or root");
  EXPECT_EQ(refusal(pub), "k: refusing " + pub.string() +
                              ": it is writable by everyone (mode 1777); only its owner may write it (e.g. chmod go-w)");
  // A sticky directory owned by someone else: they can replace anything in it.
  const fs::path theirs = mkdir(tmp / "theirs", 01777, kNobody);
  EXPECT_EQ(refusal(file(theirs / "f", 0600)), "k: refusing directory " + theirs.string() + " above " +
                                                   (theirs / "f").string() +
                                                   ": owned by uid 65534, not by us (0) or root");
}

// A link is judged by its owner, and where it leads is checked too.
TEST_F(PathTrustTest, ASymbolicLinkIsFollowedAndItsTargetChecked) {
  const fs::path safe = mkdir(tmp / "safe", 0755);
  const fs::path theirs = mkdir(tmp / "theirs", 0755, kNobody);
  const fs::path target = file(mkdir(theirs / "in", 0755) / "prog", 0755);
  fs::create_symlink(target, safe / "link");
  EXPECT_EQ(refusal(safe / "link"), "k: refusing directory " + theirs.string() + " above " +
                                        (safe / "link").string() + ": owned by uid 65534, not by us (0) or root");
  const fs::path good = file(safe / "prog", 0755);
  fs::create_symlink(good, safe / "good-link");
  EXPECT_EQ(refusal(safe / "good-link"), "");
  ASSERT_EQ(::lchown((safe / "good-link").c_str(), kNobody, kNobody), 0);
  EXPECT_EQ(refusal(safe / "good-link"),
            "k: refusing " + (safe / "good-link").string() + ": owned by uid 65534, not by us (0) or root");
}

// A link whose target is missing or loops is refused (before, the failed
// resolution was skipped and the link trusted); a relative link, and a link
// to a directory in the middle of the path, are followed link by link and
// each target's directories checked.
TEST_F(PathTrustTest, ALinkThatCannotBeResolvedIsRefusedAndEachHopIsChecked) {
  const fs::path safe = mkdir(tmp / "safe", 0755);
  const fs::path pub = mkdir(tmp / "pub", 01777);
  fs::create_symlink(pub / "later", safe / "dangling");
  EXPECT_EQ(refusal(safe / "dangling"), "k: refusing " + (safe / "dangling").string() + ": the symbolic link " +
                                            (safe / "dangling").string() + " leads to " + (pub / "later").string() +
                                            ", which cannot be reached (No such file or directory); a link is "
                                            "trusted only when where it leads can be checked");
  fs::create_symlink("loop-b", safe / "loop-a");
  fs::create_symlink("loop-a", safe / "loop-b");
  EXPECT_NE(refusal(safe / "loop-a").find("passes too many symbolic links (a loop)"), std::string::npos)
      << refusal(safe / "loop-a");
  // Relative, and a directory link in the middle leading under nobody's.
  file(safe / "prog", 0755);
  fs::create_symlink("prog", safe / "rel");
  EXPECT_EQ(refusal(safe / "rel"), "");
  const fs::path theirs = mkdir(tmp / "theirs", 0755, kNobody);
  const fs::path inner = mkdir(theirs / "inner", 0755);
  file(inner / "f", 0644);
  fs::create_symlink("../theirs/inner", safe / "dirlink");
  EXPECT_EQ(refusal(safe / "dirlink" / "f"), "k: refusing directory " + theirs.string() + " above " +
                                                 (safe / "dirlink" / "f").string() +
                                                 ": owned by uid 65534, not by us (0) or root");
}

// make_trusted_dir: what is missing is made 0700; a directory another
// user made in a sticky directory between the start's check and the mkdir
// (here made before the call: the race's outcome) is refused, not used.
// Before, the ledger and the file sink's mkdir -p took an existing
// directory whoever owned it.
TEST_F(PathTrustTest, MakeTrustedDirMakesWhatIsMissingAndRefusesOneTakenByAnotherUser) {
  const fs::path pub = mkdir(tmp / "pub", 01777);
  ASSERT_TRUE(make_trusted_dir(pub / "ours" / "deeper", "k"));
  for (const fs::path& d : {pub / "ours", pub / "ours" / "deeper"}) {
    struct stat st {};
    ASSERT_EQ(::lstat(d.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0700u) << d;
    EXPECT_EQ(st.st_uid, ::geteuid()) << d;
  }
  ASSERT_TRUE(make_trusted_dir(pub / "ours", "k"));  // there already, ours: fine
  const fs::path taken = mkdir(pub / "ledger", 0700, kNobody);
  auto r = make_trusted_dir(taken, "ledger.dir");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message,
            "ledger.dir: refusing " + taken.string() + ": owned by uid 65534, not by us (0) or root");
  EXPECT_TRUE(fs::is_empty(taken));
  const fs::path above = mkdir(pub / "sinks", 0755, kNobody);
  r = make_trusted_dir(above / "alerts", "path");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "path: refusing directory " + above.string() + " above " + (above / "alerts").string() +
                                   ": owned by uid 65534, not by us (0) or root");
}

// check_config_paths: each key named, and the refusal a configuration error
// (invalid_input: the agent exits 2).
TEST_F(PathTrustTest, ConfigPathsNameTheKeyAndAreConfigurationErrors) {
  const fs::path theirs = mkdir(tmp / "theirs", 0755, kNobody);
  const fs::path safe = mkdir(tmp / "safe", 0700);
  auto base = [&] { return config_in(safe); };
  ASSERT_TRUE(check_config_paths(base())) << check_config_paths(base()).error();
  const fs::path bad = theirs / "x";
  const std::string owned = ": owned by uid 65534, not by us (0) or root";
  const std::string above = "refusing directory " + theirs.string() + " above " + bad.string() + owned;
  SinkConfig nats{.type = SinkType::nats};
  nats.spool_dir = safe / "spool";
  struct Case {
    std::string key;
    std::function<void(Config&)> set;
  };
  const std::vector<Case> cases{
      {"database.path", [&](Config& c) { c.database.path = bad / "daemoneye.db"; }},
      {"rules.dir", [&](Config& c) { c.rules.dir = bad; }},
      {"ledger.dir", [&](Config& c) { c.ledger.dir = bad; }},
      {"bus.socket", [&](Config& c) { c.bus.socket = bad / "bus.sock"; }},
      {"procmond.path", [&](Config& c) { c.procmond.path = bad; }},
      {"alerts.sinks #2: path",
       [&](Config& c) {
         c.alerts.sinks = {SinkConfig{}, SinkConfig{.type = SinkType::file, .path = bad}};
       }},
      {"alerts.sinks #1: credentials",
       [&](Config& c) {
         c.alerts.sinks = {nats};
         c.alerts.sinks[0].credentials = bad;
       }},
      {"alerts.sinks #1: tls_ca",
       [&](Config& c) {
         c.alerts.sinks = {nats};
         c.alerts.sinks[0].tls_ca = bad;
       }},
      {"alerts.sinks #1: spool dir",
       [&](Config& c) {
         c.alerts.sinks = {nats};
         c.alerts.sinks[0].spool_dir = bad;
       }},
      {"events.nats: tls_key",
       [&](Config& c) {
         c.events.nats = nats;
         c.events.nats->tls_key = bad;
       }},
      {"live_query.trusted_keys",
       [&](Config& c) {
         c.live_query.enabled = true;
         c.live_query.trusted_keys = {safe / "op.pub.pem", bad};
       }},
      {"live_query.credentials",
       [&](Config& c) {
         c.live_query.enabled = true;
         c.live_query.credentials = bad;
       }},
  };
  for (const auto& c : cases) {
    Config config = base();
    c.set(config);
    auto r = check_config_paths(config);
    ASSERT_FALSE(r) << c.key;
    EXPECT_EQ(r.error().category, ErrorCategory::invalid_input) << c.key;
    // database.path and bus.socket: their directory (here `bad`) is what is checked.
    EXPECT_EQ(r.error().message, c.key + ": " + above) << c.key;
  }
  // Live query paths count only when live queries are on.
  Config off = base();
  off.live_query.credentials = bad;
  EXPECT_TRUE(check_config_paths(off));
}

// A secret (NATS credentials, a TLS private key) readable by anyone but its
// owner is refused, as ssh refuses such a private key (session 14, gap 2);
// public keys, certificates and CA bundles are not secrets.
TEST_F(PathTrustTest, ASecretReadableByOthersIsRefusedWithChmod600) {
  const fs::path d = mkdir(tmp / "d", 0755);
  EXPECT_TRUE(check_secret_file(file(d / "0600", 0600), "k"));
  EXPECT_TRUE(check_secret_file(file(d / "0400", 0400), "k"));
  EXPECT_TRUE(check_secret_file(d / "missing", "k"));  // its opener says so
  const auto refused = [](const fs::path& p) {
    auto r = check_secret_file(p, "k");
    return r ? std::string() : r.error().message;
  };
  const fs::path everyone = file(d / "0644", 0644);
  EXPECT_EQ(refused(everyone), "k: refusing " + everyone.string() +
                                   ": it is a secret and readable by everyone (mode 0644); only its owner may read it "
                                   "(chmod 600 " + everyone.string() + ")");
  // root's file, read by root: its group is someone else.
  const fs::path group = file(d / "0640", 0640);
  EXPECT_EQ(refused(group), "k: refusing " + group.string() +
                                ": it is a secret and readable by its group (mode 0640); only its owner may read it "
                                "(chmod 600 " + group.string() + ")");
  // Through a symbolic link: the file is judged.
  fs::create_symlink(everyone, d / "link");
  EXPECT_NE(refused(d / "link"), "");
}

// An agent that is not root may read root's secret through the file's
// group (root:daemoneye 0640), and only through its own (primary) group.
TEST_F(PathTrustTest, AGroupReadableSecretOfRootIsFineForAnAgentInThatGroup) {
  const fs::path d = mkdir(tmp / "d", 0755);
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const fs::path ours = file(d / "ours", 0640);
  ASSERT_EQ(::chown(ours.c_str(), 0, kNobody), 0);  // root:nogroup (65534)
  const fs::path other = file(d / "other", 0640);   // root:root
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const gid_t groups[] = {kNobody};
    if (::setgroups(1, groups) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0)
      ::_exit(10);
    if (!check_secret_file(ours, "k")) ::_exit(11);
    if (check_secret_file(other, "k")) ::_exit(12);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setup, 11: our group's file refused, 12: another group's accepted";
}

// Only through the agent's own group (its egid): a supplementary group is
// usually shared with other users (session 14 review, 5). And a secret the
// agent cannot read at all (root's 0600, the agent not root) is said at
// check time (review, 4). Before, both passed.
TEST_F(PathTrustTest, AGroupSecretIsReadThroughTheAgentsOwnGroupOnlyAndAnUnreadableOneIsRefused) {
  constexpr gid_t kOtherGroup = 4242;
  const fs::path d = mkdir(tmp / "d", 0755);
  ASSERT_EQ(::chmod(tmp.path().c_str(), 0755), 0);
  const fs::path ours = file(d / "ours", 0640);
  ASSERT_EQ(::chown(ours.c_str(), 0, kNobody), 0);  // root:nogroup, the agent's own group
  const fs::path supplementary = file(d / "supplementary", 0640);
  ASSERT_EQ(::chown(supplementary.c_str(), 0, kOtherGroup), 0);
  const fs::path roots = file(d / "roots", 0600);  // root:root 0600
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const gid_t groups[] = {kNobody, kOtherGroup};
    if (::setgroups(2, groups) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0)
      ::_exit(10);
    if (!check_secret_file(ours, "k")) ::_exit(11);
    auto r = check_secret_file(supplementary, "k");
    if (r || r.error().message.find("readable by its group (mode 0640)") == std::string::npos) ::_exit(12);
    r = check_secret_file(roots, "k");
    if (r || r.error().category != ErrorCategory::invalid_input ||
        r.error().message != "k: the agent (uid 65534) cannot read " + roots.string() +
                                 " (owned by uid 0, group 0, mode 0600)")
      ::_exit(13);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10: setup, 11: our group's file refused, 12: a supplementary group's "
                                       "accepted, 13: root's 0600 not refused as unreadable";
}

// Missing::refused (procmond.path before a spawn): a path that is not all
// there is refused, also below a sticky directory where anyone could make
// it after the check (session 14 review, 1). Missing::allowed passes it.
TEST_F(PathTrustTest, AMissingPathIsRefusedWhenItMustExist) {
  const fs::path pub = mkdir(tmp / "pub", 01777);
  const fs::path prog = pub / "procmond";
  ASSERT_TRUE(check_trusted_path(mkdir(tmp / "bin", 0755) / "procmond", "procmond.path"));
  auto r = check_trusted_path(prog, "procmond.path", Missing::refused);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::not_found);
  EXPECT_EQ(r.error().message, "procmond.path: " + prog.string() + " does not exist");
  r = check_trusted_path(pub / "bin" / "procmond", "procmond.path", Missing::refused);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "procmond.path: " + (pub / "bin" / "procmond").string() + " does not exist (" +
                                   (pub / "bin").string() + " is missing)");
  // Through a link whose target is gone: refused either way.
  ASSERT_EQ(::symlink((pub / "gone").c_str(), (pub / "link").c_str()), 0);
  EXPECT_FALSE(check_trusted_path(pub / "link", "procmond.path", Missing::refused));
  // There: passes.
  const fs::path there = file(prog, 0755);
  EXPECT_TRUE(check_trusted_path(there, "procmond.path", Missing::refused));
}

// check_config_secrets (and so check_config_paths) names the key of each
// secret; the other files of a nats connection may be read by all.
TEST_F(PathTrustTest, ConfigSecretsNameTheKeyAndAreConfigurationErrors) {
  const fs::path safe = mkdir(tmp / "safe", 0700);
  const fs::path open = file(safe / "open", 0644);
  const fs::path secret = file(safe / "secret", 0600);
  auto base = [&] { return config_in(safe); };
  SinkConfig nats{.type = SinkType::nats};
  nats.spool_dir = safe / "spool";
  nats.credentials = secret;
  nats.tls_key = secret;
  nats.tls_cert = open;
  nats.tls_ca = open;
  Config fine = base();
  fine.alerts.sinks = {SinkConfig{}, nats};
  fine.events.nats = nats;
  fine.live_query.enabled = true;
  fine.live_query.trusted_keys = {open};
  fine.live_query.credentials = secret;
  fine.live_query.tls_key = secret;
  fine.live_query.tls_cert = open;
  fine.live_query.tls_ca = open;
  ASSERT_TRUE(check_config_paths(fine)) << check_config_paths(fine).error();
  struct Case {
    std::string key;
    std::function<void(Config&)> set;
  };
  const std::vector<Case> cases{
      {"alerts.sinks #2: credentials", [&](Config& c) { c.alerts.sinks[1].credentials = open; }},
      {"alerts.sinks #2: tls_key", [&](Config& c) { c.alerts.sinks[1].tls_key = open; }},
      {"events.nats: credentials", [&](Config& c) { c.events.nats->credentials = open; }},
      {"events.nats: tls_key", [&](Config& c) { c.events.nats->tls_key = open; }},
      {"live_query.credentials", [&](Config& c) { c.live_query.credentials = open; }},
      {"live_query.tls_key", [&](Config& c) { c.live_query.tls_key = open; }},
  };
  for (const auto& c : cases) {
    Config config = fine;
    c.set(config);
    for (const auto& r : {check_config_secrets(config), check_config_paths(config)}) {
      ASSERT_FALSE(r) << c.key;
      EXPECT_EQ(r.error().category, ErrorCategory::invalid_input) << c.key;
      EXPECT_EQ(r.error().message, c.key + ": refusing " + open.string() +
                                       ": it is a secret and readable by everyone (mode 0644); only its owner may "
                                       "read it (chmod 600 " + open.string() + ")");
    }
  }
  // Live query secrets count only when live queries are on.
  Config off = fine;
  off.live_query.enabled = false;
  off.live_query.credentials = open;
  EXPECT_TRUE(check_config_secrets(off));
}

}  // namespace
}  // namespace airssys::daemoneye
