// format_process_table: alignment, units, width cut, hostile names.

#include <airssys/daemoneye/process_table.hpp>

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace airssys::daemoneye {
namespace {

ProcessRecord rec(std::int64_t pid, std::string name, std::string cmdline, std::string user = "root") {
  ProcessRecord r;
  r.pid = pid;
  r.parent = 1;
  r.uid = 0;
  r.username = std::move(user);
  r.state = "S";
  r.cpu_percent = 12.345;
  r.resident_size = 12 * 1024 * 1024 + 400 * 1024;
  r.name = std::move(name);
  r.cmdline = std::move(cmdline);
  return r;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

TEST(ProcessTable, HeaderAndAlignedRows) {
  const std::vector<ProcessRecord> ps{rec(1, "systemd", "/sbin/init splash"), rec(4242, "kworker/0:1", "")};
  const auto l = lines(format_process_table(ps));
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0], "    PID  PARENT USER     S  CPU%    RSS NAME            CMDLINE");
  EXPECT_EQ(l[1], "      1       1 root     S  12.3    12M systemd         /sbin/init splash");
  EXPECT_EQ(l[2], "   4242       1 root     S  12.3    12M kworker/0:1     [kworker/0:1]");
}

TEST(ProcessTable, CutToWidthAndUnknownUser) {
  auto r = rec(7, "sleep", "sleep " + std::string(500, '9'), "");
  r.uid = 1234;
  const auto l = lines(format_process_table(std::vector<ProcessRecord>{r}, 80));
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[1].size(), 80u);
  EXPECT_TRUE(l[1].starts_with("      7       1 1234     S"));
  auto long_user = rec(8, "x", "x", "averyveryverylongname");
  EXPECT_NE(format_process_table(std::vector<ProcessRecord>{long_user}).find(" averyve+ "), std::string::npos);
}

TEST(ProcessTable, ControlBytesCannotReachTheTerminal) {
  const auto r = rec(9, "\x1b]0;pwn\x07", "evil \x1b[2J\x1b[H\r\n--x", "u\x1b");
  const std::string t = format_process_table(std::vector<ProcessRecord>{r});
  const auto l = lines(t);
  ASSERT_EQ(l.size(), 2u);  // no injected newline
  EXPECT_EQ(t.find('\x1b'), std::string::npos);
  EXPECT_EQ(t.find('\r'), std::string::npos);
  EXPECT_NE(l[1].find("evil ?[2J?[H?" "?--x"), std::string::npos);
}

TEST(ProcessTable, HumanBytes) {
  EXPECT_EQ(human_bytes(-1), "-");
  EXPECT_EQ(human_bytes(0), "0");
  EXPECT_EQ(human_bytes(1023), "1023");
  EXPECT_EQ(human_bytes(1536), "1.5K");
  EXPECT_EQ(human_bytes(12'000'000), "11M");
  EXPECT_EQ(human_bytes(3ll * 1024 * 1024 * 1024), "3.0G");
}

}  // namespace
}  // namespace airssys::daemoneye
