// process_memory_map and the bundled rule library-from-tmp, end to end: the
// real agent and procmond with every bundled rule (daemoneye/rules/*.yaml),
// and real python3 processes that dlopen() (ctypes.CDLL) libz — a copy made
// in a fresh directory under /tmp (must raise, naming the copy with the
// device and inode stat() gives), the system's own (must not), and a copy
// loaded only after procmond first read the process's maps (the vsize
// change makes procmond read them again: must raise then).

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>

namespace detest {
namespace {

// libz's real file (libz.so.1 is a link to libz.so.1.2.X).
fs::path system_libz() { return fs::canonical("/usr/lib/x86_64-linux-gnu/libz.so.1"); }

// python3 that loads `lib` once `trigger` exists ("" : at once), says
// "loaded" on stdout, and sleeps until killed.
std::vector<std::string> loader(const fs::path& lib, const fs::path& trigger = {}) {
  return {"/usr/bin/python3", "-c",
          "import ctypes, os, sys, time\n"
          "while sys.argv[2] and not os.path.exists(sys.argv[2]): time.sleep(0.1)\n"
          "ctypes.CDLL(sys.argv[1]); print('loaded', flush=True)\n"
          "time.sleep(3600)\n",
          lib.string(), trigger.string()};
}

struct Fixture : AgentDir {
  TmpUnderTmp tmp{"de-maps"};
  fs::path copy;

  Fixture() {
    for (const auto& e : fs::directory_iterator(fs::path(env_or_empty("AIRSSYS_SOURCE_DIR")) / "daemoneye/rules"))
      if (e.is_regular_file() && e.path().extension() == ".yaml") fs::copy_file(e.path(), rules / e.path().filename());
    write_config();
    if (tmp.path.empty()) return;
    copy = tmp.path / "libz.so.1";
    fs::copy_file(system_libz(), copy);
  }

  std::vector<nlohmann::json> raised_for(pid_t pid) const {
    std::vector<nlohmann::json> out;
    for (auto& a : alerts_of("library-from-tmp"))
      if (a["row"].value("pid", -1) == pid) out.push_back(std::move(a));
    return out;
  }

  std::int64_t rows_for(pid_t pid) const {
    return count_rows(var / "daemoneye.db", fmt::format("SELECT count(*) FROM process_memory_map WHERE pid = {}", pid));
  }
};

bool says_loaded(const fs::path& out) { return slurp(out).find("loaded") != std::string::npos; }

TEST(AgentMemoryMap, ALibraryLoadedFromTmpRaisesAndTheSystemsCopyDoesNot) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "needs python3";
  Fixture f;
  ASSERT_FALSE(f.copy.empty());
  struct ::stat st {};
  ASSERT_EQ(::stat(f.copy.c_str(), &st), 0);
  const fs::path out_tmp = f.dir.path() / "tmp-loader.out", out_usr = f.dir.path() / "usr-loader.out";
  Child from_tmp(loader(f.copy), out_tmp, out_tmp);
  Child from_usr(loader(system_libz()), out_usr, out_usr);
  ASSERT_TRUE(eventually([&] { return says_loaded(out_tmp) && says_loaded(out_usr); }, 60s))
      << slurp(out_tmp) << slurp(out_usr);

  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return !f.raised_for(from_tmp.pid()).empty(); }, 120s))
      << "no library-from-tmp alert for pid " << from_tmp.pid() << "; agent log:\n"
      << slurp(f.log);
  const auto a = f.raised_for(from_tmp.pid()).front();
  EXPECT_EQ(a["severity"], "high") << a.dump();
  EXPECT_EQ(a["row"].value("library", ""), f.copy.string()) << a.dump();
  EXPECT_EQ(a["row"].value("inode", std::int64_t{-1}), static_cast<std::int64_t>(st.st_ino)) << a.dump();
  EXPECT_EQ(a["row"].value("libraries", 0), 1) << a.dump();
  // The system's python3 loading the system's libz has its rows, and no alert.
  ASSERT_TRUE(eventually([&] { return f.rows_for(from_usr.pid()) > 0; }, 60s)) << slurp(f.log);
  stop_agent(*agent, f.log);
  EXPECT_TRUE(f.raised_for(from_usr.pid()).empty());

  // The copy's row as osquery gives it: hex addresses, "MAJ:MIN" in hex as
  // maps writes them, the inode of the file, not pseudo.
  const auto rows = rows_of(f.var / "daemoneye.db",
                            fmt::format("SELECT start, \"end\", permissions, device, inode, pseudo FROM "
                                        "process_memory_map WHERE pid = {} AND path = '{}'",
                                        from_tmp.pid(), f.copy.string()));
  ASSERT_EQ(rows.size(), 1u) << "one executable region of the copy";
  EXPECT_TRUE(rows[0][0].starts_with("0x7f")) << rows[0][0];
  EXPECT_TRUE(rows[0][1].starts_with("0x")) << rows[0][1];
  EXPECT_EQ(rows[0][2], "r-xp");
  EXPECT_EQ(rows[0][3], fmt::format("{:02x}:{:02x}", major(st.st_dev), minor(st.st_dev)));
  EXPECT_EQ(rows[0][4], std::to_string(st.st_ino));
  EXPECT_EQ(rows[0][5], "0");
  // Only executable regions are stored; the system's libz is there too for
  // the other process.
  EXPECT_EQ(count_rows(f.var / "daemoneye.db",
                       "SELECT count(*) FROM process_memory_map WHERE permissions NOT GLOB '??x?'"),
            0);
  EXPECT_EQ(count_rows(f.var / "daemoneye.db",
                       fmt::format("SELECT count(*) FROM process_memory_map WHERE pid = {} AND path = '{}'",
                                   from_usr.pid(), system_libz().string())),
            1);
}

TEST(AgentMemoryMap, ALibraryLoadedAfterFirstSightIsReadWhenTheSizeChanges) {
  ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "needs python3";
  Fixture f;
  ASSERT_FALSE(f.copy.empty());
  const fs::path trigger = f.dir.path() / "load-now", out = f.dir.path() / "late-loader.out";
  Child late(loader(f.copy, trigger), out, out);

  auto agent = f.start_agent();
  // procmond has read its maps once (python3's own libraries are there)...
  ASSERT_TRUE(eventually([&] { return f.rows_for(late.pid()) > 0; }, 120s)) << slurp(f.log);
  EXPECT_EQ(count_rows(f.var / "daemoneye.db",
                       fmt::format("SELECT count(*) FROM process_memory_map WHERE pid = {} AND path = '{}'",
                                   late.pid(), f.copy.string())),
            0);
  EXPECT_TRUE(f.raised_for(late.pid()).empty());
  // ...then the library is loaded: the vsize changes, the maps are read again.
  write_file(trigger, "");
  ASSERT_TRUE(eventually([&] { return says_loaded(out); }, 60s)) << slurp(out);
  ASSERT_TRUE(eventually([&] { return !f.raised_for(late.pid()).empty(); }, 120s))
      << "no library-from-tmp alert for pid " << late.pid() << " after it loaded the copy; agent log:\n"
      << slurp(f.log);
  EXPECT_EQ(f.raised_for(late.pid()).front()["row"].value("library", ""), f.copy.string());
  stop_agent(*agent, f.log);
}

}  // namespace
}  // namespace detest
