// The syslog transport (audit_syslog.hpp): unix datagram, UDP, TCP with
// octet counting. Moved here from DaemonEye's alert sink so that both
// programs send syslog the same way.
#include <airssys/osl/audit_syslog.hpp>

#include <netdb.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include <fmt/format.h>

#include "core/file_type.hpp"

namespace airssys::osl::syslog {

namespace {

using Clock = std::chrono::steady_clock;

bool would_block(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

// Waits until `fd` is writable (or has an error to report) or the deadline passes.
bool wait_writable(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    return (p.revents & (POLLOUT | POLLERR | POLLHUP)) != 0;
  }
}

}  // namespace

std::expected<Sender, Error> Sender::open(Address address) {
  Sender s;
  s.address_ = std::move(address);
  if (s.address_.transport == Address::Transport::unix_datagram) {
    // A path that exists but is no socket (a FIFO, a file) can never take a
    // datagram: say so now, not "Connection refused" at every record. A
    // missing path is fine: the collector may start later. stat follows
    // symlinks, as the kernel's connect does (/dev/log often is one).
    if (struct stat st {}; ::stat(s.address_.path.c_str(), &st) == 0 && !S_ISSOCK(st.st_mode)) {
      return std::unexpected(Error::make(
          ErrorCategory::invalid_argument,
          fmt::format("{} is {}, not a unix socket", s.address_.path, ::airssys::osl::detail::file_type_name(st.st_mode))));
    }
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, s.address_.path.data(), std::min(s.address_.path.size(), sizeof sun.sun_path - 1));
    std::memcpy(&s.target_, &sun, sizeof sun);
    s.target_len_ = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + s.address_.path.size() + 1);
    s.family_ = AF_UNIX;
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = s.address_.transport == Address::Transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
    hints.ai_flags = AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const std::string port = std::to_string(s.address_.port);
    if (const int rc = ::getaddrinfo(s.address_.host.c_str(), port.c_str(), &hints, &res); rc != 0 || res == nullptr) {
      return std::unexpected(Error::make(
          ErrorCategory::not_found,
          fmt::format("cannot resolve {}: {}", s.address_.host, rc != 0 ? ::gai_strerror(rc) : "no address")));
    }
    std::memcpy(&s.target_, res->ai_addr, res->ai_addrlen);
    s.target_len_ = res->ai_addrlen;
    s.family_ = res->ai_family;
    ::freeaddrinfo(res);
  }
  if (s.address_.transport != Address::Transport::tcp) {
    s.fd_.reset(::socket(s.family_, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!s.fd_) return std::unexpected(Error::from_errno(errno, "socket"));
    // UDP is connected so that an ICMP "port unreachable" is reported on a later send.
    if (s.address_.transport == Address::Transport::udp &&
        ::connect(s.fd_.get(), reinterpret_cast<const sockaddr*>(&s.target_), s.target_len_) != 0) {
      return std::unexpected(Error::from_errno(errno, "connect"));
    }
  }
  return s;
}

std::expected<void, Error> Sender::send(std::string_view message, Clock::time_point deadline) {
  return address_.transport == Address::Transport::tcp ? send_stream(message, deadline)
                                                       : send_datagram(message, deadline);
}

std::expected<void, Error> Sender::send_datagram(std::string_view message, Clock::time_point deadline) {
  for (;;) {
    const ssize_t n =
        address_.transport == Address::Transport::unix_datagram
            ? ::sendto(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&target_), target_len_)
            : ::send(fd_.get(), message.data(), message.size(), MSG_NOSIGNAL);
    if (n >= 0) return {};
    const int err = errno;
    if (err == EINTR) continue;
    if (would_block(err) && wait_writable(fd_.get(), deadline)) continue;
    if (would_block(err)) {
      return std::unexpected(Error{ErrorCategory::timeout, err, 0, "timed out: the socket stayed full"});
    }
    return std::unexpected(Error::from_errno(err, "send failed"));
  }
}

// A syslog server sends nothing; a readable or hung-up socket means it closed the connection.
bool Sender::peer_closed() const {
  pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

std::expected<void, Error> Sender::connect_stream(Clock::time_point deadline) {
  fd_.reset(::socket(family_, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd_) return std::unexpected(Error::from_errno(errno, "socket"));
  if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&target_), target_len_) == 0) return {};
  if (errno != EINPROGRESS) {
    const int err = errno;
    fd_.reset();
    return std::unexpected(Error::from_errno(err, "connect failed"));
  }
  if (!wait_writable(fd_.get(), deadline)) {
    fd_.reset();
    return std::unexpected(Error::make(ErrorCategory::timeout, "connect timed out"));
  }
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err != 0) {
    fd_.reset();
    return std::unexpected(Error::from_errno(err, "connect failed"));
  }
  return {};
}

std::expected<void, Error> Sender::send_stream(std::string_view message, Clock::time_point deadline) {
  const std::string frame = octet_counted(message);
  // One reconnect per message: the first failure may be a connection the server dropped while idle.
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (fd_ && peer_closed()) fd_.reset();
    if (!fd_) {
      if (auto c = connect_stream(deadline); !c) return c;
    }
    std::size_t sent = 0;
    int err = 0;
    while (sent < frame.size()) {
      const ssize_t n = ::send(fd_.get(), frame.data() + sent, frame.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
        continue;
      }
      err = n < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (would_block(err) && wait_writable(fd_.get(), deadline)) continue;
      break;
    }
    if (sent == frame.size()) return {};
    fd_.reset();  // the stream is out of step (or dead): start a new connection
    if (would_block(err)) return std::unexpected(Error{ErrorCategory::timeout, err, 0, "timed out sending"});
    if (sent > 0 || attempt == 1) return std::unexpected(Error::from_errno(err, "send failed"));
  }
  return std::unexpected(Error::make(ErrorCategory::io, "send failed"));
}

}  // namespace airssys::osl::syslog
