// The host's mount table (mount_table.hpp): mountinfo parsed, a file known
// by its device and its path within its filesystem named by the host's
// path, the choice among bind mounts, and when the table is read again.

#include "mount_table.hpp"

#include "test_temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <string>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;

// Real lines' shape (this machine's, and a bind mount's root).
constexpr std::string_view kInfo =
    "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw\n"
    "48 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw\n"
    "60 27 254:0 /tmp/dir /srv/bound rw,relatime - ext4 /dev/vda rw\n"
    "61 27 0:23 /x /mnt/with\\040space rw - tmpfs tmpfs rw\n"
    "not a mountinfo line\n"
    "62 27 254:0 /gone//deleted /mnt/gone rw - ext4 /dev/vda rw\n";

TEST(MountTable, ParsesDevicesRootsAndMountPointsAndSkipsWhatItCannot) {
  const auto m = parse_mountinfo(kInfo);
  ASSERT_EQ(m.size(), 6u);
  EXPECT_EQ(m[0], (MountEntry{makedev(254, 0), "/", "/"}));
  EXPECT_EQ(m[1], (MountEntry{makedev(0, 23), "/", "/dev/shm"}));
  EXPECT_EQ(m[4], (MountEntry{makedev(0, 23), "/x", "/mnt/with space"}));
  EXPECT_EQ(m[5].root, "/gone//deleted");
}

TEST(MountTable, AFileIsNamedAtTheMountsOfItsDevice) {
  const auto m = parse_mountinfo(kInfo);
  const auto root = makedev(254, 0), shm = makedev(0, 23);
  // The shortest of several (/ and the bind mount of /tmp/dir), unless one
  // gives the path the process ran.
  EXPECT_EQ(host_path_of(m, root, "/tmp/dir/payload", "/mnt/payload"), "/tmp/dir/payload");
  EXPECT_EQ(host_path_of(m, root, "/tmp/dir/payload", "/srv/bound/payload"), "/srv/bound/payload");
  EXPECT_EQ(host_path_of(m, root, "/usr/bin/true", "/usr/bin/true"), "/usr/bin/true");
  // A root is a whole component: /tmp/dirx is not under /tmp/dir.
  EXPECT_EQ(host_path_of(m, root, "/tmp/dirx/p", ""), "/tmp/dirx/p");
  // Only the root mount of 254:0 and the bind of /run/netns show it: the
  // shortest of /run/netns/n (both give the same).
  EXPECT_EQ(host_path_of(m, root, "/run/netns/n", ""), "/run/netns/n");
  EXPECT_EQ(host_path_of(m, shm, "/payload", ""), "/dev/shm/payload");
  EXPECT_EQ(host_path_of(m, shm, "/x/y", ""), "/dev/shm/x/y");
  EXPECT_EQ(host_path_of(m, shm, "/x", "/mnt/with space"), "/mnt/with space");
  EXPECT_EQ(host_path_of(m, shm, "/", ""), "/dev/shm");
  // A device the host has not mounted, a path not absolute: unknown.
  EXPECT_EQ(host_path_of(m, makedev(0, 99), "/payload", ""), std::nullopt);
  EXPECT_EQ(host_path_of(m, root, "", ""), std::nullopt);
  EXPECT_EQ(host_path_of(m, root, "payload", ""), std::nullopt);
}

// Only a part of a filesystem mounted: a file outside it has no host path.
TEST(MountTable, AFileOutsideEveryMountedPartHasNone) {
  const auto m = parse_mountinfo("70 1 0:50 /sub /srv/part rw - tmpfs tmpfs rw\n");
  EXPECT_EQ(host_path_of(m, makedev(0, 50), "/sub/x", ""), "/srv/part/x");
  EXPECT_EQ(host_path_of(m, makedev(0, 50), "/other/x", ""), std::nullopt);
}

TEST(MountTable, OurOwnTableNamesAHostFile) {
  struct stat st{};
  ASSERT_EQ(::stat("/usr/bin/true", &st), 0);
  MountTable t;
  // "/" here is the root of its filesystem (this machine's ext4, a
  // container's overlay): the path within it is the path.
  EXPECT_EQ(t.host_path(st.st_dev, fs::canonical("/usr/bin/true").string(), ""), fs::canonical("/usr/bin/true").string());
  EXPECT_EQ(t.reads(), 1u);
  // Unchanged: not read again for a hit.
  EXPECT_EQ(t.host_path(st.st_dev, "/usr/bin/true", "").has_value(), true);
  EXPECT_EQ(t.reads(), 1u);
}

// A file that cannot be polled (a copy of a table) is read again on a miss,
// at most once a second: a mount added since is found then.
TEST(MountTable, AMissReadsTheTableAgainAtMostOnceASecond) {
  testing::TempDir dir;
  const fs::path file = dir.path() / "mountinfo";
  testing::write_file(file, "27 1 254:0 / / rw - ext4 /dev/vda rw\n");
  MountTable t(file);
  EXPECT_EQ(t.host_path(makedev(0, 40), "/p", ""), std::nullopt);
  const auto reads = t.reads();
  testing::write_file(file, "27 1 254:0 / / rw - ext4 /dev/vda rw\n80 27 0:40 / /srv/t rw - tmpfs t rw\n");
  EXPECT_EQ(t.host_path(makedev(0, 40), "/p", ""), std::nullopt);  // within the second
  EXPECT_EQ(t.reads(), reads);
  std::optional<std::string> found;
  for (int i = 0; i < 100 && !found; ++i) {
    ::usleep(50'000);
    found = t.host_path(makedev(0, 40), "/p", "");
  }
  EXPECT_EQ(found, "/srv/t/p");
}

// A missing file: every lookup unknown, no crash.
TEST(MountTable, AnUnreadableTableKnowsNoPath) {
  MountTable t("/nonexistent/mountinfo");
  EXPECT_EQ(t.host_path(makedev(254, 0), "/usr/bin/true", ""), std::nullopt);
}

}  // namespace
}  // namespace airssys::daemoneye
