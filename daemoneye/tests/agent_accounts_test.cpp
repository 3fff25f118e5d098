// The users table and the bundled rules that read it or listening_ports,
// end to end: the real agent and procmond with every bundled rule
// (daemoneye/rules/*.yaml), given a passwd and a group file of the test's
// own (procmond.passwd / procmond.group: the host's /etc/passwd cannot hold
// a test's backdoor line), and two real HTTP servers on 127.0.0.1 — python3
// copied into a directory under /tmp (must raise listener-from-tmp naming
// its pid) and the system's python3 (must not).

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cstdlib>
#include <set>

namespace detest {
namespace {

struct Fixture : AgentDir {
  fs::path passwd = dir.path() / "passwd";
  fs::path group = dir.path() / "group";

  Fixture() {
    for (const auto& e : fs::directory_iterator(fs::path(env_or_empty("AIRSSYS_SOURCE_DIR")) / "daemoneye/rules"))
      if (e.is_regular_file() && e.path().extension() == ".yaml") fs::copy_file(e.path(), rules / e.path().filename());
    write_accounts(passwd,
                   "root:x:0:0:root:/root:/bin/bash\n"
                   "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
                   "backdoor:x:0:0::/var/tmp:/bin/sh\n"
                   "not an account line\n");
    write_accounts(group, "root:x:0:\nsudo:x:27:alice\n");
    write_config(fmt::format("procmond: {{ passwd: {}, group: {} }}\n", passwd.string(), group.string()));
  }

  // A new file renamed over `p` (as vipw does), 0644.
  static void write_accounts(const fs::path& p, const std::string& text) {
    const fs::path tmp = p.string() + ".new";
    write_file(tmp, text);
    fs::permissions(tmp, fs::perms(0644));
    fs::rename(tmp, p);
  }

  std::set<std::string> uid0_accounts_raised() const {
    std::set<std::string> names;
    for (const auto& a : alerts_of("uid0-account")) names.insert(a["row"].value("username", ""));
    return names;
  }

  bool listener_raised_for(pid_t pid) const {
    for (const auto& a : alerts_of("listener-from-tmp"))
      if (a["row"].value("pid", -1) == pid) return true;
    return false;
  }
};

// python3's real file (/usr/bin/python3 is a link to python3.X).
fs::path system_python() { return fs::canonical("/usr/bin/python3"); }

TEST(AgentAccounts, ASecondRootAndAListenerRunFromTmpRaiseTheirRules) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "needs python3";
  Fixture f;
  TmpUnderTmp tmp{"de-accounts"};
  ASSERT_FALSE(tmp.path.empty());
  const fs::path copy = tmp.path / "python3";
  fs::copy_file(system_python(), copy);
  fs::permissions(copy, fs::perms(0755));
  // Both serve on 127.0.0.1, a port the kernel picks; python run from /tmp
  // finds its library through the compiled-in prefix.
  Child from_tmp({copy.string(), "-m", "http.server", "--bind", "127.0.0.1", "0"}, f.dir.path() / "tmp-server.log",
                 f.dir.path() / "tmp-server.log", tmp.path);
  Child from_usr({system_python().string(), "-m", "http.server", "--bind", "127.0.0.1", "0"},
                 f.dir.path() / "usr-server.log", f.dir.path() / "usr-server.log", tmp.path);
  ASSERT_GT(from_tmp.pid(), 0);
  ASSERT_GT(from_usr.pid(), 0);

  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return f.listener_raised_for(from_tmp.pid()); }, 120s))
      << "no listener-from-tmp alert for pid " << from_tmp.pid() << "; agent log:\n"
      << slurp(f.log) << "\nserver log:\n"
      << slurp(f.dir.path() / "tmp-server.log");
  ASSERT_TRUE(eventually([&] { return f.uid0_accounts_raised().contains("backdoor"); }, 120s))
      << "no uid0-account alert for 'backdoor'; agent log:\n"
      << slurp(f.log);
  for (const auto& a : f.alerts_of("listener-from-tmp")) {
    EXPECT_NE(a["row"].value("pid", -1), from_usr.pid()) << a.dump();
    if (a["row"].value("pid", -1) == from_tmp.pid()) {
      EXPECT_EQ(a["row"].value("path", ""), copy.string());
      EXPECT_EQ(a["row"].value("address", ""), "127.0.0.1");
      EXPECT_EQ(a["row"].value("protocol", -1), 6);
      EXPECT_GT(a["row"].value("port", 0), 0);
    }
  }
  EXPECT_EQ(f.uid0_accounts_raised(), std::set<std::string>{"backdoor"});

  // A line added later (the file replaced, as vipw does) is read at the
  // next collection: its account is raised too.
  Fixture::write_accounts(f.passwd,
                          "root:x:0:0:root:/root:/bin/bash\n"
                          "backdoor:x:0:0::/var/tmp:/bin/sh\n"
                          "toor:x:0:0::/:/bin/sh\n");
  EXPECT_TRUE(eventually([&] { return f.uid0_accounts_raised().contains("toor"); }, 120s))
      << "no uid0-account alert for 'toor' after the file changed; agent log:\n"
      << slurp(f.log);
  stop_agent(*agent, f.log);

  // The store: the file as last read (the malformed line skipped), and the groups.
  EXPECT_EQ(rows_of(f.var / "daemoneye.db", "SELECT username, uid, uid_signed, shell, uuid FROM users ORDER BY username"),
            (std::vector<std::vector<std::string>>{{"backdoor", "0", "0", "/bin/sh", ""},
                                                   {"root", "0", "0", "/bin/bash", ""},
                                                   {"toor", "0", "0", "/bin/sh", ""}}));
  EXPECT_EQ(rows_of(f.var / "daemoneye.db", "SELECT groupname, gid, comment FROM groups ORDER BY gid"),
            (std::vector<std::vector<std::string>>{{"root", "0", ""}, {"sudo", "27", ""}}));
}

}  // namespace
}  // namespace detest
