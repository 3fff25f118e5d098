// fs.read and fs.stat take a fast road when the path is canonical by its
// text: one openat2 from "/" refusing every symlink, the policy asked about
// the text. These tests hold it to the full road's answers wherever the text
// and the object differ — a symlink on the way, a final symlink, a denial
// that the canonical path would not get — and check that each operation
// leaves exactly one start and one end record, naming the canonical path.

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

namespace stdfs = std::filesystem;

class FsFastRoad : public test::WorkDirSystem {
 protected:
  // The records of the operations run so far, after the writer caught up.
  std::vector<ActivityRecord> records() const {
    EXPECT_TRUE(sys->flush_audit(std::chrono::seconds(10)));
    return sink->records();
  }
};

TEST_F(FsFastRoad, ReadOfACanonicalPathLeavesOneStartAndOneEndRecord) {
  test::write_file(dir / "work/plain", "plain text");
  auto r = sys->run("alice", fs::Read{.path = w("plain")});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "plain text");
  auto recs = records();
  ASSERT_EQ(recs.size(), 2U);
  EXPECT_EQ(recs[0].event, ActivityEvent::start);
  EXPECT_EQ(recs[1].outcome, "ok");
  EXPECT_EQ(recs[0].op_id, recs[1].op_id);
  EXPECT_EQ(recs[0].resources, std::vector<std::string>{w("plain")});
  EXPECT_EQ(recs[0].rule, "work-all");
}

TEST_F(FsFastRoad, AnAllowedTextThroughASymlinkIsJudgedByWhereItLeads) {
  // The text <work>/esc/secret.txt is allowed by work/**; the object is
  // <dir>/outside/secret.txt, which nothing allows.
  stdfs::create_directories(dir / "outside");
  test::write_file(dir / "outside/secret.txt", "not for alice");
  stdfs::create_directory_symlink(dir / "outside", dir / "work/esc");
  auto r = sys->run("alice", fs::Read{.path = w("esc/secret.txt")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied) << r.error().to_string();
  auto st = sys->run("alice", fs::Stat{.path = w("esc/secret.txt")});
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().category, ErrorCategory::denied);
  auto recs = records();
  ASSERT_EQ(recs.size(), 2U) << "one denial record per operation, nothing for the text";
  for (const auto& rec : recs) {
    EXPECT_EQ(rec.outcome, "denied");
    EXPECT_EQ(rec.resources, std::vector<std::string>{(dir / "outside/secret.txt").string()});
  }
}

TEST_F(FsFastRoad, ADeniedTextThroughASymlinkIntoTheAllowedTreeIsAllowed) {
  // alice may not touch <dir>/elsewhere/..., but that text leads into work/.
  stdfs::create_directories(dir / "work/real");
  test::write_file(dir / "work/real/data", "data");
  stdfs::create_directories(dir / "elsewhere");
  stdfs::create_directory_symlink(dir / "work/real", dir / "elsewhere/in");
  const std::string text = (dir / "elsewhere/in/data").string();
  auto r = sys->run("alice", fs::Read{.path = text});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(*r, "data");
  auto st = sys->run("alice", fs::Stat{.path = text});
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->size, 4U);
  auto recs = records();
  ASSERT_EQ(recs.size(), 4U);
  for (const auto& rec : recs) EXPECT_EQ(rec.resources, std::vector<std::string>{w("real/data")});
}

TEST_F(FsFastRoad, AFinalSymlinkIsFollowedOnlyWhenAsked) {
  test::write_file(dir / "work/target", "12345");
  stdfs::create_symlink(dir / "work/target", dir / "work/link");
  auto followed = sys->run("alice", fs::Stat{.path = w("link"), .follow_symlinks = true});
  ASSERT_TRUE(followed) << followed.error().to_string();
  EXPECT_EQ(followed->type, fs::FileType::regular);
  EXPECT_EQ(followed->size, 5U);
  auto link = sys->run("alice", fs::Stat{.path = w("link"), .follow_symlinks = false});
  ASSERT_TRUE(link) << link.error().to_string();
  EXPECT_EQ(link->type, fs::FileType::symlink);
  auto read = sys->run("alice", fs::Read{.path = w("link")});
  ASSERT_TRUE(read) << read.error().to_string();
  EXPECT_EQ(*read, "12345");
  auto recs = records();
  ASSERT_EQ(recs.size(), 6U);
  EXPECT_EQ(recs[0].resources, std::vector<std::string>{w("target")}) << "followed: the target is recorded";
  EXPECT_EQ(recs[2].resources, std::vector<std::string>{w("link")}) << "not followed: the link itself";
  EXPECT_EQ(recs[4].resources, std::vector<std::string>{w("target")});
}

TEST_F(FsFastRoad, ErrorsAreTheFullRoadsErrors) {
  auto missing = sys->run("alice", fs::Read{.path = w("nope")});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().category, ErrorCategory::not_found);
  stdfs::create_directories(dir / "work/adir");
  auto a_dir = sys->run("alice", fs::Read{.path = w("adir")});
  ASSERT_FALSE(a_dir);
  EXPECT_EQ(a_dir.error().errno_value, EISDIR);
  auto secret = sys->run("alice", fs::Stat{.path = w("secret/x")});
  ASSERT_FALSE(secret);
  EXPECT_EQ(secret.error().category, ErrorCategory::denied);
  auto recs = records();
  // start + end for the two that ran, one denial record for the secret.
  ASSERT_EQ(recs.size(), 5U);
  EXPECT_EQ(recs[1].outcome, "error");
  EXPECT_EQ(recs[3].outcome, "error");
  EXPECT_EQ(recs[4].outcome, "denied");
}

}  // namespace
}  // namespace airssys::osl
