// The file sink against real files: content, permissions, and the files it
// must refuse (symlink, hard link, FIFO).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <csignal>

#include "alert_sink.hpp"
#include "alert_test_util.hpp"
#include "sink_test_util.hpp"
#include "test_temp_dir.hpp"

namespace airssys::daemoneye::detail {
namespace {

using testing::deliver;
using testing::make_alert;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

class FileSinkTest : public ::testing::Test {
 protected:
  TempDir dir;
  std::shared_ptr<SinkCounters> counters = std::make_shared<SinkCounters>();
  std::vector<std::string> logged;

  Result<std::unique_ptr<Sink>> open(const std::filesystem::path& p, SinkFormat format = SinkFormat::json) {
    SinkConfig c;
    c.type = SinkType::file;
    c.path = p;
    c.format = format;
    return make_file_sink(c, counters, [this](std::string_view m) { logged.emplace_back(m); });
  }
};

TEST_F(FileSinkTest, AppendsOneJsonLinePerAlertToAFileCreated0600) {
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> first{make_alert("r", 1), make_alert("r", 2)};
  deliver(**sink, first);
  const std::vector<Alert> second{make_alert("s", 3)};
  deliver(**sink, second);
  EXPECT_EQ(read_file(dir / "alerts.jsonl"),
            alert_to_json(first[0]) + "\n" + alert_to_json(first[1]) + "\n" + alert_to_json(second[0]) + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "alerts.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(counters->errors.load(), 0u);
}

TEST_F(FileSinkTest, KeepsWhatTheFileAlreadyHeld) {
  write_file(dir / "alerts.jsonl", "{\"earlier\":1}\n");
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> a{make_alert("r", 1)};
  deliver(**sink, a);
  EXPECT_EQ(read_file(dir / "alerts.jsonl"), "{\"earlier\":1}\n" + alert_to_json(a[0]) + "\n");
}

TEST_F(FileSinkTest, HumanFormat) {
  auto sink = open(dir / "alerts.log", SinkFormat::human);
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> a{make_alert("r", 1)};
  deliver(**sink, a);
  EXPECT_EQ(read_file(dir / "alerts.log"), alert_to_human(a[0]) + "\n");
}

TEST_F(FileSinkTest, CreatesMissingDirectories0700) {
  auto sink = open(dir / "var" / "log" / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  struct stat st {};
  ASSERT_EQ(::stat((dir / "var" / "log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST_F(FileSinkTest, RefusesASymlinkAndLeavesItsTargetAlone) {
  write_file(dir / "target", "precious\n");
  std::filesystem::create_symlink(dir / "target", dir / "alerts.jsonl");
  const auto sink = open(dir / "alerts.jsonl");
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error(), (Error{ErrorCategory::denied, ELOOP,
                                 "file sink: " + (dir / "alerts.jsonl").string() +
                                     " is a symbolic link; refusing to follow it"}));
  EXPECT_EQ(read_file(dir / "target"), "precious\n");
}

TEST_F(FileSinkTest, RefusesAFileWithAnotherHardLink) {
  write_file(dir / "target", "precious\n");
  ASSERT_EQ(::link((dir / "target").c_str(), (dir / "alerts.jsonl").c_str()), 0);
  const auto sink = open(dir / "alerts.jsonl");
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error(), Error::make(ErrorCategory::denied, "file sink: " + (dir / "alerts.jsonl").string() +
                                                                " has 2 hard links; refusing a file that is also elsewhere"));
  EXPECT_EQ(read_file(dir / "target"), "precious\n");
}

TEST_F(FileSinkTest, RefusesAFifoWithoutHanging) {
  ASSERT_EQ(::mkfifo((dir / "alerts.jsonl").c_str(), 0600), 0);
  const auto sink = open(dir / "alerts.jsonl");
  ASSERT_FALSE(sink);
  // With no reader, a write-only open of a FIFO fails at once (ENXIO) under O_NONBLOCK.
  EXPECT_TRUE(sink.error().message.starts_with("file sink: cannot open " + (dir / "alerts.jsonl").string()) ||
              sink.error().message.ends_with("is not a regular file"))
      << sink.error().message;
}

TEST_F(FileSinkTest, FollowsRotation) {
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> before{make_alert("r", 1)};
  deliver(**sink, before);
  std::filesystem::rename(dir / "alerts.jsonl", dir / "alerts.jsonl.1");
  const std::vector<Alert> after{make_alert("r", 2)};
  deliver(**sink, after);
  EXPECT_EQ(read_file(dir / "alerts.jsonl.1"), alert_to_json(before[0]) + "\n");
  EXPECT_EQ(read_file(dir / "alerts.jsonl"), alert_to_json(after[0]) + "\n");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "alerts.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(FileSinkTest, ASymlinkPlantedAfterRotationIsNotFollowed) {
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  std::filesystem::rename(dir / "alerts.jsonl", dir / "alerts.jsonl.1");
  write_file(dir / "target", "precious\n");
  std::filesystem::create_symlink(dir / "target", dir / "alerts.jsonl");
  const std::vector<Alert> a{make_alert("r", 1)};
  deliver(**sink, a);
  EXPECT_EQ(read_file(dir / "target"), "precious\n");
  EXPECT_EQ(read_file(dir / "alerts.jsonl.1"), alert_to_json(a[0]) + "\n");  // kept the file it had
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("is a symbolic link"), std::string::npos) << logged[0];
}

// A file someone else made first (probe 13 finding 2): writable by all, or
// another user's; and one in a directory another user owns. Each refused,
// the file left as it was.
TEST_F(FileSinkTest, RefusesAFileOrDirectoryOfAnotherUserOrWritableByOthers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to nobody";
  const auto path = dir / "alerts.jsonl";
  write_file(path, "");
  ASSERT_EQ(::chmod(path.c_str(), 0666), 0);
  auto sink = open(path);
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().message, "file sink: path: refusing " + path.string() +
                                      ": it is writable by everyone (mode 0666); only its owner may write it (e.g. "
                                      "chmod go-w)");
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);
  sink = open(path);
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().message,
            "file sink: path: refusing " + path.string() + ": owned by uid 65534, not by us (0) or root");
  const auto theirs = dir / "theirs";
  std::filesystem::create_directory(theirs);
  ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
  sink = open(theirs / "alerts.jsonl");
  ASSERT_FALSE(sink);
  EXPECT_EQ(sink.error().message, "file sink: path: refusing directory " + theirs.string() + " above " +
                                      (theirs / "alerts.jsonl").string() +
                                      ": owned by uid 65534, not by us (0) or root");
  EXPECT_FALSE(std::filesystem::exists(theirs / "alerts.jsonl"));
  EXPECT_EQ(read_file(path), "");
}

// After rotation, a file another user put at the path is not written: the
// sink keeps the file it has and says so once.
TEST_F(FileSinkTest, AFileOfAnotherUserPutThereAfterRotationIsNotWritten) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give files to nobody";
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  std::filesystem::rename(dir / "alerts.jsonl", dir / "alerts.jsonl.1");
  write_file(dir / "alerts.jsonl", "");
  ASSERT_EQ(::chown((dir / "alerts.jsonl").c_str(), 65534, 65534), 0);
  const std::vector<Alert> a{make_alert("r", 1)};
  deliver(**sink, a);
  EXPECT_EQ(read_file(dir / "alerts.jsonl"), "");
  EXPECT_EQ(read_file(dir / "alerts.jsonl.1"), alert_to_json(a[0]) + "\n");  // kept the file it had
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("owned by uid 65534"), std::string::npos) << logged[0];
}

TEST_F(FileSinkTest, AReopenThatKeepsFailingIsLoggedOnce) {
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  std::filesystem::remove(dir / "alerts.jsonl");
  std::filesystem::create_symlink(dir / "elsewhere", dir / "alerts.jsonl");
  const std::vector<Alert> a{make_alert("r", 1)};
  deliver(**sink, a);
  deliver(**sink, a);
  EXPECT_EQ(logged.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir / "elsewhere"));
}

// A real short write: RLIMIT_FSIZE stops the file a few bytes into a line
// (EFBIG, SIGXFSZ ignored). The failure is counted, and once writes work
// again the next line starts on a line of its own.
TEST_F(FileSinkTest, AFailedWriteIsCountedAndTheNextLineIsWhole) {
  auto sink = open(dir / "alerts.jsonl");
  ASSERT_TRUE(sink) << sink.error();
  const std::vector<Alert> first{make_alert("r", 1)};
  deliver(**sink, first);
  const auto size = std::filesystem::file_size(dir / "alerts.jsonl");

  struct rlimit old {};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = size + 10;
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
  const std::vector<Alert> cut{make_alert("r", 2)};
  deliver(**sink, cut);
  ::setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);

  EXPECT_EQ(counters->errors.load(), 1u);
  ASSERT_EQ(logged.size(), 1u);
  EXPECT_NE(logged[0].find("write failed: File too large"), std::string::npos) << logged[0];

  const std::vector<Alert> after{make_alert("r", 3)};
  deliver(**sink, after);
  const std::string text = read_file(dir / "alerts.jsonl");
  EXPECT_EQ(text, alert_to_json(first[0]) + "\n" + alert_to_json(cut[0]).substr(0, 10) + "\n" + alert_to_json(after[0]) + "\n");
  ASSERT_EQ(logged.size(), 2u);
  EXPECT_NE(logged[1].find("works again after 1 failed"), std::string::npos) << logged[1];
}

}  // namespace
}  // namespace airssys::daemoneye::detail
