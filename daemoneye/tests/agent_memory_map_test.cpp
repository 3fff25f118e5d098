// process_memory_map and the bundled rule library-from-tmp, end to end: the
// real agent and procmond with every bundled rule (daemoneye/rules/*.yaml),
// and real python3 processes that dlopen() (ctypes.CDLL) libz — a copy made
// in a fresh directory under /tmp (must raise, naming the copy with the
// device and inode stat() gives), the system's own (must not), and a copy
// loaded only after procmond first read the process's maps (the vsize
// change makes procmond read them again: must raise then), a process
// whose main thread exited before its last thread loaded the copy (its
// /proc/PID/maps is empty), and a same-size change (a read-only mapping of
// the copy made executable with mprotect: read again on its turn), and a
// copy loaded above 4,200 executable padding regions (past procmond's row
// bound: still found, and the process marked cut).

#include "harness.hpp"
#include "store_query.hpp"

#include <fmt/format.h>

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cstdlib>

namespace detest {
namespace {

// libz's real file (libz.so.1 is a link to libz.so.1.2.X), where the
// dynamic linker finds it on this host; empty when it has none.
fs::path system_libz() {
  void* h = ::dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) return {};
  link_map* lm = nullptr;
  fs::path out;
  std::error_code ec;
  if (::dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && *lm->l_name) out = fs::canonical(lm->l_name, ec);
  ::dlclose(h);
  return ec ? fs::path{} : out;
}

#define REQUIRE_LIBZ()                                                                          \
  do {                                                                                          \
    ASSERT_TRUE(fs::exists("/usr/bin/python3")) << "needs python3";                             \
    if (system_libz().empty()) GTEST_SKIP() << "no libz.so.1 for the dynamic linker on this host"; \
  } while (0)

// python3 whose main thread exits (SYS_exit, that thread only) once a
// second thread runs; that thread waits until the leader is a zombie, then
// loads `lib` and says "loaded".
std::vector<std::string> leaderless_loader(const fs::path& lib) {
  return {"/usr/bin/python3", "-c",
          "import ctypes, os, sys, threading, time\n"
          "def later():\n"
          "    stat = '/proc/%d/stat' % os.getpid()\n"
          "    while open(stat).read().rsplit(')', 1)[1].split()[0] != 'Z': time.sleep(0.1)\n"
          "    ctypes.CDLL(sys.argv[1]); print('loaded', flush=True)\n"
          "    time.sleep(3600)\n"
          "threading.Thread(target=later).start()\n"
          "ctypes.CDLL(None).syscall(60, 0)\n",
          lib.string()};
}

// python3 that maps 4,200 one-page executable anonymous regions at low
// fixed addresses (gaps between them, so none merge) before loading `lib`
// above them, and says "loaded".
std::vector<std::string> padded_loader(const fs::path& lib) {
  return {"/usr/bin/python3", "-c",
          "import ctypes, sys, time\n"
          "libc = ctypes.CDLL(None)\n"
          "libc.mmap.restype = ctypes.c_void_p\n"
          "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, "
          "ctypes.c_long]\n"
          "for i in range(4200):\n"
          "    want = 0x10000000 + i * 0x2000\n"
          "    assert libc.mmap(want, 4096, 5, 0x22 | 0x100000, -1, 0) == want\n"
          "ctypes.CDLL(sys.argv[1]); print('loaded', flush=True)\n"
          "time.sleep(3600)\n",
          lib.string()};
}

// python3 that maps the first page of `lib` read-only, says "mapped", and
// once `trigger` exists makes it executable (mprotect: the vsize stays)
// and says "loaded".
std::vector<std::string> mprotect_loader(const fs::path& lib, const fs::path& trigger) {
  return {"/usr/bin/python3", "-c",
          "import ctypes, os, sys, time\n"
          "libc = ctypes.CDLL(None, use_errno=True)\n"
          "libc.mmap.restype = ctypes.c_void_p\n"
          "libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, "
          "ctypes.c_long]\n"
          "libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]\n"
          "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
          "addr = libc.mmap(None, 4096, 1, 2, fd, 0)\n"
          "print('mapped', flush=True)\n"
          "while not os.path.exists(sys.argv[2]): time.sleep(0.1)\n"
          "assert libc.mprotect(addr, 4096, 5) == 0, ctypes.get_errno()\n"
          "print('loaded', flush=True)\n"
          "time.sleep(3600)\n",
          lib.string(), trigger.string()};
}

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

bool says(const fs::path& out, std::string_view word) { return slurp(out).find(word) != std::string::npos; }
bool says_loaded(const fs::path& out) { return says(out, "loaded"); }

TEST(AgentMemoryMap, ALibraryLoadedFromTmpRaisesAndTheSystemsCopyDoesNot) {
  REQUIRE_LIBZ();
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
  REQUIRE_LIBZ();
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

TEST(AgentMemoryMap, ALibraryLoadedAfterTheMainThreadExitedRaises) {
  REQUIRE_LIBZ();
  Fixture f;
  ASSERT_FALSE(f.copy.empty());
  const fs::path out = f.dir.path() / "leaderless.out";
  Child leaderless(leaderless_loader(f.copy), out, out);
  ASSERT_TRUE(eventually([&] { return says_loaded(out); }, 60s)) << slurp(out);
  // What procmond finds in /proc/PID: a zombie with no maps.
  const std::string stat = slurp(fmt::format("/proc/{}/stat", leaderless.pid()));
  ASSERT_NE(stat.find(") Z "), std::string::npos) << stat;
  ASSERT_EQ(slurp(fmt::format("/proc/{}/maps", leaderless.pid())), "");

  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return !f.raised_for(leaderless.pid()).empty(); }, 120s))
      << "no library-from-tmp alert for pid " << leaderless.pid() << " (main thread gone); agent log:\n"
      << slurp(f.log);
  EXPECT_EQ(f.raised_for(leaderless.pid()).front()["row"].value("library", ""), f.copy.string());
  stop_agent(*agent, f.log);
}

TEST(AgentMemoryMap, AMappingMadeExecutableWithoutASizeChangeIsReadOnItsTurn) {
  REQUIRE_LIBZ();
  Fixture f;
  ASSERT_FALSE(f.copy.empty());
  // procmond through a wrapper that adds a short re-read period (2 s: at
  // the 500 ms interval, every 4th collection).
  const fs::path wrapper = f.dir.path() / "procmond";
  write_file(wrapper, "#!/bin/sh\nexec " + procmond_bin() + " \"$@\" --maps-reread-period 2s\n");
  fs::permissions(wrapper, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                               fs::perms::others_read | fs::perms::others_exec);
  f.write_config("procmond: { path: " + wrapper.string() + " }\n");
  const fs::path trigger = f.dir.path() / "protect-now", out = f.dir.path() / "mprotect.out";
  Child p(mprotect_loader(f.copy, trigger), out, out);
  ASSERT_TRUE(eventually([&] { return says(out, "mapped"); }, 60s)) << slurp(out);

  auto agent = f.start_agent();
  // Read once: python3's libraries, and the copy's page not executable.
  ASSERT_TRUE(eventually([&] { return f.rows_for(p.pid()) > 0; }, 120s)) << slurp(f.log);
  EXPECT_TRUE(f.raised_for(p.pid()).empty());
  write_file(trigger, "");
  ASSERT_TRUE(eventually([&] { return says_loaded(out); }, 60s)) << slurp(out);
  ASSERT_TRUE(eventually([&] { return !f.raised_for(p.pid()).empty(); }, 120s))
      << "no library-from-tmp alert for pid " << p.pid() << " after its mprotect; agent log:\n"
      << slurp(f.log);
  EXPECT_EQ(f.raised_for(p.pid()).front()["row"].value("library", ""), f.copy.string());
  stop_agent(*agent, f.log);
}

TEST(AgentMemoryMap, ALibraryAboveThousandsOfPaddingRegionsIsFoundAndTheProcessMarkedCut) {
  REQUIRE_LIBZ();
  Fixture f;
  ASSERT_FALSE(f.copy.empty());
  const fs::path out = f.dir.path() / "padded.out";
  Child padded(padded_loader(f.copy), out, out);
  ASSERT_TRUE(eventually([&] { return says_loaded(out); }, 60s)) << slurp(out);

  auto agent = f.start_agent();
  ASSERT_TRUE(eventually([&] { return !f.raised_for(padded.pid()).empty(); }, 120s))
      << "no library-from-tmp alert for pid " << padded.pid() << " (4,200 regions below the copy); agent log:\n"
      << slurp(f.log);
  EXPECT_EQ(f.raised_for(padded.pid()).front()["row"].value("library", ""), f.copy.string());
  const auto db = f.var / "daemoneye.db";
  EXPECT_EQ(count_rows(db, fmt::format("SELECT count(*) FROM process_memory_map WHERE pid = {} AND path = '[cut]' "
                                       "AND inode = 0 AND pseudo = 1",
                                       padded.pid())),
            1);
  EXPECT_EQ(count_rows(db, fmt::format("SELECT count(*) FROM process_memory_map WHERE pid = {} AND path = '{}'",
                                       padded.pid(), f.copy.string())),
            1);
  stop_agent(*agent, f.log);
}

}  // namespace
}  // namespace detest
