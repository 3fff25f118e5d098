// osl::proc sockets: the /proc/net parsers over literal kernel text, and
// SocketSnapshot over this process's own real sockets.

#include <airssys/osl/proc_sockets.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace airssys::osl::proc {
namespace {

TEST(ProcSocketsAddress, DecodesIpv4InTheKernelsByteOrder) {
  EXPECT_EQ(decode_address("0100007F", kFamilyInet), "127.0.0.1");
  EXPECT_EQ(decode_address("00000000", kFamilyInet), "0.0.0.0");
  EXPECT_EQ(decode_address("0A01A8C0", kFamilyInet), "192.168.1.10");
  EXPECT_EQ(decode_address("0a01a8c0", kFamilyInet), "192.168.1.10");
}

TEST(ProcSocketsAddress, DecodesIpv6AndIpv4Mapped) {
  EXPECT_EQ(decode_address("00000000000000000000000001000000", kFamilyInet6), "::1");
  EXPECT_EQ(decode_address("00000000000000000000000000000000", kFamilyInet6), "::");
  EXPECT_EQ(decode_address("0000000000000000FFFF00000100007F", kFamilyInet6), "::ffff:127.0.0.1");
  EXPECT_EQ(decode_address("B80D0120000000000000000001000000", kFamilyInet6), "2001:db8::1");
}

TEST(ProcSocketsAddress, RefusesWrongLengthOrNonHex) {
  EXPECT_EQ(decode_address("", kFamilyInet), "");
  EXPECT_EQ(decode_address("0100007", kFamilyInet), "");
  EXPECT_EQ(decode_address("0100007G", kFamilyInet), "");
  EXPECT_EQ(decode_address("+100007F", kFamilyInet), "");
  EXPECT_EQ(decode_address("0100007F", kFamilyInet6), "");
  EXPECT_EQ(decode_address("00000000000000000000000001000000", kFamilyInet), "");
  EXPECT_EQ(decode_address("0100007F", kFamilyUnix), "");
}

TEST(ProcSocketsState, NamesEveryKernelState) {
  EXPECT_EQ(tcp_state_name(1), "ESTABLISHED");
  EXPECT_EQ(tcp_state_name(2), "SYN_SENT");
  EXPECT_EQ(tcp_state_name(6), "TIME_WAIT");
  EXPECT_EQ(tcp_state_name(8), "CLOSE_WAIT");
  EXPECT_EQ(tcp_state_name(10), "LISTEN");
  EXPECT_EQ(tcp_state_name(11), "CLOSING");
  EXPECT_EQ(tcp_state_name(7), "CLOSED");  // osquery's name for TCP_CLOSE
  EXPECT_EQ(tcp_state_name(12), "UNKNOWN");  // TCP_NEW_SYN_RECV: osquery has no name for it
  EXPECT_EQ(tcp_state_name(0), "UNKNOWN");
  EXPECT_EQ(tcp_state_name(13), "UNKNOWN");
  EXPECT_EQ(tcp_state_name(~0u), "UNKNOWN");
}

// Real lines (kernel 6.1).
constexpr std::string_view kTcpListen =
    "   0: 0100007F:0CEA 00000000:0000 0A 00000000:00000000 00:00000000 00000000   112        0 21391 1 "
    "0000000000000000 100 0 0 10 0";
constexpr std::string_view kTcpEstablished =
    "   3: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 02:000A6D2B 00000000  1000        0 553421 2 "
    "0000000000000000 20 4 30 10 -1";
constexpr std::string_view kTcp6Mapped =
    "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:D3C2 01 00000000:00000000 "
    "00:00000000 00000000  1000        0 77001 1 0000000000000000 20 4 29 10 -1";
constexpr std::string_view kUdp =
    " 1021: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 20120 2 "
    "0000000000000000 0";

TEST(ProcSocketsInet, ParsesAListeningTcpSocket) {
  auto e = parse_inet_line(kTcpListen, kFamilyInet, kProtocolTcp);
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->inode, 21391u);
  EXPECT_EQ(e->family, kFamilyInet);
  EXPECT_EQ(e->protocol, kProtocolTcp);
  EXPECT_EQ(e->local_address, "127.0.0.1");
  EXPECT_EQ(e->local_port, 3306);
  EXPECT_EQ(e->remote_address, "0.0.0.0");
  EXPECT_EQ(e->remote_port, 0);
  EXPECT_EQ(e->state, "LISTEN");
  EXPECT_EQ(e->path, "");
}

TEST(ProcSocketsInet, ParsesAConnectedTcpSocketAndAMappedTcp6One) {
  auto e = parse_inet_line(kTcpEstablished, kFamilyInet, kProtocolTcp);
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->local_port, 0xA1B2);
  EXPECT_EQ(e->remote_address, "127.0.0.1");
  EXPECT_EQ(e->remote_port, 8080);
  EXPECT_EQ(e->state, "ESTABLISHED");
  EXPECT_EQ(e->inode, 553421u);

  auto m = parse_inet_line(kTcp6Mapped, kFamilyInet6, kProtocolTcp);
  ASSERT_TRUE(m) << m.error().to_string();
  EXPECT_EQ(m->family, kFamilyInet6);
  EXPECT_EQ(m->local_address, "::ffff:127.0.0.1");
  EXPECT_EQ(m->remote_address, "::ffff:127.0.0.1");
  EXPECT_EQ(m->remote_port, 0xD3C2);
  EXPECT_EQ(m->inode, 77001u);
}

TEST(ProcSocketsInet, UdpHasNoStateAsInOsquery) {
  auto e = parse_inet_line(kUdp, kFamilyInet, kProtocolUdp);
  ASSERT_TRUE(e) << e.error().to_string();
  EXPECT_EQ(e->local_address, "127.0.0.53");
  EXPECT_EQ(e->local_port, 53);
  EXPECT_EQ(e->state, "");
  EXPECT_EQ(e->protocol, kProtocolUdp);
}

TEST(ProcSocketsInet, MalformedLinesNameTheField) {
  struct Case {
    std::string_view line, message;
  } cases[] = {
      {"", "sl: ''"},
      {"   0 0100007F:0CEA", "sl: '0'"},
      {"   0: 0100007F0CEA 00000000:0000 0A", "local_address: '0100007F0CEA'"},
      {"   0: 0100007F:CEA 00000000:0000 0A", "local_address: '0100007F:CEA'"},
      {"   0: 0100007F:0CEA 0000:0000 0A", "rem_address: '0000:0000'"},
      {"   0: 0100007F:0CEA 00000000:0000 ZZ 0 0 0 0 0 1", "st: 'ZZ'"},
      {"   0: 0100007F:0CEA 00000000:0000 0A 0 0 0 0", "line too short: '   0: 0100007F:0CEA 00000000:0000 0A 0 0 0 0'"},
      {"   0: 0100007F:0CEA 00000000:0000 0A 0 0 0 0 0 -5", "inode: '-5'"},
      {"   0: 0100007F:0CEA 00000000:0000 0A 0 0 0 0 0 99999999999999999999999", "inode: '99999999999999999999999'"},
  };
  for (const auto& c : cases) {
    auto e = parse_inet_line(c.line, kFamilyInet, kProtocolTcp);
    ASSERT_FALSE(e) << c.line;
    EXPECT_EQ(e.error().category, ErrorCategory::invalid_argument);
    EXPECT_EQ(e.error().message, c.message) << c.line;
  }
}

TEST(ProcSocketsUnix, ParsesPathsWithSpacesAbstractAndUnbound) {
  auto bound = parse_unix_line("0000000000000000: 00000002 00000000 00010000 0001 01 20442 /run/my dir/s.sock");
  ASSERT_TRUE(bound) << bound.error().to_string();
  EXPECT_EQ(bound->inode, 20442u);
  EXPECT_EQ(bound->family, kFamilyUnix);
  EXPECT_EQ(bound->protocol, 0);
  EXPECT_EQ(bound->path, "/run/my dir/s.sock");
  EXPECT_EQ(bound->local_address, "");
  EXPECT_EQ(bound->state, "");

  auto abstract = parse_unix_line("0000000000000000: 00000002 00000000 00000000 0002 01 3141 @/tmp/.X11-unix/X0");
  ASSERT_TRUE(abstract);
  EXPECT_EQ(abstract->path, "@/tmp/.X11-unix/X0");

  auto unbound = parse_unix_line("0000000000000000: 00000003 00000000 00000000 0001 03 99");
  ASSERT_TRUE(unbound);
  EXPECT_EQ(unbound->inode, 99u);
  EXPECT_EQ(unbound->path, "");

  auto bad = parse_unix_line("0000000000000000: 00000003 00000000 00000000 0001 03 x1");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "Inode: 'x1'");
}

TEST(ProcSocketsTable, SkipsHeaderBadAndCutLinesAndCapsEntries) {
  const std::string text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
                           std::string(kTcpListen) + "\n" + "garbage line\n" + std::string(kTcpEstablished) + "\n" +
                           "   9: 0100007F:0C";  // cut by the byte bound
  std::unordered_map<std::uint64_t, SocketEntry> out;
  const ParsedTable r = parse_net_table(text, kNetTables[0], 10, out);
  EXPECT_EQ(r.entries, 2u);
  EXPECT_EQ(r.skipped, 2u);
  EXPECT_FALSE(r.truncated);
  EXPECT_TRUE(out.contains(21391));
  EXPECT_TRUE(out.contains(553421));

  std::unordered_map<std::uint64_t, SocketEntry> one;
  const ParsedTable capped = parse_net_table(text, kNetTables[0], 1, one);
  EXPECT_EQ(capped.entries, 1u);
  EXPECT_TRUE(capped.truncated);
  EXPECT_EQ(one.size(), 1u);
}

// `truncated` means an entry found no room: a bad line, an inode 0 or a
// duplicate after the last entry that fits is none (each still counted).
TEST(ProcSocketsTable, OnlyAnEntryPastTheCapTruncates) {
  const std::string header = "  sl  local_address rem_address   st\n";
  const std::string dup = std::string(kTcpListen) + "\n";
  std::unordered_map<std::uint64_t, SocketEntry> out;
  const ParsedTable r = parse_net_table(header + dup + "garbage line\n" + dup, kNetTables[0], 1, out);
  EXPECT_EQ(r.entries, 1u);
  EXPECT_EQ(r.skipped, 1u);
  EXPECT_EQ(r.ambiguous, 1u);
  EXPECT_FALSE(r.truncated);
  EXPECT_EQ(out.size(), 1u);

  std::unordered_map<std::uint64_t, SocketEntry> more;
  const ParsedTable cut =
      parse_net_table(header + dup + "garbage line\n" + std::string(kTcpEstablished) + "\n", kNetTables[0], 1, more);
  EXPECT_TRUE(cut.truncated);
  EXPECT_EQ(cut.entries, 1u);
  EXPECT_EQ(cut.skipped, 1u);
  EXPECT_FALSE(more.contains(553421));
}

// A unix socket's name is printed raw: "x\n0: 0 0 0 0 0 21391 /run/x" plants
// a second line. A planted line naming a unix inode makes both ambiguous
// (no path); one naming another table's inode stays in the unix map, which
// SocketSnapshot consults after the inet tables.
TEST(ProcSocketsTable, ANewlineInAUnixNameMakesItsInodeAmbiguous) {
  const std::string text = "Num       RefCount Protocol Flags    Type St Inode Path\n"
                           "0000000000000000: 00000002 00000000 00010000 0001 01 20442 /run/real.sock\n"
                           "0000000000000000: 00000002 00000000 00000000 0001 01 777 @x\n"
                           "0: 0 0 0 0 0 20442 /run/fake\n"
                           "0000000000000000: 00000002 00000000 00000000 0001 01 778 @y\n"
                           "0: 0 0 0 0 0 21391 /run/x\n";
  std::unordered_map<std::uint64_t, SocketEntry> out;
  const ParsedTable r = parse_net_table(text, kNetTables[4], 100, out);
  EXPECT_EQ(r.ambiguous, 1u);
  ASSERT_TRUE(out.contains(20442));
  EXPECT_EQ(out.at(20442).path, "");  // neither /run/real.sock nor /run/fake
  EXPECT_EQ(out.at(20442).family, kFamilyUnix);
  EXPECT_EQ(out.at(777).path, "@x");  // the planter's own name, cut at the newline
  EXPECT_EQ(out.at(21391).path, "/run/x");  // in the unix map only

  // The same text can never touch an inet table's map.
  std::unordered_map<std::uint64_t, SocketEntry> inet;
  (void)parse_net_table(std::string("h\n") + std::string(kTcpListen) + "\n", kNetTables[0], 100, inet);
  EXPECT_EQ(inet.at(21391).family, kFamilyInet);
}

TEST(ProcSocketsTable, ArbitraryBytesNeverCrash) {
  // A cheap stand-in for the fuzzer: every prefix of a mix of valid and
  // hostile text parses to something or is skipped.
  const std::string text = std::string("h\n") + std::string(kTcp6Mapped) + "\n\x00\xff::::\n:\n" +
                           std::string(kUdp) + "\n" + std::string(300, ':') + "\n";
  for (std::size_t n = 0; n <= text.size(); ++n) {
    for (const NetTable& t : kNetTables) {
      std::unordered_map<std::uint64_t, SocketEntry> out;
      (void)parse_net_table(std::string_view(text).substr(0, n), t, 100, out);
    }
  }
}

TEST(ProcSocketsLink, ReadsOnlySocketLinks) {
  EXPECT_EQ(socket_inode_of_link("socket:[12345]"), 12345u);
  EXPECT_EQ(socket_inode_of_link("socket:[]"), 0u);
  EXPECT_EQ(socket_inode_of_link("socket:[12a]"), 0u);
  EXPECT_EQ(socket_inode_of_link("pipe:[12345]"), 0u);
  EXPECT_EQ(socket_inode_of_link("/tmp/socket:[1]"), 0u);
  EXPECT_EQ(socket_inode_of_link("anon_inode:[eventfd]"), 0u);
}

// A loopback listener and a client connected to it, closed at the end;
// connect_another() adds clients (closed at the end too).
struct Connection {
  int listener = -1, client = -1, port = 0;
  std::vector<int> others;
  explicit Connection(int backlog = 8) {
    listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    addr_.sin_family = AF_INET;
    addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr_;
    if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0 ||
        ::listen(listener, backlog) != 0 || ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr_), &len) != 0) {
      return;
    }
    port = ntohs(addr_.sin_port);
    client = connect_one();
  }
  ~Connection() {
    for (int fd : others) ::close(fd);
    if (client >= 0) ::close(client);
    if (listener >= 0) ::close(listener);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  int connect_another() {
    const int fd = connect_one();
    if (fd >= 0) others.push_back(fd);
    return fd;
  }

 private:
  int connect_one() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr_), sizeof addr_) != 0) {
      ::close(fd);
      return -1;
    }
    return fd;
  }
  sockaddr_in addr_{};
};

// A unix socket bound to the abstract `name` (-1 if it cannot be).
int bind_abstract(const std::string& name) {
  sockaddr_un ua{};
  ua.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof ua.sun_path) return -1;
  std::memcpy(ua.sun_path + 1, name.data(), name.size());
  const int u = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (u >= 0 && ::bind(u, reinterpret_cast<sockaddr*>(&ua),
                       static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size())) != 0) {
    ::close(u);
    return -1;
  }
  return u;
}

std::uint64_t inode_of(int fd) {
  struct ::stat st{};
  return ::fstat(fd, &st) == 0 ? static_cast<std::uint64_t>(st.st_ino) : 0;
}

// One snapshot of this machine's real /proc: read() the processes a test
// names, finish(), then look at rows and snap.stats().
class ProcSocketsSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto r = Reader::open();
    ASSERT_TRUE(r) << r.error().to_string();
    reader.emplace(std::move(*r));
    snap.begin();
  }
  // A new snapshot under `limits` (rows kept).
  void limit(SocketLimits limits) {
    snap = SocketSnapshot(limits);
    snap.begin();
  }
  // Opens `pid` and reads its sockets into rows; false (a test failure) if
  // it cannot be opened.
  bool read(pid_t pid) {
    auto p = reader->open_process(pid);
    if (!p) {
      ADD_FAILURE() << "open_process(" << pid << "): " << p.error().to_string();
      return false;
    }
    snap.read(*reader, *p, rows);
    return true;
  }
  void finish() { snap.finish(*reader, rows); }
  // This process's row of `fd` (nullptr if none).
  const OpenSocket* own(int fd) const {
    auto it = std::ranges::find_if(rows, [&](const OpenSocket& r) { return r.pid == ::getpid() && r.fd == fd; });
    return it == rows.end() ? nullptr : &*it;
  }

  std::optional<Reader> reader;
  SocketSnapshot snap;
  std::vector<OpenSocket> rows;
};

// This process's own sockets, read for real: a loopback TCP listener, a
// client connected to it, and a bound unix socket.
TEST_F(ProcSocketsSnapshot, FindsThisProcesssRealSockets) {
  Connection c;
  ASSERT_GE(c.client, 0);
  const std::string abstract = "airssys-proc-sockets-test-" + std::to_string(::getpid());
  const int u = bind_abstract(abstract);
  ASSERT_GE(u, 0);

  ASSERT_TRUE(read(::getpid()));
  ASSERT_TRUE(read(::getpid()));  // the second read uses the cached tables
  EXPECT_EQ(snap.stats().namespaces, 1u);
  const OpenSocket* l = own(c.listener);
  const OpenSocket* x = own(u);
  const OpenSocket* k = own(c.client);
  ASSERT_NE(l, nullptr);
  ASSERT_NE(k, nullptr);
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(l->pid, ::getpid());
  EXPECT_EQ(l->entry.state, "LISTEN");
  EXPECT_EQ(l->entry.local_port, c.port);
  EXPECT_EQ(l->entry.remote_port, 0);
  EXPECT_EQ(k->entry.state, "ESTABLISHED");
  EXPECT_EQ(k->entry.remote_address, "127.0.0.1");
  EXPECT_EQ(k->entry.remote_port, c.port);
  EXPECT_EQ(k->entry.family, kFamilyInet);
  EXPECT_EQ(k->entry.protocol, kProtocolTcp);
  EXPECT_NE(k->net_namespace, 0u);
  EXPECT_EQ(x->entry.family, kFamilyUnix);
  EXPECT_EQ(x->entry.path, "@" + abstract);
  EXPECT_EQ(rows.size() % 2, 0u);  // every row twice, once per read

  // The fd cap: with room for none, nothing is looked at.
  rows.clear();
  limit(SocketLimits{.max_fds = 0});
  ASSERT_TRUE(read(::getpid()));
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(snap.stats().fds_capped, 1u);
  ::close(u);
}

// /proc/net/tcp hands out about a page per read(): a table longer than that
// (here 200 connections, ~60 KiB) must still be read to its end.
TEST_F(ProcSocketsSnapshot, ATableLongerThanOneReadIsReadWhole) {
  Connection c(512);
  ASSERT_GE(c.client, 0);
  for (int i = 0; i < 199; ++i) ASSERT_GE(c.connect_another(), 0);
  ASSERT_TRUE(read(::getpid()));
  EXPECT_NE(own(c.client), nullptr) << "fd " << c.client;
  for (int fd : c.others) EXPECT_NE(own(fd), nullptr) << "fd " << fd;
  EXPECT_EQ(snap.stats().unmatched, 0u);
}

TEST_F(ProcSocketsSnapshot, AnExitedProcessAddsNothingAndFailsNothing) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  auto p = reader->open_process(child);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(p) << p.error().to_string();  // opened before it was reaped
  snap.read(*reader, *p, rows);
  finish();
  EXPECT_TRUE(rows.empty());
  EXPECT_EQ(snap.stats().unreadable, 0u);
}

// The review's reproduction: an abstract unix name "x\n0: 0 0 0 0 0 INODE
// /run/x" plants a unix line for this process's own TCP socket. The TCP
// socket's row must stay TCP.
TEST_F(ProcSocketsSnapshot, APlantedUnixLineCannotHideATcpSocket) {
  Connection c;
  ASSERT_GE(c.client, 0);
  const std::uint64_t tcp_inode = inode_of(c.client);
  ASSERT_NE(tcp_inode, 0u);
  const int u = bind_abstract("airssys-plant-" + std::to_string(::getpid()) + "\n0: 0 0 0 0 0 " +
                              std::to_string(tcp_inode) + " /run/x");
  ASSERT_GE(u, 0);

  ASSERT_TRUE(read(::getpid()));
  finish();
  const OpenSocket* it = own(c.client);
  ASSERT_NE(it, nullptr);
  EXPECT_EQ(it->entry.family, kFamilyInet);
  EXPECT_EQ(it->entry.protocol, kProtocolTcp);
  EXPECT_EQ(it->entry.state, "ESTABLISHED");
  EXPECT_EQ(it->entry.path, "");
  const OpenSocket* planter = own(u);
  ASSERT_NE(planter, nullptr);
  EXPECT_EQ(planter->entry.family, kFamilyUnix);
  ::close(u);
}

// `exec 3<>/dev/tcp/H/P; unshare -rn bash -i <&3 >&3`: a process in a
// network namespace of its own holds a socket of the host's. Only the child
// is read; finish() finds the socket in this process's namespace.
TEST_F(ProcSocketsSnapshot, ASocketFromAnotherNamespaceStillGivesARow) {
  Connection c;
  ASSERT_GE(c.client, 0);
  int ready[2], go[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(go[1]);
    const char ok = ::unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    char x = 0;
    (void)!::read(go[0], &x, 1);
    ::_exit(0);
  }
  ::close(ready[1]);
  ::close(go[0]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ::close(ready[0]);
  auto finish_child = [&] {
    ::close(go[1]);
    int status = 0;
    ::waitpid(child, &status, 0);
  };
  if (ok != 'y') {
    finish_child();
    GTEST_SKIP() << "unshare(CLONE_NEWNET) not permitted here (needs root)";
  }
  auto p = reader->open_process(child);
  ASSERT_TRUE(p);
  auto self = reader->open_process(::getpid());
  ASSERT_TRUE(self);
  const auto child_ns = reader->net_namespace(*p);
  ASSERT_TRUE(child_ns);
  ASSERT_NE(*child_ns, *reader->net_namespace(*self));
  snap.read(*reader, *p, rows);
  finish();
  finish_child();
  auto it = std::ranges::find(rows, c.client, &OpenSocket::fd);
  ASSERT_NE(it, rows.end());
  EXPECT_EQ(it->pid, child);
  EXPECT_EQ(it->net_namespace, *child_ns);  // the process's namespace
  EXPECT_EQ(it->entry.state, "ESTABLISHED");
  EXPECT_EQ(it->entry.family, kFamilyInet);
  EXPECT_GE(snap.stats().other_namespace, 1u);
  EXPECT_EQ(snap.stats().namespaces, 2u);
  EXPECT_TRUE(std::ranges::is_sorted(rows, {}, [](const OpenSocket& r) { return std::pair(r.pid, r.fd); }));
}

// Over the snapshot's budget: the first process may fill max_rows; after
// it, each process gives only its fds 0-2 (a shell's), up to max_low_rows;
// then nothing. Three "shells" hold a TCP socket on fds 0, 1 and 2.
TEST_F(ProcSocketsSnapshot, ASnapshotOverItsBudgetKeepsOnlyFdsZeroToTwo) {
  Connection c;
  ASSERT_GE(c.client, 0);
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  std::vector<pid_t> shells;
  for (int i = 0; i < 3; ++i) {
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(go[1]);
      for (int fd = 0; fd < 3; ++fd) ::dup2(c.client, fd);
      char x = 0;
      (void)!::read(go[0], &x, 1);
      ::_exit(0);
    }
    shells.push_back(pid);
  }
  ::close(go[0]);
  std::vector<int> pairs;
  for (int i = 0; i < 20; ++i) {
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pairs.insert(pairs.end(), {sv[0], sv[1]});
  }
  limit(SocketLimits{.max_rows = 10, .max_low_rows = 6});
  ASSERT_TRUE(read(::getpid()));  // 40 socketpair fds and more: capped at 10 rows
  EXPECT_EQ(rows.size(), 10u);
  for (pid_t pid : shells) ASSERT_TRUE(read(pid));
  finish();
  ::close(go[1]);
  for (pid_t pid : shells) {
    int status = 0;
    ::waitpid(pid, &status, 0);
  }
  for (int fd : pairs) ::close(fd);
  EXPECT_EQ(rows.size(), 16u);
  for (int i = 0; i < 2; ++i) {
    for (int fd = 0; fd < 3; ++fd) {
      auto it = std::ranges::find_if(rows, [&](const OpenSocket& r) { return r.pid == shells[i] && r.fd == fd; });
      ASSERT_NE(it, rows.end()) << "shell " << i << " fd " << fd;
      EXPECT_EQ(it->entry.state, "ESTABLISHED");
    }
  }
  EXPECT_EQ(std::ranges::count(rows, shells[2], &OpenSocket::pid), 0);
  EXPECT_EQ(snap.stats().truncated, 4u);  // this process, the three shells
  EXPECT_EQ(snap.stats().rows, 16u);
}

}  // namespace
}  // namespace airssys::osl::proc
