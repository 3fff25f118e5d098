// libFuzzer target for the tcp/tcp6/udp/udp6 parsers of osl::proc sockets
// (parse_inet_line, parse_net_table): any bytes, read as each of the four
// tables. Beyond "no crash, no sanitizer report" (net_table_checks.hpp for
// the table): every line accepted has the table's family and protocol,
// ports 0-65535, addresses inet_pton reads back, a TCP state osquery names
// (UDP none), no path; written back as the kernel prints it (%08X words,
// %04X ports, the inode in decimal) it parses to the same entry, and its
// inode reads back through a "socket:[N]" fd link.

#include <airssys/osl/proc_sockets.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "net_table_checks.hpp"

namespace {

using namespace airssys::osl::proc;
using fuzz::check;

// The kernel's text of an address inet_ntop printed: each 32-bit word as
// the CPU holds it, %08X (decode_address's inverse).
std::string kernel_hex(const std::string& text, int family) {
  std::array<unsigned char, 16> bytes{};
  check(::inet_pton(family == kFamilyInet ? AF_INET : AF_INET6, text.c_str(), bytes.data()) == 1);
  std::string out;
  for (std::size_t w = 0; w < (family == kFamilyInet ? 1u : 4u); ++w) {
    std::uint32_t v = 0;
    std::memcpy(&v, bytes.data() + w * 4, 4);
    out += fmt::format("{:08X}", v);
  }
  return out;
}

unsigned state_number(std::string_view name) {
  for (unsigned s = 0; s < 13; ++s) {
    if (tcp_state_name(s) == name) return s;
  }
  check(false);
  return 0;
}

void check_line(std::string_view line, const NetTable& t) {
  const auto e = parse_inet_line(line, t.family, t.protocol);
  if (!e) {
    check(!e.error().message.empty() && e.error().message.size() < 200);
    return;
  }
  check(e->family == t.family && e->protocol == t.protocol && e->path.empty());
  check(e->local_port >= 0 && e->local_port <= 65535 && e->remote_port >= 0 && e->remote_port <= 65535);
  check(e->local_address.size() < INET6_ADDRSTRLEN && e->remote_address.size() < INET6_ADDRSTRLEN);
  if (t.protocol == kProtocolTcp) {
    check(!e->state.empty());
  } else {
    check(e->state.empty());
  }
  const std::string again =
      fmt::format("{:4}: {}:{:04X} {}:{:04X} {:02X} 00000000:00000000 00:00000000 00000000  1000        0 {} 1 "
                  "0000000000000000 20 4 30 10 -1",
                  0, kernel_hex(e->local_address, t.family), e->local_port, kernel_hex(e->remote_address, t.family),
                  e->remote_port, t.protocol == kProtocolTcp ? state_number(e->state) : 7u, e->inode);
  const auto back = parse_inet_line(again, t.family, t.protocol);
  check(back && *back == *e);
  check(socket_inode_of_link(fmt::format("socket:[{}]", e->inode)) == e->inode);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const fuzz::Lines lines = fuzz::data_lines(text);
  for (const NetTable& t : kNetTables) {
    if (t.family == kFamilyUnix) continue;
    for (const std::string_view line : lines.complete) check_line(line, t);
    fuzz::check_table(text, t, 3);
    fuzz::check_table(text, t, 1 << 20);
  }
  return 0;
}
