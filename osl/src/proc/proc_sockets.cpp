// osl::proc sockets: the parsers of /proc/net tables, the Reader's socket
// fd, namespace and table reads, and SocketSnapshot (proc_sockets.hpp).

#include <airssys/osl/proc_sockets.hpp>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
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
      "CLOSE",     "CLOSE_WAIT",  "LAST_ACK",   "LISTEN",   "CLOSING",   "NEW_SYN_RECV"};
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
    if (r.entries == max_entries) {
      r.truncated = true;
      break;
    }
    auto e = table.family == kFamilyUnix ? parse_unix_line(line) : parse_inet_line(line, table.family, table.protocol);
    if (!e || e->inode == 0) {  // inode 0: a socket being torn down, owned by no fd
      ++r.skipped;
      continue;
    }
    const std::uint64_t inode = e->inode;
    out.insert_or_assign(inode, std::move(*e));
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
                                              bool* truncated) {
  out.clear();
  if (truncated) *truncated = false;
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
        std::ranges::sort(out, {}, &SocketFd::fd);
        return {};
      }
      ++seen;
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
  stats_ = {};
}

const SocketSnapshot::Table& SocketSnapshot::tables_of(Reader& reader, const Process& p, std::uint64_t ns) {
  auto [it, fresh] = namespaces_.try_emplace(ns);
  if (!fresh) return it->second;
  ++stats_.namespaces;
  // Lines are under 200 bytes (a unix socket's path at most 108 more): the
  // byte bound keeps a huge table from being read whole.
  const std::size_t max_bytes = limits_.max_entries * 320 + 4096;
  std::size_t read = 0;
  for (const NetTable& t : kNetTables) {
    bool cut = false;
    auto text = reader.net_table(p, t.name, max_bytes, &cut);
    if (!text) continue;  // no IPv6 in this kernel, or the process just exited
    ++read;
    const ParsedTable r = parse_net_table(*text, t, limits_.max_entries, it->second);
    if (r.truncated || cut) ++stats_.tables_capped;
  }
  if (read == 0) {
    // Nothing read through this process (it exited meanwhile): the next
    // process in the namespace reads the tables instead.
    namespaces_.erase(it);
    --stats_.namespaces;
    static const Table kNone;
    return kNone;
  }
  return it->second;
}

void SocketSnapshot::read(Reader& reader, const Process& p, std::vector<OpenSocket>& out) {
  bool capped = false;
  if (auto r = reader.socket_fds(p, fds_, limits_.max_fds, &capped); !r) {
    if (r.error().category != ErrorCategory::not_found) ++stats_.unreadable;
    return;
  }
  if (capped) ++stats_.fds_capped;
  if (fds_.empty()) return;
  auto ns = reader.net_namespace(p);
  if (!ns) {
    if (ns.error().category != ErrorCategory::not_found) ++stats_.unreadable;
    return;
  }
  const Table& table = tables_of(reader, p, *ns);
  for (const SocketFd& f : fds_) {
    auto it = table.find(f.inode);
    if (it == table.end()) {
      ++stats_.unmatched;
      continue;
    }
    out.push_back(OpenSocket{.pid = p.pid(), .fd = f.fd, .net_namespace = *ns, .entry = it->second});
  }
}

}  // namespace airssys::osl::proc
