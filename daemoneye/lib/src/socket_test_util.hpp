#pragma once
// One process_open_sockets row built in one line, for the tests of the code
// that carries socket rows (snapshot chunks, the store's socket table).

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

}  // namespace airssys::daemoneye::test
