#pragma once
// osl::proc sockets — which sockets each process holds, as osquery's
// `process_open_sockets` table sees them (one row per socket fd whose inode
// is in one of its network namespace's tables).
//
// How it reads (docs/daemoneye.md "process_open_sockets"):
//  - per process: /proc/PID/fd (Reader::socket_fds: one readlinkat per fd,
//    at most max_fds), and, when it holds a socket, /proc/PID/ns/net;
//  - per network namespace, once per snapshot (the first process seen in
//    it): /proc/PID/net/{tcp,tcp6,udp,udp6,unix}, at most max_entries lines
//    each, parsed into maps from socket inode to its entry: one for the four
//    inet tables, one for unix. A namespace's tables are kept only when all
//    were read and /proc/PID/ns/net still names the same namespace after.
//  - per socket fd, its kind from the kernel (getxattr
//    system.sockprotoname: "TCP", "UDPv6", "UNIX-STREAM", ...), so a socket
//    is looked up only in the tables of its kind. /proc/net/unix prints a
//    socket's name raw, newlines included: any process can plant a fake unix
//    line naming another socket's inode. Where the kind cannot be read, the
//    inet tables (no text a process controls) win over unix, and a unix
//    inode on two lines is ambiguous: its row keeps family 1 but no path.
//  - a socket not in its process's namespace (a process that moved to
//    another namespace keeps the sockets it opened before) is looked up at
//    finish() in every namespace read in this snapshot; one whose namespace
//    no process read is missed (counted in unmatched).
// A socket fd whose inode is in none of the five tables (netlink, packet,
// raw, a socket created after its table was read) gives no row, as osquery.
// A snapshot is bounded (SocketLimits): past max_rows rows or
// max_fds_total fds looked at, only fds 0-2 of each process are read (a
// shell's stdin/stdout/stderr), and past max_rows + max_low_rows nothing.
// What cannot be read — another user's fds when not root, hidepid, a
// process that exited — leaves that process out and is counted; a snapshot
// never fails for one process.
//
// The parsers are pure functions of their text (fuzz-friendly: any bytes
// give a result or a skipped line, never a crash).
//
// Thread safety: a SocketSnapshot is used by one thread at a time, with the
// Reader it is given.

#include <airssys/osl/error.hpp>
#include <airssys/osl/proc.hpp>

#include <cstddef>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace airssys::osl::proc {

// Values as osquery stores them: family is the AF_* number, protocol the
// IPPROTO_* number (the unix table's Protocol column for AF_UNIX, 0).
inline constexpr int kFamilyUnix = 1;    // AF_UNIX
inline constexpr int kFamilyInet = 2;    // AF_INET
inline constexpr int kFamilyInet6 = 10;  // AF_INET6
inline constexpr int kProtocolTcp = 6;   // IPPROTO_TCP
inline constexpr int kProtocolUdp = 17;  // IPPROTO_UDP

// One line of a /proc/net table.
struct SocketEntry {
  std::uint64_t inode = 0;
  int family = 0;
  int protocol = 0;
  std::string local_address, remote_address;  // inet_ntop text; "" for AF_UNIX
  int local_port = 0, remote_port = 0;
  std::string path;   // AF_UNIX: the bound path ("@name" for the abstract namespace), else ""
  std::string state;  // TCP only (tcp_state_name); "" for UDP and AF_UNIX, as osquery

  bool operator==(const SocketEntry&) const = default;
};

// The tables read, in this order.
struct NetTable {
  const char* name;  // under /proc/PID/net/
  int family;
  int protocol;
};
inline constexpr NetTable kNetTables[] = {
    {"tcp", kFamilyInet, kProtocolTcp},  {"tcp6", kFamilyInet6, kProtocolTcp}, {"udp", kFamilyInet, kProtocolUdp},
    {"udp6", kFamilyInet6, kProtocolUdp}, {"unix", kFamilyUnix, 0},
};

// "0100007F" (AF_INET, 8 hex digits) or 32 hex digits (AF_INET6: four 32-bit
// words, each in the kernel's byte order, as /proc/net/tcp6 prints them) →
// "127.0.0.1", "::1", "::ffff:10.0.0.1" (an IPv4-mapped address keeps
// inet_ntop's form, as osquery). "" for text of the wrong length or not hex.
[[nodiscard]] std::string decode_address(std::string_view hex, int family);
// The kernel's TCP state number (include/net/tcp_states.h) as osquery names
// it: 1 → "ESTABLISHED" … 7 → "CLOSED" (the kernel's TCP_CLOSE), 10 →
// "LISTEN", 11 → "CLOSING"; anything else → "UNKNOWN". 12 (TCP_NEW_SYN_RECV)
// is "UNKNOWN" too, as osquery: the kernel keeps such request sockets out of
// the tables' listing anyway.
[[nodiscard]] std::string_view tcp_state_name(unsigned state) noexcept;
// One data line of tcp/tcp6/udp/udp6 ("  0: 0100007F:1F90 00000000:0000 0A
// ... inode ..."). invalid_argument naming the field for a malformed line.
[[nodiscard]] std::expected<SocketEntry, Error> parse_inet_line(std::string_view line, int family, int protocol);
// One data line of /proc/net/unix ("Num RefCount Protocol Flags Type St Inode [Path]").
[[nodiscard]] std::expected<SocketEntry, Error> parse_unix_line(std::string_view line);
// A whole table: the header line is skipped, malformed lines and a last line
// without its newline (a read cut at the byte bound) are skipped and
// counted in `skipped`, at most `max_entries` entries are added to `out`
// (keyed by inode). `truncated`: one more entry found no room (the table is
// read no further); a malformed line or a duplicate after the last entry
// that fits does not set it, and is counted as any other. An inode already
// in `out` is ambiguous (a unix name can hold a newline and a fake line):
// the entry kept has no path and is counted in `ambiguous`. The checks of
// osl/fuzz/net_table_checks.hpp hold for any text.
struct ParsedTable {
  std::size_t entries = 0, skipped = 0, ambiguous = 0;
  bool truncated = false;
};
ParsedTable parse_net_table(std::string_view text, const NetTable& table, std::size_t max_entries,
                            std::unordered_map<std::uint64_t, SocketEntry>& out);
// "socket:[12345]" → 12345; 0 for any other link text.
[[nodiscard]] std::uint64_t socket_inode_of_link(std::string_view link) noexcept;

// One row of process_open_sockets.
struct OpenSocket {
  std::int32_t pid = 0;
  std::int32_t fd = -1;
  std::uint64_t net_namespace = 0;  // inode of the process's network namespace (the socket's may differ)
  SocketEntry entry;                // entry.inode is osquery's `socket` column

  bool operator==(const OpenSocket&) const = default;
};

struct SocketLimits {
  std::size_t max_fds = 4096;          // fds looked at per process
  std::size_t max_entries = 65536;     // entries kept per table per namespace
  std::size_t max_rows = 20000;        // rows per snapshot before only fds 0-2 are read
  std::size_t max_fds_total = 200000;  // fds looked at per snapshot before only fds 0-2 are read
  std::size_t max_low_rows = 8192;     // rows of fds 0-2 past the budget; then none
};

struct SocketStats {
  std::uint32_t rows = 0;          // rows returned
  std::uint32_t namespaces = 0;    // network namespaces whose tables were read
  std::uint32_t unreadable = 0;    // processes whose fds or namespace could not be read (permission, hidepid)
  std::uint32_t fds_capped = 0;    // processes with more than max_fds fds (the rest not looked at)
  std::uint32_t tables_capped = 0; // tables with more than max_entries lines
  std::uint32_t unmatched = 0;     // socket fds in none of the tables read
  std::uint32_t ambiguous = 0;     // unix inodes on more than one line (row kept without a path)
  std::uint32_t other_namespace = 0;  // rows found in another namespace's tables than their process's
  std::uint32_t truncated = 0;     // processes read only in part or not at all: snapshot budget spent
};

// The sockets of many processes in one snapshot, each namespace's tables
// read once.
class SocketSnapshot {
 public:
  explicit SocketSnapshot(SocketLimits limits = {}) : limits_(limits) {}

  // Forgets the tables read so far (call at the start of each snapshot) and
  // zeroes the stats.
  void begin();
  // Appends the rows of `p`'s sockets to `out`. A process that cannot be read
  // adds nothing (counted in stats().unreadable unless it is gone). Sockets
  // not in `p`'s namespace's tables wait for finish().
  void read(Reader& reader, const Process& p, std::vector<OpenSocket>& out);
  // Looks the sockets read() did not find up in every namespace read so far
  // (and this process's own), appends the rows found, and sorts `out` by pid
  // then fd. Call once, after the last read().
  void finish(Reader& reader, std::vector<OpenSocket>& out);

  [[nodiscard]] const SocketStats& stats() const noexcept { return stats_; }

 private:
  using Table = std::unordered_map<std::uint64_t, SocketEntry>;
  struct Tables {
    Table inet;  // tcp, tcp6, udp, udp6: nothing in them a process controls
    Table local;  // unix: a socket's name is printed raw
  };
  // What kind of socket an fd is, by the kernel's protocol name.
  enum class Kind : std::uint8_t { unknown, tcp, udp, local, other };
  struct Pending {
    std::int32_t pid, fd;
    std::uint64_t net_namespace, inode;
    Kind kind;
  };
  const Tables* tables_of(Reader& reader, const Process& p, std::uint64_t ns);
  // The socket's kind as the kernel names its protocol (sk_prot->name),
  // through the process's fd link; unknown when that cannot be read (no
  // such xattr in this kernel, or the fd was closed meanwhile).
  static Kind kind_of(int proc_dir_fd, std::int32_t fd);
  static const SocketEntry* find(const Tables& t, std::uint64_t inode, Kind kind);
  bool budget_spent() const noexcept;

  SocketLimits limits_;
  SocketStats stats_;
  std::unordered_map<std::uint64_t, Tables> namespaces_;
  std::vector<SocketFd> fds_;
  std::vector<Pending> pending_;
  std::size_t rows_ = 0, fds_seen_ = 0;
};

}  // namespace airssys::osl::proc
