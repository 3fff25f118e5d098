#pragma once
// Network operations: TCP and Unix stream sockets, UDP datagram sockets.
//
// Addresses: "HOST:PORT" (IPv4, "[IPv6]:PORT" or a host name, resolved
// before the policy check; every resolved address is checked as "IP:PORT"
// with the alias "HOST:PORT"), or a Unix socket path ("/run/x.sock" or
// "unix:/run/x.sock"), checked as a path.

#include <airssys/osl/error.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace airssys::osl {

namespace detail {
class Core;
class SlotToken;
}  // namespace detail

namespace net {

class Connection;
class Listener;
class DatagramSocket;

struct Connect {
  std::string address{};
  std::chrono::milliseconds timeout{5000};
  using Result = Connection;
};

struct Listen {
  std::string address{};  // "127.0.0.1:0" picks a free port; Unix paths are created 0600
  int backlog = 128;
  using Result = Listener;
};

// UDP socket bound to `bind` ("IP:PORT"; "" = any local port) and, when `peer`
// is set, connected to it: send() goes only there and only its datagrams are
// received. The policy checks both endpoints.
struct Socket {
  std::string bind{};
  std::string peer{};
  using Result = DatagramSocket;
};

// A connected stream socket. Counts against the connection limit until
// destroyed. Not thread-safe.
class Connection {
 public:
  Connection(UniqueFd fd, std::shared_ptr<detail::SlotToken> slot, std::string peer);
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  ~Connection();

  // Reads up to buf.size() bytes; 0 at end of stream. `timeout` nullopt blocks.
  [[nodiscard]] std::expected<std::size_t, Error> read_some(std::span<char> buf,
                                                            std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  [[nodiscard]] std::expected<void, Error> write_all(std::string_view data);
  // Reads until the peer closes or `max_bytes` is reached.
  [[nodiscard]] std::expected<std::string, Error> read_to_end(std::size_t max_bytes = 64ull << 20);
  void shutdown_write() noexcept;
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }
  [[nodiscard]] const std::string& peer() const noexcept { return peer_; }

 private:
  UniqueFd fd_;
  std::shared_ptr<detail::SlotToken> slot_;
  std::string peer_;
};

// A listening socket. accept() hands out Connections, each taking a
// connection slot (waits up to the timeout for one). Not thread-safe.
class Listener {
 public:
  // For a Unix socket, `unix_dir` is the pinned directory holding the socket
  // file `unix_name`; the destructor removes that file only if it is still
  // the one this listener bound (same inode), never by path.
  Listener(UniqueFd fd, std::shared_ptr<detail::Core> core, std::shared_ptr<detail::SlotToken> slot, std::string local,
           UniqueFd unix_dir = {}, std::string unix_name = {});
  Listener(Listener&&) noexcept;
  Listener& operator=(Listener&&) noexcept;
  ~Listener();  // removes a Unix socket file it created

  [[nodiscard]] std::expected<Connection, Error> accept(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  [[nodiscard]] const std::string& local_address() const noexcept { return local_; }  // "127.0.0.1:41234" or the path
  [[nodiscard]] std::uint16_t port() const noexcept;  // 0 for Unix sockets
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::shared_ptr<detail::Core> core_;
  std::shared_ptr<detail::SlotToken> slot_;
  std::string local_;
  UniqueFd unix_dir_;
  std::string unix_name_;
  std::uint64_t unix_dev_ = 0, unix_ino_ = 0;
};

class DatagramSocket {
 public:
  DatagramSocket(UniqueFd fd, std::shared_ptr<detail::SlotToken> slot, std::string local);
  DatagramSocket(DatagramSocket&&) noexcept;
  DatagramSocket& operator=(DatagramSocket&&) noexcept;
  ~DatagramSocket();

  // Requires a connected socket (Socket::peer set).
  [[nodiscard]] std::expected<void, Error> send(std::string_view datagram);
  // Receives one datagram (truncated to max_bytes).
  [[nodiscard]] std::expected<std::string, Error> receive(std::optional<std::chrono::milliseconds> timeout = std::nullopt,
                                                          std::size_t max_bytes = 65536);
  [[nodiscard]] const std::string& local_address() const noexcept { return local_; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  [[nodiscard]] int fd() const noexcept { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::shared_ptr<detail::SlotToken> slot_;
  std::string local_;
};

}  // namespace net
}  // namespace airssys::osl
