// net.connect / net.listen / net.socket: parse, resolve, ask the policy, act.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

#include "core/core.hpp"
#include "fs/fs_ops.hpp"
#include "fs/path_resolver.hpp"
#include "net/address.hpp"

namespace airssys::osl {

namespace {

using detail::Check;
using detail::Endpoint;
using detail::Request;

struct NetTarget {
  std::optional<detail::ParsedAddress> parsed;
  std::vector<Endpoint> endpoints;  // TCP/UDP
  detail::Resolution unix_path;     // Unix sockets
  std::optional<Error> error;
};

NetTarget prepare(std::string_view address, int socktype, detail::FollowFinal follow) {
  NetTarget t;
  auto parsed = detail::parse_address(address);
  if (!parsed) {
    t.error = parsed.error();
    return t;
  }
  t.parsed = *parsed;
  if (parsed->is_unix) {
    t.unix_path = detail::resolve_path(parsed->unix_path, follow);
    t.error = t.unix_path.error;
    return t;
  }
  auto eps = detail::resolve_endpoints(*parsed, socktype);
  if (!eps) {
    t.error = eps.error();
    return t;
  }
  t.endpoints = std::move(*eps);
  return t;
}

// A host name may resolve to several addresses: keep those the policy allows
// (if none, keep all so the decision names them).
void keep_allowed(const Policy& policy, std::string_view principal, OpKind kind, std::vector<Endpoint>& eps) {
  std::vector<Endpoint> allowed;
  for (auto& e : eps) {
    const ResourceRef ref{e.name, e.alias};
    if (policy.decide(principal, kind, std::span(&ref, 1)).allowed) allowed.push_back(e);
  }
  if (!allowed.empty()) eps = std::move(allowed);
}

void add_check(Request& req, OpKind kind, const NetTarget& t, const std::string& raw) {
  Check c{kind, {}, {}};
  if (t.parsed && t.parsed->is_unix) {
    c.names.push_back(t.unix_path.resolved.path);
    c.aliases.emplace_back();
  } else if (!t.endpoints.empty()) {
    for (const auto& e : t.endpoints) {
      c.names.push_back(e.name);
      c.aliases.push_back(e.alias);
    }
  } else {
    c.names.push_back(raw);
    c.aliases.emplace_back();
  }
  req.checks.push_back(std::move(c));
  // A bad address or an unknown host cannot be checked against the policy:
  // refuse it as malformed. A Unix path that fails to resolve is only
  // reported if the policy allows the path.
  const bool unix_target = t.parsed && t.parsed->is_unix && !t.unix_path.malformed;
  auto& slot = unix_target ? req.pre_error : req.invalid;
  if (t.error && !slot) slot = t.error;
}

// sockaddr_un for a pinned path: /proc/self/fd/N/NAME reaches the checked
// directory even if a symlink was swapped into the path meanwhile. Here and
// below, a Unix socket's path (the caller's text) is shown in messages with
// detail::shown_path, as the fs layer shows its paths.
std::expected<std::pair<sockaddr_un, socklen_t>, Error> proc_fd_addr(const std::string& via, const std::string& what) {
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  if (via.size() >= sizeof sun.sun_path) {
    return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                       fmt::format("{}: socket address too long ({} bytes via {}; the limit is {})",
                                                   detail::shown_path(what), via.size(), detail::shown_path(via),
                                                   sizeof sun.sun_path - 1)));
  }
  std::memcpy(sun.sun_path, via.c_str(), via.size() + 1);
  return std::pair{sun, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + via.size() + 1)};
}

std::expected<std::pair<sockaddr_un, socklen_t>, Error> unix_addr(const detail::ResolvedPath& p) {
  return proc_fd_addr(fmt::format("/proc/self/fd/{}/{}", p.parent.get(), p.name), p.path);
}

std::expected<void, Error> wait_connected(int fd, std::chrono::milliseconds timeout, const std::string& what) {
  pollfd p{fd, POLLOUT, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  } while (r < 0 && errno == EINTR);
  if (r == 0) {
    return std::unexpected(Error{ErrorCategory::timeout, ETIMEDOUT, 0,
                                 fmt::format("connecting to {}: no answer within {} ms", detail::shown_path(what), timeout.count())});
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (r < 0) err = errno;
  if (err != 0) return std::unexpected(Error::from_errno(err, fmt::format("connecting to {}", detail::shown_path(what))));
  return {};
}

std::expected<UniqueFd, Error> connect_one(int family, const sockaddr* sa, socklen_t len,
                                           std::chrono::milliseconds timeout, const std::string& what) {
  const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, "socket"));
  UniqueFd sock(fd);
  if (::connect(fd, sa, len) != 0) {
    if (errno != EINPROGRESS && errno != EAGAIN) {
      return std::unexpected(Error::from_errno(errno, fmt::format("connecting to {}", detail::shown_path(what))));
    }
    if (auto r = wait_connected(fd, timeout, what); !r) return std::unexpected(r.error());
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  if (family != AF_UNIX) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return sock;
}

std::shared_ptr<detail::SlotToken> share(detail::SlotToken t) {
  return std::make_shared<detail::SlotToken>(std::move(t));
}

}  // namespace

std::expected<net::Connection, Error> System::run(std::string_view principal, const net::Connect& op) {
  NetTarget t = prepare(op.address, SOCK_STREAM, detail::FollowFinal::yes);
  if (!t.endpoints.empty()) keep_allowed(core_->policy(), principal, OpKind::net_connect, t.endpoints);
  Request req{.kind = OpKind::net_connect};
  add_check(req, OpKind::net_connect, t, op.address);
  return core_->pipeline<net::Connection>(principal, std::move(req), [&](std::uint64_t) -> std::expected<net::Connection, Error> {
    auto slot = core_->connections().acquire(core_->limits().wait);
    if (!slot) return std::unexpected(slot.error());
    if (t.parsed->is_unix) {
      // connect() follows a symlink in the last component: connect through
      // an O_PATH fd of the checked socket file itself instead.
      auto target = detail::open_beneath(t.unix_path.resolved, O_PATH);
      if (!target) return std::unexpected(target.error());
      auto addr = proc_fd_addr(fmt::format("/proc/self/fd/{}", target->get()), t.unix_path.resolved.path);
      if (!addr) return std::unexpected(addr.error());
      auto fd = connect_one(AF_UNIX, reinterpret_cast<const sockaddr*>(&addr->first), addr->second, op.timeout,
                            t.unix_path.resolved.path);
      if (!fd) return std::unexpected(fd.error());
      return net::Connection(std::move(*fd), share(std::move(*slot)), t.unix_path.resolved.path);
    }
    std::optional<Error> last;
    for (const auto& e : t.endpoints) {
      auto fd = connect_one(e.family, reinterpret_cast<const sockaddr*>(&e.addr), e.len, op.timeout, e.name);
      if (fd) return net::Connection(std::move(*fd), share(std::move(*slot)), e.name);
      last = fd.error();
    }
    return std::unexpected(*last);
  });
}

std::expected<net::Listener, Error> System::run(std::string_view principal, const net::Listen& op) {
  NetTarget t = prepare(op.address, SOCK_STREAM, detail::FollowFinal::no);
  Request req{.kind = OpKind::net_listen};
  add_check(req, OpKind::net_listen, t, op.address);
  if (!t.error && !t.parsed->is_unix && t.endpoints.size() != 1) {
    req.invalid = Error::make(ErrorCategory::invalid_argument,
                                fmt::format("'{}' resolves to {} addresses; listen on one address",
                                            detail::shown_text(op.address, detail::kShownPathMax), t.endpoints.size()));
  }
  return core_->pipeline<net::Listener>(principal, std::move(req), [&](std::uint64_t) -> std::expected<net::Listener, Error> {
    auto slot = core_->connections().acquire(core_->limits().wait);
    if (!slot) return std::unexpected(slot.error());
    const bool is_unix = t.parsed->is_unix;
    const int family = is_unix ? AF_UNIX : t.endpoints.front().family;
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(Error::from_errno(errno, "socket"));
    UniqueFd sock(fd);
    std::string local;
    if (is_unix) {
      // The socket file takes the socket inode's mode at bind: make it 0600.
      ::fchmod(fd, 0600);
      auto addr = unix_addr(t.unix_path.resolved);
      if (!addr) return std::unexpected(addr.error());
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr->first), addr->second) != 0) {
        return std::unexpected(Error::from_errno(errno, fmt::format("binding {}", detail::shown_path(t.unix_path.resolved.path))));
      }
      local = t.unix_path.resolved.path;
    } else {
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      const Endpoint& e = t.endpoints.front();
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0) {
        return std::unexpected(Error::from_errno(errno, fmt::format("binding {}", e.name)));
      }
      sockaddr_storage bound{};
      socklen_t len = sizeof bound;
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      local = detail::endpoint_text(reinterpret_cast<const sockaddr*>(&bound));
    }
    if (::listen(fd, op.backlog) != 0) return std::unexpected(Error::from_errno(errno, fmt::format("listen on {}", detail::shown_path(local))));
    UniqueFd dir;
    if (is_unix) dir.reset(::fcntl(t.unix_path.resolved.parent.get(), F_DUPFD_CLOEXEC, 0));
    return net::Listener(std::move(sock), core_, share(std::move(*slot)), local, std::move(dir),
                         is_unix ? t.unix_path.resolved.name : std::string());
  });
}

std::expected<net::DatagramSocket, Error> System::run(std::string_view principal, const net::Socket& op) {
  NetTarget bind_t, peer_t;
  Request req{.kind = OpKind::net_socket};
  if (!op.bind.empty()) {
    bind_t = prepare(op.bind, SOCK_DGRAM, detail::FollowFinal::no);
    add_check(req, OpKind::net_socket, bind_t, op.bind);
  }
  if (!op.peer.empty()) {
    peer_t = prepare(op.peer, SOCK_DGRAM, detail::FollowFinal::yes);
    if (!peer_t.endpoints.empty()) keep_allowed(core_->policy(), principal, OpKind::net_socket, peer_t.endpoints);
    add_check(req, OpKind::net_socket, peer_t, op.peer);
  }
  if (req.checks.empty()) req.checks.push_back(Check{OpKind::net_socket, {}, {}});
  if ((bind_t.parsed && bind_t.parsed->is_unix) || (peer_t.parsed && peer_t.parsed->is_unix)) {
    req.invalid = Error::make(ErrorCategory::unsupported, "net.socket is UDP only; Unix datagram sockets are not supported");
  }
  return core_->pipeline<net::DatagramSocket>(principal, std::move(req), [&](std::uint64_t) -> std::expected<net::DatagramSocket, Error> {
    auto slot = core_->connections().acquire(core_->limits().wait);
    if (!slot) return std::unexpected(slot.error());
    int family = AF_INET;
    if (!bind_t.endpoints.empty()) family = bind_t.endpoints.front().family;
    else if (!peer_t.endpoints.empty()) family = peer_t.endpoints.front().family;
    const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return std::unexpected(Error::from_errno(errno, "socket"));
    UniqueFd sock(fd);
    if (!bind_t.endpoints.empty()) {
      const Endpoint& e = bind_t.endpoints.front();
      if (::bind(fd, reinterpret_cast<const sockaddr*>(&e.addr), e.len) != 0) {
        return std::unexpected(Error::from_errno(errno, fmt::format("binding {}", e.name)));
      }
    }
    if (!peer_t.endpoints.empty()) {
      const Endpoint* chosen = nullptr;
      for (const auto& e : peer_t.endpoints) {
        if (e.family == family) {
          chosen = &e;
          break;
        }
      }
      if (!chosen) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "peer and bind addresses are of different families"));
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&chosen->addr), chosen->len) != 0) {
        return std::unexpected(Error::from_errno(errno, fmt::format("connecting to {}", chosen->name)));
      }
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    return net::DatagramSocket(std::move(sock), share(std::move(*slot)),
                               detail::endpoint_text(reinterpret_cast<const sockaddr*>(&bound)));
  });
}

}  // namespace airssys::osl
