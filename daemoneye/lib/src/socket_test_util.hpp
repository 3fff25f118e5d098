#pragma once
// One process_open_sockets row built in one line, for the tests of the code
// that carries socket rows (snapshot chunks, the store's socket table, the
// bundled rules).

#include <airssys/osl/proc_sockets.hpp>

#include <cstdint>
#include <string>
#include <utility>

namespace airssys::daemoneye::test {

// A Unix socket of `pid` on `fd` bound to `path` ("@name" for an abstract
// one), in the host's network namespace; its inode differs with `fd`.
inline osl::proc::OpenSocket unix_socket_row(std::int32_t pid, std::int32_t fd, std::string path) {
  osl::proc::OpenSocket s;
  s.pid = pid;
  s.fd = fd;
  s.net_namespace = 4026531840u;
  s.entry.inode = 100000u + static_cast<std::uint64_t>(fd);
  s.entry.family = osl::proc::kFamilyUnix;
  s.entry.path = std::move(path);
  return s;
}

// An inet socket of `pid` on `fd` (family 2 or 10, protocol 6 or 17) from
// 10.0.0.5 or fd00::5, port 40000 + fd, to `remote`:`remote_port`; `state`
// as the TCP table names it ("" for UDP). In the host's network namespace;
// its inode differs with pid and fd, and from every unix_socket_row's
// (those are 100000 + fd).
inline osl::proc::OpenSocket inet_socket_row(std::int32_t pid, std::int32_t fd, int family, int protocol,
                                             std::string remote, int remote_port, std::string state) {
  osl::proc::OpenSocket s;
  s.pid = pid;
  s.fd = fd;
  s.net_namespace = 4026531840u;
  s.entry.inode = 5'000'000'000u + static_cast<std::uint64_t>(pid) * 100 + static_cast<std::uint64_t>(fd);
  s.entry.family = family;
  s.entry.protocol = protocol;
  s.entry.local_address = family == osl::proc::kFamilyInet ? "10.0.0.5" : "fd00::5";
  s.entry.local_port = 40000 + fd;
  s.entry.remote_address = std::move(remote);
  s.entry.remote_port = remote_port;
  s.entry.state = std::move(state);
  return s;
}

}  // namespace airssys::daemoneye::test
