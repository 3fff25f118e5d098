// Connection, Listener and DatagramSocket: thin RAII wrappers over a socket.

#include <airssys/osl/net.hpp>

#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

#include "core/core.hpp"
#include "net/address.hpp"

namespace airssys::osl::net {

namespace {
std::expected<void, Error> wait_readable(int fd, std::optional<std::chrono::milliseconds> timeout) {
  if (!timeout) return {};
  pollfd p{fd, POLLIN, 0};
  int r;
  do {
    r = ::poll(&p, 1, static_cast<int>(timeout->count()));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return std::unexpected(Error::from_errno(errno, "poll"));
  if (r == 0) return std::unexpected(Error{ErrorCategory::timeout, ETIMEDOUT, 0, fmt::format("nothing arrived within {} ms", timeout->count())});
  return {};
}

std::uint16_t port_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}
}  // namespace

// peer_ and local_ hold a Unix socket's path as given (peer() and local()
// return it so); messages show it with detail::shown_path, as net_ops does.
Connection::Connection(UniqueFd fd, std::shared_ptr<detail::SlotToken> slot, std::string peer)
    : fd_(std::move(fd)), slot_(std::move(slot)), peer_(std::move(peer)) {}
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

std::expected<std::size_t, Error> Connection::read_some(std::span<char> buf, std::optional<std::chrono::milliseconds> timeout) {
  if (auto r = wait_readable(fd_.get(), timeout); !r) return std::unexpected(r.error());
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) return std::unexpected(Error::from_errno(errno, fmt::format("reading from {}", detail::shown_path(peer_))));
  }
}

std::expected<void, Error> Connection::write_all(std::string_view data) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::from_errno(errno, fmt::format("writing to {}", detail::shown_path(peer_))));
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

std::expected<std::string, Error> Connection::read_to_end(std::size_t max_bytes) {
  std::string out;
  char buf[16384];
  for (;;) {
    auto n = read_some(buf);
    if (!n) return std::unexpected(n.error());
    if (*n == 0) return out;
    if (out.size() + *n > max_bytes) {
      return std::unexpected(Error::make(ErrorCategory::resource_exhausted, fmt::format("{} sent more than {} bytes", detail::shown_path(peer_), max_bytes)));
    }
    out.append(buf, *n);
  }
}

void Connection::shutdown_write() noexcept { ::shutdown(fd_.get(), SHUT_WR); }

Listener::Listener(UniqueFd fd, std::shared_ptr<detail::Core> core, std::shared_ptr<detail::SlotToken> slot,
                   std::string local, UniqueFd unix_dir, std::string unix_name)
    : fd_(std::move(fd)),
      core_(std::move(core)),
      slot_(std::move(slot)),
      local_(std::move(local)),
      unix_dir_(std::move(unix_dir)),
      unix_name_(std::move(unix_name)) {
  struct stat st {};
  if (unix_dir_ && ::fstatat(unix_dir_.get(), unix_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    unix_dev_ = st.st_dev;
    unix_ino_ = st.st_ino;
  }
}
Listener::Listener(Listener&&) noexcept = default;
Listener& Listener::operator=(Listener&&) noexcept = default;
Listener::~Listener() {
  if (!fd_ || !unix_dir_ || unix_ino_ == 0) return;
  struct stat st {};
  if (::fstatat(unix_dir_.get(), unix_name_.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_dev == unix_dev_ && st.st_ino == unix_ino_) {
    ::unlinkat(unix_dir_.get(), unix_name_.c_str(), 0);
  }
}

std::expected<Connection, Error> Listener::accept(std::optional<std::chrono::milliseconds> timeout) {
  if (auto r = wait_readable(fd_.get(), timeout); !r) return std::unexpected(r.error());
  auto slot = core_->connections().acquire(core_->limits().wait);
  if (!slot) return std::unexpected(slot.error());
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  int fd;
  do {
    fd = ::accept4(fd_.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return std::unexpected(Error::from_errno(errno, fmt::format("accept on {}", detail::shown_path(local_))));
  const std::string peer = ss.ss_family == AF_UNIX ? local_ : detail::endpoint_text(reinterpret_cast<sockaddr*>(&ss));
  return Connection(UniqueFd(fd), std::make_shared<detail::SlotToken>(std::move(*slot)), peer);
}

std::uint16_t Listener::port() const noexcept { return unix_dir_ ? 0 : port_of(fd_.get()); }

DatagramSocket::DatagramSocket(UniqueFd fd, std::shared_ptr<detail::SlotToken> slot, std::string local)
    : fd_(std::move(fd)), slot_(std::move(slot)), local_(std::move(local)) {}
DatagramSocket::DatagramSocket(DatagramSocket&&) noexcept = default;
DatagramSocket& DatagramSocket::operator=(DatagramSocket&&) noexcept = default;
DatagramSocket::~DatagramSocket() = default;

std::expected<void, Error> DatagramSocket::send(std::string_view datagram) {
  for (;;) {
    const ssize_t n = ::send(fd_.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL);
    if (n >= 0) return {};
    if (errno == EINTR) continue;
    if (errno == EDESTADDRREQ) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument, "socket has no peer: set net::Socket::peer"));
    }
    return std::unexpected(Error::from_errno(errno, "sending datagram"));
  }
}

std::expected<std::string, Error> DatagramSocket::receive(std::optional<std::chrono::milliseconds> timeout, std::size_t max_bytes) {
  if (auto r = wait_readable(fd_.get(), timeout); !r) return std::unexpected(r.error());
  std::string buf(max_bytes, '\0');
  for (;;) {
    const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
    if (n >= 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (errno != EINTR) return std::unexpected(Error::from_errno(errno, "receiving datagram"));
  }
}

std::uint16_t DatagramSocket::port() const noexcept { return port_of(fd_.get()); }

}  // namespace airssys::osl::net
