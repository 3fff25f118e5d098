#include <airssys/testing/socket.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

namespace airssys::testing {

Socket::~Socket() { reset(); }

void Socket::reset() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

Socket::Socket(Socket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

Socket bound_unix_datagram(const std::filesystem::path& path) {
  Socket s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  const std::string p = path.string();
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (!s || p.size() >= sizeof a.sun_path) return {};
  std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  return s;
}

Socket bound_loopback(int type) {
  Socket s(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (!s) return {};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return {};
  if (type == SOCK_STREAM && ::listen(s.get(), 4) != 0) return {};
  return s;
}

std::uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

Socket accept_one(int listener) { return Socket(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC)); }

std::string receive(int fd, std::chrono::milliseconds limit) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return {};
  std::string buf(65536, '\0');
  const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
  buf.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
  return buf;
}

}  // namespace airssys::testing
