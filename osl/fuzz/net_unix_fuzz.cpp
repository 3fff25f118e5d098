// libFuzzer target for the /proc/net/unix parsers of osl::proc sockets
// (parse_unix_line, parse_net_table): any bytes, read as the unix table,
// whose last column is a socket's name printed raw by the kernel, newlines
// included. Beyond "no crash, no sanitizer report" (net_table_checks.hpp
// for the table, and so a planted line): every line accepted is AF_UNIX
// with no address, port or state, its path is the line's rest without the
// blanks before it (no newline, never longer than the line); written back
// as the kernel prints it the line parses to the same entry, and its inode
// reads back through a "socket:[N]" fd link.

#include <airssys/osl/proc_sockets.hpp>

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "net_table_checks.hpp"

namespace {

using namespace airssys::osl::proc;
using fuzz::check;

void check_line(std::string_view line) {
  const auto e = parse_unix_line(line);
  if (!e) {
    check(!e.error().message.empty() && e.error().message.size() < 200);
    return;
  }
  check(e->family == kFamilyUnix && e->local_address.empty() && e->remote_address.empty());
  check(e->local_port == 0 && e->remote_port == 0 && e->state.empty());
  check(e->path.size() <= line.size() && e->path.find('\n') == std::string::npos);
  check(line.ends_with(e->path));
  check(e->path.empty() || (e->path.front() != ' ' && e->path.front() != '\t'));
  std::string again = fmt::format("0000000000000000: 00000002 {:08X} 00010000 0001 01 {}",
                                  static_cast<unsigned>(e->protocol), e->inode);
  if (!e->path.empty()) again += " " + e->path;
  const auto back = parse_unix_line(again);
  check(back && *back == *e);
  check(socket_inode_of_link(fmt::format("socket:[{}]", e->inode)) == e->inode);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const NetTable& unix_table = kNetTables[4];
  check(unix_table.family == kFamilyUnix);
  for (const std::string_view line : fuzz::data_lines(text).complete) check_line(line);
  fuzz::check_table(text, unix_table, 3);
  fuzz::check_table(text, unix_table, 1 << 20);
  return 0;
}
