// What of a partial record could not be read, told from the fields left at
// their defaults (unreadable_sample.hpp); the real agent's sample is checked
// by daemoneye.agent RunsAsAnOrdinaryUserAndSaysWhatItCannotRead.
#include <airssys/daemoneye/unreadable_sample.hpp>

#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

ProcessRecord whole(std::int64_t pid) {
  ProcessRecord r;
  r.pid = pid;
  r.name = "p" + std::to_string(pid);
  r.uid = 0;
  r.path = "/usr/bin/x";
  r.cwd = "/";
  r.root = "/";
  r.disk_bytes_read = 0;
  r.cgroup_path = "/user.slice";
  r.auid = 1000;
  return r;
}

TEST(UnreadableSample, NamesWhatEachPartialRecordLacks) {
  ProcessRecord hidden = whole(1);  // another user's process, read without root
  hidden.partial = true;
  hidden.path.clear();
  hidden.cwd.clear();
  hidden.root.clear();
  hidden.disk_bytes_read = -1;
  EXPECT_EQ(unread_parts(hidden), (std::vector<std::string>{"/proc/1/exe", "/proc/1/cwd", "/proc/1/root", "/proc/1/io"}));

  ProcessRecord no_status = whole(2);
  no_status.partial = true;
  no_status.uid = -1;
  EXPECT_EQ(unread_parts(no_status), std::vector<std::string>{"/proc/2/status"});

  // Before: every partial record without one of the five fields unset was
  // put down to "the executable PATH (its image or hash)", also when the
  // read that failed was of its cgroup, loginuid or command line.
  ProcessRecord stalled = whole(3);  // its image not read (file system did not answer), or its cmdline
  stalled.partial = true;
  EXPECT_EQ(unread_parts(stalled),
            std::vector<std::string>{"unknown: /proc/3/cmdline, or the executable /usr/bin/x (its image or hash)"});
  stalled.sha256 = std::string(64, 'a');  // the image was read: only the command line is left
  EXPECT_EQ(unread_parts(stalled), std::vector<std::string>{"unknown: /proc/3/cmdline"});

  ProcessRecord no_cgroup = whole(5);  // first seen, its cgroup and loginuid refused
  no_cgroup.partial = true;
  no_cgroup.cgroup_path.clear();
  no_cgroup.auid = -1;
  EXPECT_EQ(unread_parts(no_cgroup), (std::vector<std::string>{"/proc/5/cgroup", "/proc/5/loginuid"}));
  no_cgroup.path.clear();  // with one of the first five unset, that one alone (a kernel may lack the two files)
  EXPECT_EQ(unread_parts(no_cgroup), std::vector<std::string>{"/proc/5/exe"});

  EXPECT_TRUE(unread_parts(whole(4)).empty());  // not partial
}

TEST(UnreadableSample, TakesTheFirstFewPartialRecordsInOrder) {
  std::vector<ProcessRecord> all;
  for (std::int64_t pid = 10; pid < 30; ++pid) {
    all.push_back(whole(pid));
    if (pid % 2 == 1) {
      all.back().partial = true;
      all.back().disk_bytes_read = -1;
    }
  }
  const auto sample = unreadable_sample(all);
  ASSERT_EQ(sample.size(), kUnreadableSampleMax);
  EXPECT_EQ(sample[0], (UnreadableProcess{.pid = 11, .name = "p11", .missing = {"/proc/11/io"}}));
  EXPECT_EQ(sample.back().pid, 19);
  EXPECT_TRUE(unreadable_sample(std::vector<ProcessRecord>{whole(1)}).empty());
}

}  // namespace
}  // namespace airssys::daemoneye
