// osl::proc sockets over a hand-made /proc (ReaderOptions::proc_root): what
// no real process can be made to show on demand. A namespace's table that
// cannot be read or is gone halfway, and a kernel that cannot say a
// socket's kind (no system.sockprotoname xattr).
//
// The tree: ROOT/PID/fd/N is a link to "socket:[INODE]" as the kernel's;
// the link resolves (relative to fd/) to a regular file of that name, so
// getxattr of system.sockprotoname through it fails as on a kernel without
// that attribute; ROOT/PID/ns/net is a hard link to ROOT/ns-NAME, so
// processes in one namespace share its inode; ROOT/PID/net/* the tables.

#include <airssys/osl/proc_sockets.hpp>
#include <airssys/testing/file.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace airssys::osl::proc {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kInetHeader =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
constexpr std::string_view kUnixHeader = "Num       RefCount Protocol Flags    Type St Inode Path\n";

std::string tcp_line(std::uint64_t inode) {
  return "   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 " +
         std::to_string(inode) + " 1 0000000000000000 20 4 30 10 -1\n";
}
std::string udp6_line(std::uint64_t inode) {
  return "  10: 00000000000000000000000001000000:0035 00000000000000000000000000000000:0000 07 00000000:00000000 "
         "00:00000000 00000000   101        0 " +
         std::to_string(inode) + " 2 0000000000000000 0\n";
}
std::string udp_line(std::uint64_t inode) {
  return " 1021: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 " +
         std::to_string(inode) + " 2 0000000000000000 0\n";
}
std::string unix_line(std::uint64_t inode, std::string_view path) {
  return "0000000000000000: 00000002 00000000 00010000 0001 01 " + std::to_string(inode) + " " + std::string(path) + "\n";
}

// What a table file is: its text, a directory in its place (any read
// fails: EISDIR), a FIFO (the test writes it while it is read), or no file
// (the kernel's answer for an exited process).
struct TableFile {
  enum { text, unreadable, fifo, missing } what = missing;
  std::string body;
};
TableFile table(std::string_view header, const std::string& lines) { return {TableFile::text, std::string(header) + lines}; }

struct FakeProcess {
  std::string ns;                          // ROOT/ns-NAME
  std::map<int, std::uint64_t> sockets;    // fd → socket inode
  std::map<std::string, TableFile> net;    // "tcp" … "unix"; absent: missing
};

class FakeProc {
 public:
  FakeProc() { testing::write_file(dir_ / "stat", "btime 1700000000\n"); }
  void add(pid_t pid, const FakeProcess& p) {
    const fs::path d = dir_ / std::to_string(pid);
    fs::create_directories(d / "fd");
    fs::create_directories(d / "ns");
    fs::create_directories(d / "net");
    const fs::path ns = dir_ / ("ns-" + p.ns);
    if (!fs::exists(ns)) testing::write_file(ns, "");
    fs::create_hard_link(ns, d / "ns" / "net");
    for (const auto& [fd, inode] : p.sockets) {
      const std::string target = "socket:[" + std::to_string(inode) + "]";
      fs::create_symlink(target, d / "fd" / std::to_string(fd));
      testing::write_file(d / "fd" / target, "");
    }
    for (const auto& [name, f] : p.net) {
      if (f.what == TableFile::text) testing::write_file(d / "net" / name, f.body);
      if (f.what == TableFile::unreadable) fs::create_directory(d / "net" / name);
      if (f.what == TableFile::fifo) {
        ASSERT_EQ(::mkfifo((d / "net" / name).c_str(), 0600), 0) << std::strerror(errno);
      }
    }
  }
  // Process `pid` enters namespace `name` (its ns/net names it from now on).
  void move(pid_t pid, const std::string& name) {
    const fs::path ns = dir_ / ("ns-" + name), link = dir_ / std::to_string(pid) / "ns" / "net";
    if (!fs::exists(ns)) testing::write_file(ns, "");
    fs::create_hard_link(ns, link.string() + ".new");
    fs::rename(link.string() + ".new", link);
  }
  const fs::path& root() const { return dir_.path(); }
  // The namespace's id, as Reader::net_namespace reads it.
  std::uint64_t ns_inode(const std::string& name) const {
    struct ::stat st{};
    return ::stat((dir_ / ("ns-" + name)).c_str(), &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
  }

 private:
  testing::TempDir dir_{"osl-fake-proc"};
};

// One snapshot over a FakeProc: read() the pids in order, then finish().
struct Snapshot {
  std::vector<OpenSocket> rows;
  SocketStats after_reads, stats;
};
Snapshot snapshot(const FakeProc& fp, const std::vector<pid_t>& pids) {
  Snapshot out;
  auto reader = Reader::open(ReaderOptions{.proc_root = fp.root()});
  if (!reader) {
    ADD_FAILURE() << reader.error().to_string();
    return out;
  }
  SocketSnapshot snap;
  snap.begin();
  for (pid_t pid : pids) {
    auto p = reader->open_process(pid);
    if (!p) {
      ADD_FAILURE() << p.error().to_string();
      return out;
    }
    snap.read(*reader, *p, out.rows);
  }
  out.after_reads = snap.stats();
  snap.finish(*reader, out.rows);  // this test's own pid is not in the fake tree (kPidA…): no host tables
  out.stats = snap.stats();
  return out;
}

const OpenSocket* row(const Snapshot& s, pid_t pid, int fd) {
  auto it = std::ranges::find_if(s.rows, [&](const OpenSocket& r) { return r.pid == pid && r.fd == fd; });
  return it == s.rows.end() ? nullptr : &*it;
}

// The fake processes' pids lie above the largest pid_max (2^22), so no real
// process has them — in particular not this test: finish() looks up the
// test's own pid under proc_root for the host's tables, and a fake entry
// with its pid would be read as the host (a FIFO table would block).
constexpr pid_t kPidA = 4'194'401, kPidB = 4'194'451, kPidC = 4'194'501;

// Without the kernel's word on a socket's kind, an inode is looked up in
// the inet tables first (no text there that a process controls), then in
// unix: a unix line planted with a TCP socket's inode cannot turn its row
// into a unix one, a unix socket still finds its own line, and an inode in
// no table gives no row (unmatched).
TEST(ProcSocketsFakeProc, WithoutTheSocketKindTheInetTablesComeFirst) {
  FakeProc fp;
  fp.add(kPidA, {.ns = "a",
               .sockets = {{3, 1001}, {4, 1002}, {5, 1003}, {7, 9999}},
               .net = {{"tcp", table(kInetHeader, tcp_line(1001))},
                       {"tcp6", table(kInetHeader, "")},
                       {"udp", table(kInetHeader, "")},
                       {"udp6", table(kInetHeader, udp6_line(1002))},
                       {"unix", table(kUnixHeader, unix_line(1003, "/run/a.sock") +
                                                       "0: 0 0 0 0 0 1001 /run/fake\n")}}});
  // The fallback is what runs: this kernel cannot name the kind of a file
  // that is no socket.
  const fs::path link = fp.root() / std::to_string(kPidA) / "fd" / "3";
  char name[32];
  ASSERT_LT(::getxattr(link.c_str(), "system.sockprotoname", name, sizeof name), 0);
  EXPECT_TRUE(errno == ENODATA || errno == EOPNOTSUPP) << std::strerror(errno);

  const Snapshot s = snapshot(fp, {kPidA});
  const OpenSocket* tcp = row(s, kPidA, 3);
  ASSERT_NE(tcp, nullptr);
  EXPECT_EQ(tcp->entry.family, kFamilyInet);
  EXPECT_EQ(tcp->entry.protocol, kProtocolTcp);
  EXPECT_EQ(tcp->entry.state, "ESTABLISHED");
  EXPECT_EQ(tcp->entry.local_port, 40000);
  EXPECT_EQ(tcp->entry.remote_port, 8080);
  EXPECT_EQ(tcp->entry.path, "");
  EXPECT_EQ(tcp->net_namespace, fp.ns_inode("a"));
  const OpenSocket* udp = row(s, kPidA, 4);
  ASSERT_NE(udp, nullptr);
  EXPECT_EQ(udp->entry.family, kFamilyInet6);
  EXPECT_EQ(udp->entry.protocol, kProtocolUdp);
  EXPECT_EQ(udp->entry.local_address, "::1");
  EXPECT_EQ(udp->entry.local_port, 53);
  EXPECT_EQ(udp->entry.state, "");
  const OpenSocket* local = row(s, kPidA, 5);
  ASSERT_NE(local, nullptr);
  EXPECT_EQ(local->entry.family, kFamilyUnix);
  EXPECT_EQ(local->entry.path, "/run/a.sock");
  EXPECT_EQ(row(s, kPidA, 7), nullptr);
  EXPECT_EQ(s.rows.size(), 3u);
  EXPECT_EQ(s.stats.rows, 3u);
  EXPECT_EQ(s.stats.unmatched, 1u);  // fd 7
  EXPECT_EQ(s.stats.namespaces, 1u);
  EXPECT_EQ(s.stats.unreadable, 0u);
}

// A namespace's tables are kept only when all five were read (tcp6 and
// udp6 may be missing: a kernel without IPv6). Process A's udp cannot be
// read, process B's unix is gone (it exited meanwhile): nothing of either
// read is kept or counted as a namespace, and their sockets wait for
// finish(). Process C, in the same namespace, reads the tables whole:
// they are kept, its own sockets are found at once, and the others' at
// finish(), in their own namespace (not other_namespace).
TEST(ProcSocketsFakeProc, ANamespaceReadHalfwayKeepsNothing) {
  const std::string full_udp = udp_line(2002) + udp_line(1002);
  FakeProc fp;
  fp.add(kPidA, {.ns = "a",
               .sockets = {{3, 1001}},
               .net = {{"tcp", table(kInetHeader, tcp_line(1001))},
                       {"tcp6", table(kInetHeader, "")},
                       {"udp", {TableFile::unreadable, ""}},
                       {"udp6", table(kInetHeader, "")},
                       {"unix", table(kUnixHeader, "")}}});
  fp.add(kPidB, {.ns = "a",
               .sockets = {{4, 1002}},
               .net = {{"tcp", table(kInetHeader, tcp_line(1001))},
                       {"udp", table(kInetHeader, full_udp)}}});  // tcp6, udp6 and unix missing
  fp.add(kPidC, {.ns = "a",
               .sockets = {{3, 2002}, {5, 1001}},
               .net = {{"tcp", table(kInetHeader, tcp_line(1001))},
                       {"udp", table(kInetHeader, full_udp)},
                       {"unix", table(kUnixHeader, "")}}});  // no tcp6, udp6: kept

  const Snapshot first = snapshot(fp, {kPidA, kPidB});
  EXPECT_TRUE(first.rows.empty());
  EXPECT_EQ(first.after_reads.namespaces, 0u);
  EXPECT_EQ(first.stats.namespaces, 0u);
  EXPECT_EQ(first.stats.unmatched, 2u);  // no namespace's tables were read whole
  EXPECT_EQ(first.stats.unreadable, 0u);
  EXPECT_EQ(first.stats.tables_capped, 0u);

  const Snapshot s = snapshot(fp, {kPidA, kPidB, kPidC});
  EXPECT_EQ(s.after_reads.namespaces, 1u);
  ASSERT_EQ(s.rows.size(), 4u);
  const OpenSocket* a = row(s, kPidA, 3);
  const OpenSocket* b = row(s, kPidB, 4);
  const OpenSocket* c = row(s, kPidC, 3);
  const OpenSocket* d = row(s, kPidC, 5);
  ASSERT_TRUE(a && b && c && d);
  EXPECT_EQ(a->entry.protocol, kProtocolTcp);
  EXPECT_EQ(a->entry.inode, 1001u);
  EXPECT_EQ(b->entry.protocol, kProtocolUdp);  // in the udp table process A could not read
  EXPECT_EQ(b->entry.inode, 1002u);
  EXPECT_EQ(c->entry.protocol, kProtocolUdp);
  EXPECT_EQ(d->entry.protocol, kProtocolTcp);
  for (const OpenSocket& r : s.rows) EXPECT_EQ(r.net_namespace, fp.ns_inode("a"));
  EXPECT_EQ(s.stats.namespaces, 1u);
  EXPECT_EQ(s.stats.other_namespace, 0u);
  EXPECT_EQ(s.stats.unmatched, 0u);
  EXPECT_EQ(s.stats.unreadable, 0u);
  EXPECT_EQ(s.stats.rows, 4u);
}

// A process that enters another namespace while its tables are read: its
// unix table is a FIFO, and the test moves it (ns/net names another
// namespace) once the reader has opened it, before writing the table. The
// tables read are not kept (they may be either namespace's): its socket is
// unmatched, no namespace counted.
TEST(ProcSocketsFakeProc, ANamespaceThatChangesWhileItsTablesAreReadIsNotKept) {
  FakeProc fp;
  fp.add(kPidA, {.ns = "a",
               .sockets = {{3, 1001}},
               .net = {{"tcp", table(kInetHeader, tcp_line(1001))},
                       {"udp", table(kInetHeader, "")},
                       {"unix", {TableFile::fifo, ""}}}});
  bool moved = false;
  std::thread mover([&] {
    // A writer's O_NONBLOCK open succeeds only once the reader has the FIFO
    // open (fifo(7)); bounded, so a reader that never comes fails the test.
    const fs::path fifo = fp.root() / std::to_string(kPidA) / "net" / "unix";
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    int fd = -1;
    while ((fd = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0 && errno == ENXIO &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (fd < 0) return;
    fp.move(kPidA, "b");
    moved = true;
    const std::string text = std::string(kUnixHeader) + unix_line(1003, "/run/b.sock");
    (void)!::write(fd, text.data(), text.size());
    ::close(fd);
  });
  const Snapshot s = snapshot(fp, {kPidA});
  mover.join();
  ASSERT_TRUE(moved);
  EXPECT_TRUE(s.rows.empty());
  EXPECT_EQ(s.stats.namespaces, 0u);
  EXPECT_EQ(s.stats.unmatched, 1u);
  EXPECT_EQ(s.stats.unreadable, 0u);
}

}  // namespace
}  // namespace airssys::osl::proc
