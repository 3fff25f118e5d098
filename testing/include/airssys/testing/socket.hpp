#pragma once
// Sockets a test binds to receive what the code under test sends, e.g. a
// syslog sink's messages: a unix datagram socket at a path (as /dev/log
// would be), UDP or a listening TCP socket on 127.0.0.1 with an ephemeral
// port. Loopback only; every fd O_CLOEXEC and closed with its Socket.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace airssys::testing {

// Owns one socket fd (-1: none, e.g. when binding failed; errno says why).
class Socket {
 public:
  Socket() = default;
  explicit Socket(int fd) noexcept : fd_(fd) {}
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  [[nodiscard]] int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Closes it now (a peer that hangs up).
  void reset() noexcept;

 private:
  int fd_ = -1;
};

// A unix datagram socket bound at `path` (the path must not exist yet).
[[nodiscard]] Socket bound_unix_datagram(const std::filesystem::path& path);
// SOCK_DGRAM or SOCK_STREAM on 127.0.0.1, ephemeral port; a stream one listens.
[[nodiscard]] Socket bound_loopback(int type);
// The local port of a socket bound_loopback made.
[[nodiscard]] std::uint16_t port_of(int fd);
// The next connection on a listening socket (waits for it).
[[nodiscard]] Socket accept_one(int listener);
// Waits, bounded, for one datagram or for stream bytes on `fd` and returns
// what one recv got; empty when nothing came within `limit` (or the peer
// closed). The limit only ends a hung test; it is not a timing check.
[[nodiscard]] std::string receive(int fd, std::chrono::milliseconds limit = std::chrono::seconds(10));

}  // namespace airssys::testing
