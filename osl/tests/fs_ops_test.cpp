// Every fs.* operation, for real, in a temporary directory.

#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include <fmt/format.h>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using test::TempDir;

class FsOps : public test::WorkDirSystem {
 protected:
  void SetUp() override {
    WorkDirSystem::SetUp();
    std::filesystem::create_directories(dir / "outside");
  }
};

TEST_F(FsOps, WriteThenReadRoundTrips) {
  auto wr = sys->run("alice", fs::Write{.path = w("a.txt"), .data = "hello"});
  ASSERT_TRUE(wr) << wr.error().to_string();
  EXPECT_EQ(wr->bytes_written, 5u);
  auto rd = sys->run("alice", fs::Read{.path = w("a.txt")});
  ASSERT_TRUE(rd) << rd.error().to_string();
  EXPECT_EQ(*rd, "hello");
  struct stat st {};
  ASSERT_EQ(::stat(w("a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "new files are created with the least permissions";
}

TEST_F(FsOps, AppendAndAtomicReplace) {
  ASSERT_TRUE(sys->run("alice", fs::Write{.path = w("log"), .data = "a"}));
  ASSERT_TRUE(sys->run("alice", fs::Write{.path = w("log"), .data = "b", .mode = fs::WriteMode::append}));
  EXPECT_EQ(test::read_file(w("log")), "ab");
  ::chmod(w("log").c_str(), 0640);
  auto r = sys->run("alice", fs::Write{.path = w("log"), .data = "new", .atomic = true});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(test::read_file(w("log")), "new");
  struct stat st {};
  ASSERT_EQ(::stat(w("log").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u) << "atomic replace keeps the file's mode";
  // No temporary file is left behind.
  for (const auto& e : std::filesystem::directory_iterator(dir / "work")) {
    EXPECT_EQ(e.path().filename().string().find(".airssys-"), std::string::npos) << e.path();
  }
  auto bad = sys->run("alice", fs::Write{.path = w("log"), .data = "x", .mode = fs::WriteMode::append, .atomic = true});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().category, ErrorCategory::invalid_argument);
}

TEST_F(FsOps, CreateDirListStatDelete) {
  auto nr = sys->run("alice", fs::CreateDir{.path = w("x/y/z")});
  ASSERT_FALSE(nr) << "non-recursive mkdir with missing parents must fail";
  EXPECT_EQ(nr.error().category, ErrorCategory::not_found);
  ASSERT_TRUE(sys->run("alice", fs::CreateDir{.path = w("x/y/z"), .recursive = true}));
  ASSERT_TRUE(sys->run("alice", fs::CreateDir{.path = w("x/y/z"), .recursive = true})) << "mkdir -p is idempotent";
  EXPECT_TRUE(std::filesystem::is_directory(dir / "work/x/y/z"));
  test::write_file(dir / "work/x/f", "1234");
  auto ls = sys->run("alice", fs::List{.path = w("x")});
  ASSERT_TRUE(ls) << ls.error().to_string();
  ASSERT_EQ(ls->size(), 2u);
  EXPECT_EQ((*ls)[0].name, "f");
  EXPECT_EQ((*ls)[0].type, fs::FileType::regular);
  EXPECT_EQ((*ls)[1].name, "y");
  EXPECT_EQ((*ls)[1].type, fs::FileType::directory);
  auto st = sys->run("alice", fs::Stat{.path = w("x/f")});
  ASSERT_TRUE(st);
  EXPECT_EQ(st->size, 4u);
  EXPECT_EQ(st->type, fs::FileType::regular);

  auto notempty = sys->run("alice", fs::Delete{.path = w("x")});
  ASSERT_FALSE(notempty);
  EXPECT_EQ(notempty.error().category, ErrorCategory::invalid_argument);
  EXPECT_NE(notempty.error().message.find("recursive"), std::string::npos);
  ASSERT_TRUE(sys->run("alice", fs::Delete{.path = w("x/f")}));
  ASSERT_TRUE(sys->run("alice", fs::Delete{.path = w("x"), .recursive = true}));
  EXPECT_FALSE(std::filesystem::exists(dir / "work/x"));
}

TEST_F(FsOps, SetPermissionsAndRename) {
  test::write_file(dir / "work/p", "x");
  ASSERT_TRUE(sys->run("alice", fs::SetPermissions{.path = w("p"), .mode = 0640}));
  struct stat st {};
  ASSERT_EQ(::stat(w("p").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  auto bad = sys->run("alice", fs::SetPermissions{.path = w("p"), .mode = 0100000});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().category, ErrorCategory::invalid_argument);

  ASSERT_TRUE(sys->run("alice", fs::Rename{.from = w("p"), .to = w("q")}));
  EXPECT_TRUE(std::filesystem::exists(dir / "work/q"));
  test::write_file(dir / "work/r", "r");
  auto nr = sys->run("alice", fs::Rename{.from = w("q"), .to = w("r"), .replace = false});
  ASSERT_FALSE(nr);
  EXPECT_EQ(nr.error().category, ErrorCategory::already_exists);
  // Renaming out of the allowed tree is denied: both ends are checked.
  auto out = sys->run("alice", fs::Rename{.from = w("q"), .to = (dir / "outside/q").string()});
  ASSERT_FALSE(out);
  EXPECT_EQ(out.error().category, ErrorCategory::denied);
  EXPECT_TRUE(std::filesystem::exists(dir / "work/q"));
}

TEST_F(FsOps, DenyByDefaultAndDenyOverrides) {
  test::write_file(dir / "outside/o", "o");
  std::filesystem::create_directories(dir / "work/secret");
  test::write_file(dir / "work/secret/s", "s");
  auto o = sys->run("alice", fs::Read{.path = (dir / "outside/o").string()});
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().category, ErrorCategory::denied);
  auto s = sys->run("alice", fs::Read{.path = w("secret/s")});
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().category, ErrorCategory::denied);
  EXPECT_NE(s.error().message.find("no-secret"), std::string::npos) << s.error().message;
  auto bob = sys->run("bob", fs::Read{.path = w("a")});
  ASSERT_FALSE(bob);
  EXPECT_EQ(bob.error().category, ErrorCategory::denied);
  // Writes that were denied changed nothing.
  auto wr = sys->run("alice", fs::Write{.path = w("secret/s"), .data = "pwned"});
  ASSERT_FALSE(wr);
  EXPECT_EQ(test::read_file(dir / "work/secret/s"), "s");
}

TEST_F(FsOps, DotDotCannotEscape) {
  test::write_file(dir / "outside/o", "o");
  auto r = sys->run("alice", fs::Read{.path = w("../outside/o")});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  auto r2 = sys->run("alice", fs::Read{.path = w("secret/../../outside/o")});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().category, ErrorCategory::denied);
  // '..' that stays inside is fine.
  test::write_file(dir / "work/in", "in");
  std::filesystem::create_directories(dir / "work/d");
  auto r3 = sys->run("alice", fs::Read{.path = w("d/../in")});
  ASSERT_TRUE(r3) << r3.error().to_string();
  EXPECT_EQ(*r3, "in");
}

TEST_F(FsOps, SymlinksAreResolvedBeforeTheCheck) {
  test::write_file(dir / "outside/o", "outside");
  std::filesystem::create_symlink(dir / "outside/o", dir / "work/link");
  auto r = sys->run("alice", fs::Read{.path = w("link")});
  ASSERT_FALSE(r) << "a symlink inside the tree pointing outside must not be followed out";
  EXPECT_EQ(r.error().category, ErrorCategory::denied);
  std::filesystem::create_directory_symlink(dir / "outside", dir / "work/dirlink");
  auto r2 = sys->run("alice", fs::Read{.path = w("dirlink/o")});
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().category, ErrorCategory::denied);
  // A symlink pointing inside the tree is followed.
  test::write_file(dir / "work/target", "t");
  std::filesystem::create_symlink(dir / "work/target", dir / "work/good");
  auto r3 = sys->run("alice", fs::Read{.path = w("good")});
  ASSERT_TRUE(r3) << r3.error().to_string();
  EXPECT_EQ(*r3, "t");
  // Deleting a symlink removes the link, not its target.
  ASSERT_TRUE(sys->run("alice", fs::Delete{.path = w("good")}));
  EXPECT_TRUE(std::filesystem::exists(dir / "work/target"));
  // The audit record names the canonical path that was checked.
  ASSERT_TRUE(sys->flush_audit());
  bool saw = false;
  for (const auto& rec : sink->records()) {
    if (rec.op == OpKind::fs_read && rec.event == ActivityEvent::denied && !rec.resources.empty() &&
        rec.resources[0] == (dir / "outside/o").string()) {
      saw = true;
    }
  }
  EXPECT_TRUE(saw);
}

TEST_F(FsOps, RecursiveDeleteDoesNotFollowSymlinks) {
  test::write_file(dir / "outside/keep", "keep");
  std::filesystem::create_directories(dir / "work/tree/sub");
  std::filesystem::create_directory_symlink(dir / "outside", dir / "work/tree/sub/escape");
  ASSERT_TRUE(sys->run("alice", fs::Delete{.path = w("tree"), .recursive = true}));
  EXPECT_FALSE(std::filesystem::exists(dir / "work/tree"));
  EXPECT_EQ(test::read_file(dir / "outside/keep"), "keep");
}

TEST_F(FsOps, HostilePaths) {
  std::string nul = w("a");
  nul += '\0';
  nul += "b";
  auto r = sys->run("alice", fs::Read{.path = std::filesystem::path(nul)});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::invalid_argument);
  auto empty = sys->run("alice", fs::Read{.path = ""});
  ASSERT_FALSE(empty);
  auto huge = sys->run("alice", fs::Read{.path = w(std::string(10000, 'a'))});
  ASSERT_FALSE(huge);
  EXPECT_EQ(huge.error().category, ErrorCategory::invalid_argument);
  // A symlink loop inside the allowed tree.
  std::filesystem::create_symlink(dir / "work/loop2", dir / "work/loop1");
  std::filesystem::create_symlink(dir / "work/loop1", dir / "work/loop2");
  auto loop = sys->run("alice", fs::Read{.path = w("loop1")});
  ASSERT_FALSE(loop);
  EXPECT_EQ(loop.error().category, ErrorCategory::invalid_argument);
  EXPECT_NE(loop.error().message.find("symbolic links"), std::string::npos) << loop.error().message;
  // Reading a directory or a FIFO is refused without blocking.
  ASSERT_EQ(::mkfifo(w("fifo").c_str(), 0600), 0);
  auto fifo = sys->run("alice", fs::Read{.path = w("fifo")});
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().category, ErrorCategory::invalid_argument);
  auto d = sys->run("alice", fs::Read{.path = w("")});
  ASSERT_FALSE(d);
}

TEST_F(FsOps, ReadLimitIsEnforced) {
  test::write_file(dir / "work/big", std::string(1000, 'x'));
  auto r = sys->run("alice", fs::Read{.path = w("big"), .max_bytes = 100});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().category, ErrorCategory::resource_exhausted);
}

TEST_F(FsOps, NotFoundOnlyWhenAllowed) {
  // Allowed tree: a missing file is not_found. Outside: denied, so the
  // policy does not leak which paths exist.
  auto a = sys->run("alice", fs::Read{.path = w("missing/deeper")});
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().category, ErrorCategory::not_found);
  auto b = sys->run("alice", fs::Read{.path = (dir / "nowhere/x").string()});
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().category, ErrorCategory::denied);
}

}  // namespace
}  // namespace airssys::osl

namespace airssys::osl {
namespace {

// Anyone may read below /proc.
Policy proc_reader() {
  return test::policy_from(R"(
version: 1
rules:
  - id: proc
    effect: allow
    principals: ["*"]
    operations: ["fs.read"]
    resources: ["/proc/**"]
)");
}

TEST(FsRead, ZeroSizedProcFilesAreReadToTheEnd) {
  System sys({.policy = proc_reader()});
  auto r = sys.run("x", fs::Read{"/proc/self/status"});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_NE(r->find("Pid:"), std::string::npos);
  EXPECT_NE(r->find("VmRSS"), std::string::npos) << "a procfs file reports size 0 but has content";
}

// The whole of a small file read directly, without osl ("" if it cannot be
// opened).
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A size-0 file longer than the first 4 KiB buffer: the buffer doubles
// (4, 8, 16 KiB ...) and keeps what was read; max_bytes cuts it there. The
// file: /proc/PID/environ of a child this test starts with one 20,000-byte
// variable (a fixed content, unlike most large procfs files).
TEST(FsRead, ZeroSizedFilesGrowTheBufferAndStopAtMaxBytes) {
  const std::string var = "BIG=" + std::string(20000, 'e');
  char* const argv[] = {const_cast<char*>("sleep"), const_cast<char*>("60"), nullptr};
  char* const envp[] = {const_cast<char*>(var.c_str()), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(::posix_spawn(&pid, "/bin/sleep", nullptr, nullptr, argv, envp), 0);
  const std::string path = fmt::format("/proc/{}/environ", pid);
  const std::string want = var + std::string(1, '\0');
  // posix_spawn returns once the child has replaced its memory, while the
  // kernel may still be in execve: environ reads 0 bytes until the new
  // stack is set up. Wait (bounded, no timing assertion) for the content.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (slurp(path) != want && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  System sys({.policy = proc_reader()});
  auto whole = sys.run("x", fs::Read{path});
  auto cut = sys.run("x", fs::Read{.path = path, .max_bytes = 10000});
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(whole) << whole.error().to_string();
  EXPECT_EQ(*whole, want);
  ASSERT_TRUE(cut) << cut.error().to_string();
  EXPECT_EQ(*cut, want.substr(0, 10000));
}

}  // namespace
}  // namespace airssys::osl
