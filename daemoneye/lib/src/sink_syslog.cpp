// The syslog sink: RFC 5424 messages (syslog_message.hpp) over a unix
// datagram socket (/dev/log), UDP, or TCP with RFC 6587 octet counting
// ("LEN SP MSG").
//
// Sockets are non-blocking; one batch gets at most kBatchBudget to send,
// waiting in poll() when a socket is full, so a stuck syslog daemon delays a
// scan by that much at most. What is not sent by then is counted as failed.
// The unix socket is not connected: each message is a sendto(), so a
// restarted syslog daemon (a new /dev/log) is reached without reconnecting.
// TCP connects when it first sends and reconnects when the connection
// fails, when a frame could not be sent whole (the stream would be out of
// step) or when the server has closed it (seen as readable/hung up before a
// batch: a syslog server never sends anything).
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <airssys/osl/unique_fd.hpp>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <fmt/format.h>

#include "alert_sink.hpp"
#include "syslog_message.hpp"

namespace airssys::daemoneye::detail {

namespace {

using osl::UniqueFd;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kBatchBudget{500};

struct Resolved {
  sockaddr_storage addr{};
  socklen_t len = 0;
  int family = AF_UNSPEC;
};

std::expected<Resolved, std::string> resolve(const SyslogAddress& a, int socktype) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(a.port);
  if (const int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res); rc != 0 || res == nullptr) {
    return std::unexpected(fmt::format("cannot resolve {}: {}", a.host, rc != 0 ? ::gai_strerror(rc) : "no address"));
  }
  Resolved out;
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.len = res->ai_addrlen;
  out.family = res->ai_family;
  ::freeaddrinfo(res);
  return out;
}

// Waits until `fd` is writable or the deadline passes.
bool wait_writable(int fd, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLOUT, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    return (p.revents & POLLOUT) != 0 || (p.revents & (POLLERR | POLLHUP)) != 0;
  }
}

class SyslogSink final : public Sink {
 public:
  SyslogSink(const SinkConfig& config, SyslogAddress address, Resolved target, int facility,
             std::shared_ptr<SinkCounters> counters, SinkLog log)
      : address_(std::move(address)),
        target_(target),
        facility_(facility),
        format_(config.format),
        report_(fmt::format("syslog sink {}", config.address), std::move(counters), std::move(log)) {}

  [[nodiscard]] std::expected<void, std::string> open_datagram_socket() {
    const int family = address_.transport == SyslogAddress::Transport::unix_datagram ? AF_UNIX : target_.family;
    fd_.reset(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
    // UDP is connected so that an ICMP "port unreachable" is reported on a later send.
    if (address_.transport == SyslogAddress::Transport::udp &&
        ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&target_.addr), target_.len) != 0) {
      return std::unexpected(fmt::format("connect: {}", std::strerror(errno)));
    }
    return {};
  }

  void deliver(std::span<const Delivery> batch) override {
    const auto deadline = Clock::now() + kBatchBudget;
    const long pid = ::getpid();
    std::uint64_t failed = 0;
    std::string first_error;
    for (const Delivery& d : batch) {
      const std::string msg = format_rfc5424(*d.alert, facility_, pid, render(d, format_));
      auto sent = address_.transport == SyslogAddress::Transport::tcp ? send_tcp(msg, deadline) : send_datagram(msg, deadline);
      if (!sent) {
        ++failed;
        if (first_error.empty()) first_error = sent.error();
      }
    }
    if (failed > 0) report_.failed(first_error, failed);
    else report_.succeeded();
  }

 private:
  std::expected<void, std::string> send_datagram(const std::string& msg, Clock::time_point deadline) {
    for (;;) {
      ssize_t n = 0;
      if (address_.transport == SyslogAddress::Transport::unix_datagram) {
        sockaddr_un sun{};
        sun.sun_family = AF_UNIX;
        std::memcpy(sun.sun_path, address_.path.data(), address_.path.size());
        n = ::sendto(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&sun),
                     static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.path.size() + 1));
      } else {
        n = ::send(fd_.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
      }
      if (n >= 0) return {};
      const int err = errno;
      if (err == EINTR) continue;
      if ((err == EAGAIN || err == EWOULDBLOCK) && wait_writable(fd_.get(), deadline)) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return std::unexpected(std::string("timed out: the socket stayed full"));
      return std::unexpected(fmt::format("send failed: {}", std::strerror(err)));
    }
  }

  // A syslog server sends nothing; a readable or hung-up socket means it closed the connection.
  bool peer_closed() const {
    pollfd p{fd_.get(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  std::expected<void, std::string> connect_tcp(Clock::time_point deadline) {
    fd_.reset(::socket(target_.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd_) return std::unexpected(fmt::format("socket: {}", std::strerror(errno)));
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&target_.addr), target_.len) != 0) {
      if (errno != EINPROGRESS) {
        const int err = errno;
        fd_.reset();
        return std::unexpected(fmt::format("connect failed: {}", std::strerror(err)));
      }
      if (!wait_writable(fd_.get(), deadline)) {
        fd_.reset();
        return std::unexpected(std::string("connect timed out"));
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      if (err != 0) {
        fd_.reset();
        return std::unexpected(fmt::format("connect failed: {}", std::strerror(err)));
      }
    }
    return {};
  }

  std::expected<void, std::string> send_tcp(const std::string& msg, Clock::time_point deadline) {
    const std::string frame = fmt::format("{} {}", msg.size(), msg);
    // One reconnect per message: the first failure may be a connection the server dropped while idle.
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (fd_ && peer_closed()) fd_.reset();
      if (!fd_) {
        if (auto c = connect_tcp(deadline); !c) return c;
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
        if ((err == EAGAIN || err == EWOULDBLOCK) && wait_writable(fd_.get(), deadline)) continue;
        break;
      }
      if (sent == frame.size()) return {};
      fd_.reset();  // the stream is out of step (or dead): start a new connection
      if (sent > 0 || err == EAGAIN || err == EWOULDBLOCK) {
        return std::unexpected(err == EAGAIN || err == EWOULDBLOCK ? std::string("timed out sending")
                                                                   : fmt::format("send failed: {}", std::strerror(err)));
      }
      if (attempt == 1) return std::unexpected(fmt::format("send failed: {}", std::strerror(err)));
    }
    return std::unexpected(std::string("send failed"));
  }

  SyslogAddress address_;
  Resolved target_;
  int facility_;
  SinkFormat format_;
  FailureReporter report_;
  UniqueFd fd_;
};

}  // namespace

std::expected<std::unique_ptr<Sink>, std::string> make_syslog_sink(const SinkConfig& config,
                                                                  std::shared_ptr<SinkCounters> counters, SinkLog log) {
  auto address = parse_syslog_address(config.address);
  if (!address) return std::unexpected("syslog sink: " + address.error());
  const auto facility = syslog_facility_code(config.facility);
  if (!facility) return std::unexpected(fmt::format("syslog sink: unknown facility '{}'", config.facility));
  Resolved target;
  if (address->transport != SyslogAddress::Transport::unix_datagram) {
    auto r = resolve(*address, address->transport == SyslogAddress::Transport::tcp ? SOCK_STREAM : SOCK_DGRAM);
    if (!r) return std::unexpected(fmt::format("syslog sink {}: {}", config.address, r.error()));
    target = *r;
  }
  const bool datagram = address->transport != SyslogAddress::Transport::tcp;
  auto sink = std::make_unique<SyslogSink>(config, std::move(*address), target, *facility, std::move(counters), std::move(log));
  if (datagram) {
    if (auto opened = sink->open_datagram_socket(); !opened) {
      return std::unexpected(fmt::format("syslog sink {}: {}", config.address, opened.error()));
    }
  }
  return sink;
}

}  // namespace airssys::daemoneye::detail
