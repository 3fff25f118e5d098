// osl::proc sockets: the parsers of /proc/net tables, the Reader's socket
// fd, namespace and table reads, and SocketSnapshot (proc_sockets.hpp).

#include <airssys/osl/proc_sockets.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstring>

namespace airssys::osl::proc {

namespace {

template <class T>
bool hex_number(std::string_view s, T& out) noexcept {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

template <class T>
bool dec_number(std::string_view s, T& out) noexcept {
  if (s.empty()) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && ptr == s.data() + s.size();
}

bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

// The next whitespace-separated field of `s` (consumed); "" at the end.
std::string_view next_field(std::string_view& s) noexcept {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  std::size_t j = i;
  while (j < s.size() && !is_space(s[j])) ++j;
  const std::string_view f = s.substr(i, j - i);
  s.remove_prefix(j);
  return f;
}

Error bad(std::string_view what, std::string_view text) {
  return Error::make(ErrorCategory::invalid_argument, fmt::format("{}: '{}'", what, text.substr(0, 64)));
}

// "ADDR:PORT" of an inet table.
bool split_endpoint(std::string_view f, int family, std::string& address, int& port) {
  const auto colon = f.find(':');
  if (colon == std::string_view::npos) return false;
  address = decode_address(f.substr(0, colon), family);
  std::uint16_t p = 0;
  const std::string_view port_hex = f.substr(colon + 1);
  if (address.empty() || port_hex.size() != 4 || !hex_number(port_hex, p)) return false;
  port = p;
  return true;
}

Error io_error(int err, pid_t pid, std::string_view file) {
  if (err == ESRCH || err == ENOENT) {
    return Error{ErrorCategory::not_found, err, 0,
                 fmt::format("process {} is gone or has no {} ({})", pid, file, std::strerror(err))};
  }
  return Error::from_errno(err, fmt::format("/proc/{}/{}", pid, file));
}

}  // namespace

std::string decode_address(std::string_view hex, int family) {
  // The kernel prints each 32-bit word of the address with %08X as the CPU
  // holds it: parsing the word and storing it natively gives back the
  // address's bytes in network order, on either endianness.
  std::array<unsigned char, 16> bytes{};
  std::size_t words = 0;
  if (family == kFamilyInet && hex.size() == 8) words = 1;
  else if (family == kFamilyInet6 && hex.size() == 32) words = 4;
  else return {};
  for (std::size_t w = 0; w < words; ++w) {
    std::uint32_t v = 0;
    if (!hex_number(hex.substr(w * 8, 8), v)) return {};
    std::memcpy(bytes.data() + w * 4, &v, 4);
  }
  std::array<char, INET6_ADDRSTRLEN> text{};
  if (::inet_ntop(family == kFamilyInet ? AF_INET : AF_INET6, bytes.data(), text.data(), text.size()) == nullptr) {
    return {};
  }
  return std::string(text.data());
}

std::string_view tcp_state_name(unsigned state) noexcept {
  static constexpr std::array<std::string_view, 13> kNames{
      "UNKNOWN",   "ESTABLISHED", "SYN_SENT",   "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",
      "CLOSED",    "CLOSE_WAIT",  "LAST_ACK",   "LISTEN",   "CLOSING",   "UNKNOWN"};
  return state < kNames.size() ? kNames[state] : kNames[0];
}

std::expected<SocketEntry, Error> parse_inet_line(std::string_view line, int family, int protocol) {
  SocketEntry e;
  e.family = family;
  e.protocol = protocol;
  std::string_view rest = line;
  const std::string_view sl = next_field(rest);
  if (sl.empty() || sl.back() != ':') return std::unexpected(bad("sl", sl));
  const std::string_view local = next_field(rest);
  if (!split_endpoint(local, family, e.local_address, e.local_port)) return std::unexpected(bad("local_address", local));
  const std::string_view remote = next_field(rest);
  if (!split_endpoint(remote, family, e.remote_address, e.remote_port)) {
    return std::unexpected(bad("rem_address", remote));
  }
  const std::string_view st = next_field(rest);
  unsigned state = 0;
  if (!hex_number(st, state)) return std::unexpected(bad("st", st));
  if (protocol == kProtocolTcp) e.state = tcp_state_name(state);
  // tx_queue:rx_queue tr:tm->when retrnsmt uid timeout, then the inode.
  for (int i = 0; i < 5; ++i) {
    if (next_field(rest).empty()) return std::unexpected(bad("line too short", line));
  }
  const std::string_view inode = next_field(rest);
  if (!dec_number(inode, e.inode)) return std::unexpected(bad("inode", inode));
  return e;
}

std::expected<SocketEntry, Error> parse_unix_line(std::string_view line) {
  SocketEntry e;
  e.family = kFamilyUnix;
  std::string_view rest = line;
  const std::string_view num = next_field(rest);
  if (num.empty() || num.back() != ':') return std::unexpected(bad("Num", num));
  if (next_field(rest).empty()) return std::unexpected(bad("line too short", line));  // RefCount
  const std::string_view proto = next_field(rest);
  unsigned p = 0;
  if (!hex_number(proto, p)) return std::unexpected(bad("Protocol", proto));
  e.protocol = static_cast<int>(p);
  for (int i = 0; i < 3; ++i) {  // Flags Type St
    if (next_field(rest).empty()) return std::unexpected(bad("line too short", line));
  }
  const std::string_view inode = next_field(rest);
  if (!dec_number(inode, e.inode)) return std::unexpected(bad("Inode", inode));
  // The path is the rest of the line, spaces included.
  while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
  e.path.assign(rest);
  return e;
}

ParsedTable parse_net_table(std::string_view text, const NetTable& table, std::size_t max_entries,
                            std::unordered_map<std::uint64_t, SocketEntry>& out) {
  ParsedTable r;
  bool header = true;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) {  // cut by the byte bound: incomplete
      if (!header) ++r.skipped;
      break;
    }
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    auto e = table.family == kFamilyUnix ? parse_unix_line(line) : parse_inet_line(line, table.family, table.protocol);
    if (!e || e->inode == 0) {  // inode 0: a socket being torn down, owned by no fd
      ++r.skipped;
      continue;
    }
    if (auto it = out.find(e->inode); it != out.end()) {
      // Two lines, one inode: one of them was planted through a socket's
      // name. Neither path can be trusted.
      ++r.ambiguous;
      it->second.path.clear();
      continue;
    }
    // Truncated only by an entry that finds no room (osl_net_*_fuzz checks
    // it): a bad line or a duplicate after the last entry is no more.
    if (r.entries == max_entries) {
      r.truncated = true;
      break;
    }
    out.emplace(e->inode, std::move(*e));
    ++r.entries;
  }
  return r;
}

std::uint64_t socket_inode_of_link(std::string_view link) noexcept {
  constexpr std::string_view kPrefix = "socket:[";
  if (!link.starts_with(kPrefix) || !link.ends_with(']')) return 0;
  link.remove_prefix(kPrefix.size());
  link.remove_suffix(1);
  std::uint64_t inode = 0;
  return dec_number(link, inode) ? inode : 0;
}

std::expected<void, Error> Reader::socket_fds(const Process& p, std::vector<SocketFd>& out, std::size_t max_fds,
                                              bool* truncated, std::size_t* seen_out) {
  out.clear();
  if (truncated) *truncated = false;
  if (seen_out) *seen_out = 0;
  UniqueFd dir(::openat(p.dir_fd(), "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!dir) return std::unexpected(io_error(errno, p.pid(), "fd"));
  std::size_t seen = 0;
  std::array<char, 64> link{};  // "socket:[18446744073709551615]" and then some
  for (;;) {
    const ssize_t n = ::getdents64(dir.get(), dents_.data(), dents_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error(errno, p.pid(), "fd"));
    }
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      const char* rec = dents_.data() + off;
      unsigned short reclen = 0;
      std::memcpy(&reclen, rec + offsetof(struct dirent64, d_reclen), sizeof reclen);
      const char* name = rec + offsetof(struct dirent64, d_name);
      off += reclen;
      std::int32_t fd = -1;
      if (!dec_number(std::string_view(name), fd)) continue;  // "." and ".."
      if (seen == max_fds) {
        if (truncated) *truncated = true;
        if (seen_out) *seen_out = seen;
        std::ranges::sort(out, {}, &SocketFd::fd);
        return {};
      }
      ++seen;
      if (seen_out) *seen_out = seen;
      // A link longer than the buffer is no socket (the kernel's text for a
      // socket is short), and an fd closed meanwhile is simply not there.
      const ssize_t len = ::readlinkat(dir.get(), name, link.data(), link.size());
      if (len <= 0 || static_cast<std::size_t>(len) == link.size()) continue;
      if (const auto inode = socket_inode_of_link(std::string_view(link.data(), static_cast<std::size_t>(len)))) {
        out.push_back(SocketFd{fd, inode});
      }
    }
  }
  std::ranges::sort(out, {}, &SocketFd::fd);
  return {};
}

std::expected<std::uint64_t, Error> Reader::net_namespace(const Process& p) {
  struct ::stat st{};
  if (::fstatat(p.dir_fd(), "ns/net", &st, 0) != 0) return std::unexpected(io_error(errno, p.pid(), "ns/net"));
  return static_cast<std::uint64_t>(st.st_ino);
}

std::expected<std::string_view, Error> Reader::net_table(const Process& p, const char* name, std::size_t max,
                                                         bool* truncated) {
  const std::string path = fmt::format("net/{}", name);
  return read_file(p.dir_fd(), path.c_str(), p.pid(), max, truncated, /*until_eof=*/true);
}

void SocketSnapshot::begin() {
  namespaces_.clear();
  pending_.clear();
  stats_ = {};
  rows_ = 0;
  fds_seen_ = 0;
}

SocketSnapshot::Kind SocketSnapshot::kind_of(int proc_dir_fd, std::int32_t fd) {
  // No getxattrat before Linux 6.13: the path goes through this process's
  // own fd of /proc/PID.
  const std::string path = fmt::format("/proc/self/fd/{}/fd/{}", proc_dir_fd, fd);
  std::array<char, 32> name{};
  const ssize_t n = ::getxattr(path.c_str(), "system.sockprotoname", name.data(), name.size() - 1);
  if (n <= 0) return Kind::unknown;
  const std::string_view v(name.data(), ::strnlen(name.data(), static_cast<std::size_t>(n)));
  if (v == "TCP" || v == "TCPv6") return Kind::tcp;
  if (v == "UDP" || v == "UDPv6") return Kind::udp;
  if (v.starts_with("UNIX")) return Kind::local;
  return Kind::other;  // netlink, packet, raw, UDP-Lite, ...: in none of the tables read
}

const SocketEntry* SocketSnapshot::find(const Tables& t, std::uint64_t inode, Kind kind) {
  if (kind != Kind::local) {
    if (auto it = t.inet.find(inode); it != t.inet.end()) {
      const SocketEntry& e = it->second;
      if (kind == Kind::unknown || (kind == Kind::tcp) == (e.protocol == kProtocolTcp)) return &e;
      return nullptr;
    }
    if (kind != Kind::unknown) return nullptr;
  }
  if (auto it = t.local.find(inode); it != t.local.end()) return &it->second;
  return nullptr;
}

bool SocketSnapshot::budget_spent() const noexcept {
  return rows_ + pending_.size() >= limits_.max_rows || fds_seen_ >= limits_.max_fds_total;
}

const SocketSnapshot::Tables* SocketSnapshot::tables_of(Reader& reader, const Process& p, std::uint64_t ns) {
  if (auto it = namespaces_.find(ns); it != namespaces_.end()) return &it->second;
  // Lines are under 200 bytes (a unix socket's path at most 108 more): the
  // byte bound keeps a huge table from being read whole.
  const std::size_t max_bytes = limits_.max_entries * 320 + 4096;
  Tables t;
  std::uint32_t capped = 0, ambiguous = 0;
  for (const NetTable& nt : kNetTables) {
    bool cut = false;
    auto text = reader.net_table(p, nt.name, max_bytes, &cut);
    if (!text) {
      // tcp6 and udp6 are missing without IPv6; any other miss is a process
      // that exited or moved meanwhile: nothing of this read is kept.
      if (nt.family == kFamilyInet6 && text.error().category == ErrorCategory::not_found) continue;
      return nullptr;
    }
    const ParsedTable r = parse_net_table(*text, nt, limits_.max_entries, nt.family == kFamilyUnix ? t.local : t.inet);
    if (r.truncated || cut) ++capped;
    ambiguous += static_cast<std::uint32_t>(r.ambiguous);
  }
  // Tables read through a process that exited, or entered another
  // namespace, halfway are not this namespace's: kept only when ns/net
  // still names it (an exited process's ns/net no longer resolves).
  if (auto again = reader.net_namespace(p); !again || *again != ns) return nullptr;
  ++stats_.namespaces;
  stats_.tables_capped += capped;
  stats_.ambiguous += ambiguous;
  return &namespaces_.emplace(ns, std::move(t)).first->second;
}

void SocketSnapshot::read(Reader& reader, const Process& p, std::vector<OpenSocket>& out) {
  const std::size_t hard_cap = limits_.max_rows + limits_.max_low_rows;
  if (rows_ + pending_.size() >= hard_cap) {
    ++stats_.truncated;
    return;
  }
  bool capped = false;
  const bool low_only = budget_spent();
  // Before the budget is spent a process may take it all (its fds 0-2,
  // first in fd order, included), not the reserve for the others' fds 0-2.
  const std::size_t row_cap = low_only ? hard_cap : limits_.max_rows;
  if (low_only) {
    // Past the budget: a shell's stdin, stdout and stderr, nothing else.
    ++stats_.truncated;
    fds_.clear();
    std::array<char, 64> link{};
    for (std::int32_t fd = 0; fd < 3; ++fd) {
      const std::string name = fmt::format("fd/{}", fd);
      const ssize_t len = ::readlinkat(p.dir_fd(), name.c_str(), link.data(), link.size());
      if (len <= 0 || static_cast<std::size_t>(len) == link.size()) continue;
      if (const auto inode = socket_inode_of_link(std::string_view(link.data(), static_cast<std::size_t>(len)))) {
        fds_.push_back(SocketFd{fd, inode});
      }
    }
  } else {
    const std::size_t left = limits_.max_fds_total - fds_seen_;
    const std::size_t max_fds = std::min(limits_.max_fds, left);
    std::size_t seen = 0;
    if (auto r = reader.socket_fds(p, fds_, max_fds, &capped, &seen); !r) {
      if (r.error().category != ErrorCategory::not_found) ++stats_.unreadable;
      return;
    }
    fds_seen_ += seen;
    if (capped) {
      if (max_fds < limits_.max_fds) ++stats_.truncated;
      else ++stats_.fds_capped;
    }
  }
  if (fds_.empty()) return;
  auto ns = reader.net_namespace(p);
  if (!ns) {
    if (ns.error().category != ErrorCategory::not_found) ++stats_.unreadable;
    return;
  }
  const Tables* tables = tables_of(reader, p, *ns);
  for (const SocketFd& f : fds_) {
    if (rows_ + pending_.size() >= row_cap) {
      if (!low_only) ++stats_.truncated;  // counted above otherwise
      break;
    }
    const Kind kind = kind_of(p.dir_fd(), f.fd);
    if (kind == Kind::other) {
      ++stats_.unmatched;
      continue;
    }
    const SocketEntry* e = tables ? find(*tables, f.inode, kind) : nullptr;
    if (e == nullptr) {
      pending_.push_back(Pending{p.pid(), f.fd, *ns, f.inode, kind});
      continue;
    }
    out.push_back(OpenSocket{.pid = p.pid(), .fd = f.fd, .net_namespace = *ns, .entry = *e});
    ++rows_;
  }
}

void SocketSnapshot::finish(Reader& reader, std::vector<OpenSocket>& out) {
  if (!pending_.empty()) {
    // The host namespace's tables, through this process, if no process
    // read so far was in it.
    if (auto self = reader.open_process(::getpid())) {
      if (auto ns = reader.net_namespace(*self)) (void)tables_of(reader, *self, *ns);
    }
    for (const Pending& q : pending_) {
      // Its own namespace too: its tables may have been read after it (this
      // process exited halfway through reading them, another did not).
      const SocketEntry* e = nullptr;
      std::uint64_t where = 0;
      for (const auto& [ns, t] : namespaces_) {
        if ((e = find(t, q.inode, q.kind)) != nullptr) {
          where = ns;
          break;
        }
      }
      if (e == nullptr) {
        ++stats_.unmatched;
        continue;
      }
      if (where != q.net_namespace) ++stats_.other_namespace;
      out.push_back(OpenSocket{.pid = q.pid, .fd = q.fd, .net_namespace = q.net_namespace, .entry = *e});
      ++rows_;
    }
    pending_.clear();
    std::ranges::sort(out, [](const OpenSocket& a, const OpenSocket& b) {
      return a.pid != b.pid ? a.pid < b.pid : a.fd < b.fd;
    });
  }
  stats_.rows = static_cast<std::uint32_t>(rows_);
}

}  // namespace airssys::osl::proc
