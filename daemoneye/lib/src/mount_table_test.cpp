// The host's mount table (mount_table.hpp): mountinfo parsed, a file known
// by its device and its path within its filesystem named by the host's
// path, the choice among bind mounts, and when the table is read again.

#include "mount_table.hpp"

#include <airssys/daemoneye/kernel_events.hpp>

#include "test_temp_dir.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <string>
#include <utility>

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
// at most once per `reread`: not sooner (a table an hour fresh), and a mount
// added since is found once it has passed (a table read zero seconds ago
// counts as old). No clock is raced: each case is on one side of it.
// A mountinfo file of a test's own; the directory lives as long as it.
struct TableFile {
  explicit TableFile(std::string_view text) { testing::write_file(file, text); }
  testing::TempDir dir;
  fs::path file = dir.path() / "mountinfo";
};

// An exec event whose image identity was read: its device and its path
// within its filesystem.
KernelEvent image_event(std::uint64_t dev, std::string fs_path) {
  KernelEvent k;
  k.image_known = true;
  k.image_dev = dev;
  k.image_fs_path = std::move(fs_path);
  return k;
}

TEST(MountTable, AMissReadsTheTableAgainOnlyOnceItsIntervalPassed) {
  const TableFile f("27 1 254:0 / / rw - ext4 /dev/vda rw\n");
  const fs::path& file = f.file;
  MountTable fresh(file, std::chrono::hours(1)), old(file, std::chrono::seconds(0));
  EXPECT_EQ(fresh.host_path(makedev(0, 40), "/p", ""), std::nullopt);
  EXPECT_EQ(old.host_path(makedev(0, 40), "/p", ""), std::nullopt);
  const auto reads = fresh.reads();
  testing::write_file(file, "27 1 254:0 / / rw - ext4 /dev/vda rw\n80 27 0:40 / /srv/t rw - tmpfs t rw\n");
  EXPECT_EQ(fresh.host_path(makedev(0, 40), "/p", ""), std::nullopt);
  EXPECT_EQ(fresh.reads(), reads);
  EXPECT_EQ(old.host_path(makedev(0, 40), "/p", ""), "/srv/t/p");
}

// Of several names, one in a temporary directory wins over a shorter one
// when the process's own path is not among them, or is not to be taken:
// a process in a mount namespace of its own chooses its paths (it can bind
// /var/tmp/d onto /x in it and run /x/p, the same as a host mount's name).
const std::string_view kTwoNames =
    "27 1 254:0 / / rw - ext4 /dev/vda rw\n"
    "80 27 0:40 / /var/tmp rw - tmpfs t rw\n"
    "81 27 0:40 /d /x rw - tmpfs t rw\n";

TEST(MountTable, ATemporaryNameWinsUnlessTheHostsNamespaceRanAnother) {
  const auto m = parse_mountinfo(kTwoNames);
  const auto dev = makedev(0, 40);
  EXPECT_EQ(host_path_of(m, dev, "/d/p", ""), "/var/tmp/d/p");
  EXPECT_EQ(host_path_of(m, dev, "/d/p", "/x/p"), "/x/p");

  const TableFile f(kTwoNames);
  MountTable t(f.file);
  KernelEvent k = image_event(dev, "/d/p");
  k.exe_path = "/x/p";
  k.mnt_ns = 4026531841;
  EXPECT_EQ(t.image_host_path(k, 4026531841), "/x/p");        // procmond's namespace: its path
  EXPECT_EQ(t.image_host_path(k, 4026532999), "/var/tmp/d/p"); // another: not taken
  k.mnt_ns = 0;
  EXPECT_EQ(t.image_host_path(k, 4026531841), "/var/tmp/d/p"); // unknown: not taken
}

// An image deeper than the walk stores: its top directory's host path and
// "/…", or "…" alone (no mount shows the top, or none was read).
TEST(MountTable, ACutPathIsNamedByItsTopDirectory) {
  const TableFile f(kTwoNames);
  MountTable t(f.file);
  KernelEvent k = image_event(makedev(0, 40), "/d");
  k.image_fs_path_cut = true;
  EXPECT_EQ(t.image_host_path(k, 0), "/var/tmp/d/\u2026");
  k.image_fs_path = "";
  EXPECT_EQ(t.image_host_path(k, 0), "\u2026");
  k.image_dev = makedev(0, 99);
  k.image_fs_path = "/d";
  EXPECT_EQ(t.image_host_path(k, 0), "\u2026");
  EXPECT_TRUE(in_temporary_directory("/var/tmp/d/\u2026"));
  EXPECT_FALSE(in_temporary_directory("/var/tmpx/p"));
}

// A missing file: every lookup unknown, no crash.
TEST(MountTable, AnUnreadableTableKnowsNoPath) {
  MountTable t("/nonexistent/mountinfo");
  EXPECT_EQ(t.host_path(makedev(254, 0), "/usr/bin/true", ""), std::nullopt);
}

}  // namespace
}  // namespace airssys::daemoneye
