// format_process_table: alignment, units, width cut, hostile names.

#include <airssys/daemoneye/process_table.hpp>
#include <airssys/daemoneye/terminal_text.hpp>

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
  // C1 controls written as UTF-8 (U+009B CSI, U+009D OSC) act like ESC in
  // xterm-like terminals: they were printed as they were (outside probe,
  // session 11: a process named "c1\xc2\x9b2J"). Other UTF-8 is kept.
  const auto c1 = rec(10, "c1\xc2\x9b" "2J\xc2\x9d" "52;c;x\xc2\x9c", "\xc2\x9b" "31mred \xc3\xa9t\xc3\xa9 \xe2\x80\xae", "u");
  const std::string t1 = format_process_table(std::vector<ProcessRecord>{c1});
  EXPECT_EQ(t1.find("\xc2\x9b"), std::string::npos) << t1;
  EXPECT_EQ(t1.find("\xc2\x9d"), std::string::npos) << t1;
  EXPECT_NE(t1.find("c1?2J?52;c;x?"), std::string::npos) << t1;
  EXPECT_NE(t1.find("?31mred \xc3\xa9t\xc3\xa9"), std::string::npos) << t1;
  EXPECT_EQ(printable("a\xc2\xa0" "b"), "a\xc2\xa0" "b");  // U+00A0 is no control
}

TEST(ProcessTable, BytesThatAreNotUtf8CannotReachTheTerminal) {
  // A bare C1 byte (0x9b is CSI, 0x9d OSC to a terminal taking 8-bit
  // controls) was passed as it was (reviewer, session 11: "\x9b" "2J").
  EXPECT_EQ(printable("\x9b" "2J"), "?2J");
  EXPECT_EQ(printable("a\x9d" "0;t\x9c" "b"), "a?0;t?b");
  // Cut-off, overlong, surrogate, beyond U+10FFFF, 0xf5..0xff: '?' a byte.
  EXPECT_EQ(printable("b\xc2"), "b?");
  EXPECT_EQ(printable("\xe2\x80"), "??");
  EXPECT_EQ(printable("\xc1\x9b"), "??");          // overlong U+005B
  EXPECT_EQ(printable("\xe0\x82\x9b"), "???");     // overlong U+009B
  EXPECT_EQ(printable("\xed\xa0\x80"), "???");     // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "????");  // U+110000
  EXPECT_EQ(printable("\xff\xfe"), "??");
  EXPECT_EQ(printable("\xc2\xc2\x9b"), "??");      // a lead byte without its continuation, then U+009B
  // Valid UTF-8 of every length is kept.
  const std::string text = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbd";
  EXPECT_EQ(printable(text), text);
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
