// The bundled rule exe-masked-by-mount end to end: the real agent and
// procmond, the rule copied from daemoneye/rules/, and three processes the
// test starts as an ordinary user (nobody; as the test's own user when not
// root) in user and mount namespaces of their own (unshare -Urm), as the
// outside probe did:
//   masked    mounts `payload` (a copy of sleep) over `tool` (another copy,
//             in the test's temp dir) and execs tool: an alert naming its
//             pid, and its row says root_is_host 1, on_disk 1, host_on_disk 0;
//   plain     execs tool, nothing mounted: 1, 1, 1 and no alert;
//   chrooted  a container's shape: a root of its own (the host's /usr bound
//             into it) with payload mounted over its /tool, run there:
//             root_is_host 0 and no alert.
// Every mount is made in the children's own mount namespaces, over files of
// the temp dir; nothing is mounted over a system binary.
// Their exec events too (store schema 6; when the test is root, so procmond
// runs a real-time tier that records execs): plain's exec of tool has
// root_is_host 1, chrooted's exec of /tool (after chroot) 0.

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

namespace detest {
namespace {

constexpr const char* kUnshare = "/usr/bin/unshare";
constexpr const char* kChroot = "/usr/sbin/chroot";

fs::path bundled_rule() {
  return fs::path(env_or_empty("AIRSSYS_SOURCE_DIR")) / "daemoneye/rules/exe-masked-by-mount.yaml";
}

void copy_sleep(const fs::path& to) {
  fs::copy_file("/bin/sleep", to, fs::copy_options::overwrite_existing);
  ::chmod(to.c_str(), 0755);
}

struct Fixture : AgentDir {
  fs::path work = dir.path() / "work";  // 0755: the children (nobody) read and run what is here
  fs::path tool = work / "tool", payload = work / "payload", root = work / "root";
  std::optional<Child::As> who;  // nobody when the test is root

  Fixture() {
    fs::copy_file(bundled_rule(), rules / "exe-masked-by-mount.yaml");
    write_config();
    ::chmod(dir.path().c_str(), 0755);
    fs::create_directories(root / "usr");
    ::chmod(work.c_str(), 0755);
    ::chmod(root.c_str(), 0755);
    ::chmod((root / "usr").c_str(), 0755);
    copy_sleep(tool);
    copy_sleep(payload);
    copy_sleep(root / "tool");
    if (::getuid() == 0) who = Child::As{65534, 65534};
  }

  std::unique_ptr<Child> start(const std::vector<std::string>& argv, const std::string& name) const {
    const fs::path out = dir.path() / (name + ".out");
    return who ? std::make_unique<Child>(*who, argv, out, out) : std::make_unique<Child>(argv, out, out);
  }

  // /bin, /lib, ... of the chroot: the host's own symlinks (merged /usr),
  // else directories bound from the host like /usr (their names returned).
  std::vector<std::string> lay_out_root() const {
    std::vector<std::string> bound;
    for (const char* d : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
      const fs::path host = fs::path("/") / d;
      std::error_code ec;
      if (fs::is_symlink(host, ec)) {
        fs::create_symlink(fs::read_symlink(host), root / d);
      } else if (fs::is_directory(host, ec)) {
        fs::create_directory(root / d);
        ::chmod((root / d).c_str(), 0755);
        bound.emplace_back(d);
      }
    }
    return bound;
  }

  std::vector<nlohmann::json> alerts_for(pid_t pid) const {
    std::vector<nlohmann::json> out;
    for (auto& a : alert_lines())
      if (a.value("rule_id", "") == "exe-masked-by-mount" && a["row"].value("pid", -1) == pid) out.push_back(a);
    return out;
  }

  // "path root_is_host on_disk host_on_disk" of `pid` in the store's processes.
  std::string row_of(pid_t pid) const {
    return query_text(var / "daemoneye.db",
                      fmt::format("SELECT path || ' ' || root_is_host || ' ' || on_disk || ' ' || host_on_disk "
                                  "FROM processes WHERE pid = {}",
                                  pid));
  }

  // root_is_host of `pid`'s exec events given `given`, in order ("" when none).
  std::string exec_roots(pid_t pid, const std::string& given) const {
    std::string quoted;
    for (char c : given) quoted += c == '\'' ? std::string("''") : std::string(1, c);
    return query_text(var / "daemoneye.db",
                      fmt::format("SELECT group_concat(root_is_host, ' ') FROM (SELECT root_is_host FROM "
                                  "process_events WHERE pid = {} AND event = 'exec' AND path_given = '{}' "
                                  "ORDER BY id)",
                                  pid, quoted));
  }
};

// Whether `who` may make a user and mount namespace here (a kernel or a
// container may refuse it); the reason when not.
std::string namespaces_refused(const Fixture& f) {
  auto probe = f.start({kUnshare, "-Urm", "/bin/true"}, "probe");
  const auto rc = probe->wait(60s);
  if (rc && *rc == 0) return "";
  return "unshare -Urm refused (" + slurp(f.dir.path() / "probe.out") + ")";
}

TEST(AgentMountMask, AnImageMountedOverItsPathInAPrivateNamespaceIsRaisedAndContainersAreNot) {
  for (const char* tool : {kUnshare, kChroot, "/bin/sleep"})
    if (::access(tool, X_OK) != 0) GTEST_SKIP() << tool << " is not installed";
  Fixture f;
  if (auto why = namespaces_refused(f); !why.empty()) {
    if (!f.who) GTEST_SKIP() << why;
    f.who.reset();  // an ordinary user may not: try as root (still a new user namespace)
    if (auto again = namespaces_refused(f); !again.empty()) GTEST_SKIP() << again;
  }
  const std::vector<std::string> bound = f.lay_out_root();

  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM scans") >= 1; }))
      << slurp(f.log);

  auto masked = f.start({kUnshare, "-Urm", "/bin/sh", "-c", R"(mount --bind "$1" "$2" && exec "$2" 600)", "sh",
                         f.payload.string(), f.tool.string()},
                        "masked");
  auto plain = f.start({kUnshare, "-Urm", "/bin/sh", "-c", R"(exec "$1" 600)", "sh", f.tool.string()}, "plain");
  std::vector<std::string> chroot_argv{
      kUnshare, "-Urm", "/bin/sh", "-c",
      R"(r=$1 p=$2; shift 2; for d in usr "$@"; do mount --rbind "/$d" "$r/$d" || exit 1; done; )"
      R"(mount --bind "$p" "$r/tool" && exec /usr/sbin/chroot "$r" /tool 600)",
      "sh", f.root.string(), f.payload.string()};
  chroot_argv.insert(chroot_argv.end(), bound.begin(), bound.end());
  auto chrooted = f.start(chroot_argv, "chrooted");

  const auto diagnosis = [&] {
    return fmt::format("masked: {}\nplain: {}\nchrooted: {}\nagent log:\n{}", f.row_of(masked->pid()),
                       f.row_of(plain->pid()), f.row_of(chrooted->pid()), slurp(f.log));
  };
  ASSERT_TRUE(eventually([&] { return !f.alerts_for(masked->pid()).empty(); }, 120s)) << diagnosis();
  const auto alert = f.alerts_for(masked->pid()).front();
  EXPECT_EQ(alert["severity"], "high");
  EXPECT_EQ(alert["row"]["path"], f.tool.string());
  EXPECT_EQ(alert["row"]["root_is_host"], 1);
  EXPECT_EQ(alert["row"]["on_disk"], 1);
  EXPECT_EQ(alert["row"]["host_on_disk"], 0);

  // The others as the store holds them once they run their final image.
  ASSERT_TRUE(eventually([&] { return f.row_of(plain->pid()) == f.tool.string() + " 1 1 1"; }, 120s)) << diagnosis();
  ASSERT_TRUE(eventually([&] { return f.row_of(chrooted->pid()).starts_with((f.root / "tool").string() + " 0 "); },
                         120s))
      << diagnosis();
  EXPECT_EQ(f.row_of(masked->pid()), f.tool.string() + " 1 1 0");
  if (::getuid() == 0) {
    // The exec events as procmond stored them: whose root each ran under.
    // (Not the chrooted one's exec of chroot: its root is read when procmond
    // handles the event, which may be after the chroot.)
    ASSERT_TRUE(eventually([&] { return !f.exec_roots(chrooted->pid(), "/tool").empty(); }, 120s)) << diagnosis();
    EXPECT_EQ(f.exec_roots(plain->pid(), f.tool.string()), "1");
    EXPECT_EQ(f.exec_roots(chrooted->pid(), "/tool"), "0");
  }
  // Two more scans over all three: still no alert but the masked one's.
  const std::int64_t scans = count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM scans");
  ASSERT_TRUE(eventually([&] {
    return count_rows(f.var / "daemoneye.db", "SELECT count(*) FROM scans") >= scans + 2;
  })) << slurp(f.log);
  EXPECT_TRUE(f.alerts_for(plain->pid()).empty());
  EXPECT_TRUE(f.alerts_for(chrooted->pid()).empty());
  EXPECT_EQ(f.alerts_for(masked->pid()).size(), 1u);  // raised once (dedup)
  stop_agent(*agent, f.log);
}

}  // namespace
}  // namespace detest
