// osl::proc parsers over literal /proc text: well-formed lines from real
// kernels, hostile comm values, and malformed input with its exact error.

#include <airssys/osl/proc.hpp>

#include <gtest/gtest.h>

#include <string>

namespace airssys::osl::proc {
namespace {

using namespace std::string_literals;

// A real line (kernel 6.x), 52 fields.
constexpr std::string_view kStatLine =
    "7070 (cat) R 7065 7065 3741 34817 -1 4194304 98 0 0 0 12 34 0 0 20 -5 3 0 59183 3133440 385 "
    "18446744073709551615 94754437664768 94754437684649 140728098546720 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 "
    "94754437700656 94754437702272 94754706329600 140728098548167 140728098548187 140728098548187 "
    "140728098549739 0\n";

TEST(ProcParseStat, ReadsEveryFieldItReturns) {
  auto st = parse_stat(kStatLine);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->pid, 7070);
  EXPECT_EQ(st->comm, "cat");
  EXPECT_EQ(st->state, 'R');
  EXPECT_EQ(st->ppid, 7065);
  EXPECT_EQ(st->pgrp, 7065);
  EXPECT_EQ(st->session, 3741);
  EXPECT_EQ(st->tty_nr, 34817u);
  EXPECT_EQ(st->flags, 4194304u);
  EXPECT_EQ(st->utime, 12u);
  EXPECT_EQ(st->stime, 34u);
  EXPECT_EQ(st->priority, 20);
  EXPECT_EQ(st->nice, -5);
  EXPECT_EQ(st->num_threads, 3);
  EXPECT_EQ(st->starttime, 59183u);
  EXPECT_EQ(st->vsize, 3133440u);
  EXPECT_EQ(st->rss, 385);
  EXPECT_FALSE(st->kernel_thread());
  EXPECT_FALSE(st->zombie());
}

struct CommCase {
  const char* name;
  std::string line;
  std::string comm;
};

void PrintTo(const CommCase& c, std::ostream* os) { *os << c.name; }

class ProcParseComm : public ::testing::TestWithParam<CommCase> {};

TEST_P(ProcParseComm, CommEndsAtTheLastParenthesis) {
  const auto& c = GetParam();
  auto st = parse_stat(c.line);
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(st->comm, c.comm);
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->starttime, 777u);
}

#define TAIL " S 1 42 42 0 -1 4194560 1 0 0 0 3 4 0 0 20 0 1 0 777 1000 10"
INSTANTIATE_TEST_SUITE_P(
    All, ProcParseComm,
    ::testing::Values(CommCase{"plain", "42 (sleep)" TAIL, "sleep"},
                      CommCase{"space", "42 (a b)" TAIL, "a b"},
                      CommCase{"paren_space", "42 (a) S 9 9)" TAIL, "a) S 9 9"},
                      CommCase{"only_parens", "42 ())))" TAIL, ")))"},
                      CommCase{"open_paren", "42 (((()" TAIL, "((("},
                      CommCase{"empty", "42 ()" TAIL, ""},
                      CommCase{"newline_in_comm", "42 (a\nb)" TAIL, "a\nb"},
                      CommCase{"kworker", "42 (kworker/0:1-events)" TAIL, "kworker/0:1-events"}));
#undef TAIL

TEST(ProcParseStat, KernelThreadAndZombieFlags) {
  auto k = parse_stat("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0");
  ASSERT_TRUE(k);
  EXPECT_TRUE(k->kernel_thread());
  auto z = parse_stat("9 (x) Z 1 9 9 0 -1 4194564 0 0 0 0 0 0 0 0 20 0 1 0 50 0 0");
  ASSERT_TRUE(z);
  EXPECT_TRUE(z->zombie());
}

struct BadCase {
  const char* name;
  std::string text;
  const char* message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ProcParseStatBad : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProcParseStatBad, IsRefusedWithItsReason) {
  const auto& c = GetParam();
  auto st = parse_stat(c.text);
  ASSERT_FALSE(st) << c.text;
  EXPECT_EQ(st.error().category, ErrorCategory::invalid_argument);
  EXPECT_EQ(st.error().message, c.message);
}

INSTANTIATE_TEST_SUITE_P(
    All, ProcParseStatBad,
    ::testing::Values(BadCase{"empty", "", "stat: no '(comm)' field"},
                      BadCase{"garbage", "garbage", "stat: no '(comm)' field"},
                      BadCase{"no_close", "42 (abc S 1", "stat: no '(comm)' field"},
                      BadCase{"bad_pid", "4x2 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21",
                              "stat: field 1 (pid) is not a pid: '4x2'"},
                      BadCase{"zero_pid", "0 (a) S", "stat: field 1 (pid) is not a pid: '0'"},
                      BadCase{"short", "42 (a) S 1 2 3", "stat: only 6 fields (24 needed)"},
                      BadCase{"long_state", "42 (a) SS 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21",
                              "stat: field 3 is not valid: 'SS'"},
                      BadCase{"bad_ppid", "42 (a) S -x 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21",
                              "stat: field 4 is not valid: '-x'"},
                      BadCase{"negative_utime", "42 (a) S 1 2 3 4 5 6 7 8 9 10 -11 12 13 14 15 16 17 18 19 20 21",
                              "stat: field 14 is not valid: '-11'"},
                      BadCase{"overflow_start",
                              "42 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 99999999999999999999999 20 21",
                              "stat: field 22 is not valid: '99999999999999999999999'"}));

TEST(ProcParseStatus, UidGidThreads) {
  const std::string text =
      "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t10\nPid:\t10\nPPid:\t1\n"
      "Uid:\t1000\t1001\t1002\t1003\nGid:\t2000\t2001\t2002\t2003\nFDSize:\t256\nGroups:\t27 100 \n"
      "Threads:\t7\nSigQ:\t0/1\n";
  auto s = parse_status(text);
  ASSERT_TRUE(s) << s.error().to_string();
  EXPECT_EQ(s->uid.real, 1000u);
  EXPECT_EQ(s->uid.effective, 1001u);
  EXPECT_EQ(s->uid.saved, 1002u);
  EXPECT_EQ(s->uid.fs, 1003u);
  EXPECT_EQ(s->gid.real, 2000u);
  EXPECT_EQ(s->gid.effective, 2001u);
  EXPECT_EQ(s->gid.saved, 2002u);
  EXPECT_EQ(s->gid.fs, 2003u);
  EXPECT_EQ(s->threads, 7);
}

TEST(ProcParseStatus, MissingOrMalformedLines) {
  EXPECT_EQ(parse_status("Gid:\t0\t0\t0\t0\nThreads:\t1\n").error().message, "status: missing Uid");
  EXPECT_EQ(parse_status("Uid:\t0\t0\t0\t0\nThreads:\t1\n").error().message, "status: missing Gid");
  EXPECT_EQ(parse_status("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n").error().message, "status: missing Threads");
  EXPECT_EQ(parse_status("Uid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t1\n").error().message,
            "status: malformed line 'Uid:\t0\t0\t0'");
}

TEST(ProcParseIo, ReadsBytes) {
  auto io = parse_io(
      "rchar: 6976\nwchar: 12\nsyscr: 10\nsyscw: 0\nread_bytes: 4096\nwrite_bytes: 8192\ncancelled_write_bytes: 0\n");
  ASSERT_TRUE(io) << io.error().to_string();
  EXPECT_EQ(io->rchar, 6976u);
  EXPECT_EQ(io->wchar, 12u);
  EXPECT_EQ(io->read_bytes, 4096u);
  EXPECT_EQ(io->write_bytes, 8192u);
  EXPECT_EQ(parse_io("rchar: 1\n").error().message, "io: missing read_bytes or write_bytes");
  EXPECT_EQ(parse_io("read_bytes: x\nwrite_bytes: 1\n").error().message, "io: malformed line 'read_bytes: x'");
}

TEST(ProcParseCgroup, PrefersV2ElseFirstV1) {
  EXPECT_EQ(parse_cgroup_path("0::/user.slice/user-1000.slice/session-2.scope\n"),
            "/user.slice/user-1000.slice/session-2.scope");
  // Hybrid hierarchy: the v2 line wins even when it comes last...
  EXPECT_EQ(parse_cgroup_path("9:name=systemd:/\n4:memory:/process_api/0235\n0::/sys.slice\n"), "/sys.slice");
  // ...unless it is "/" and a v1 controller knows better (the first such).
  EXPECT_EQ(parse_cgroup_path("9:name=systemd:/\n4:memory:/docker/abc\n3:cpuset:/docker/x\n0::/\n"), "/docker/abc");
  EXPECT_EQ(parse_cgroup_path("9:name=systemd:/\n4:memory:/\n0::/\n"), "/");
  // v1 only.
  EXPECT_EQ(parse_cgroup_path("4:memory:/docker/abc\n3:cpuset:/x\n"), "/docker/abc");
  EXPECT_EQ(parse_cgroup_path("4:memory:/\n3:cpuset:/x\n"), "/x");
  EXPECT_EQ(parse_cgroup_path("0::/a:b:c\n"), "/a:b:c");
  EXPECT_EQ(parse_cgroup_path(""), "");
  EXPECT_EQ(parse_cgroup_path("garbage\n"), "");
}

TEST(ProcParseBootTime, FindsBtimeAfterLongLines) {
  std::string text = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr " + std::string(20000, '1') + "\nctxt 5\nbtime 1700000000\n";
  auto bt = parse_boot_time(text);
  ASSERT_TRUE(bt);
  EXPECT_EQ(*bt, 1700000000);
  EXPECT_EQ(parse_boot_time("cpu 1\n").error().message, "stat: no valid 'btime' line");
}

TEST(ProcSplitArgs, NulSeparated) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(split_args(""), V{});
  EXPECT_EQ(split_args("a\0"s), V{"a"});
  EXPECT_EQ(split_args("/bin/sh\0-c\0echo a b\0"s), (V{"/bin/sh", "-c", "echo a b"}));
  EXPECT_EQ(split_args("x\0\0y\0"s), (V{"x", "", "y"}));
  // setproctitle-style: one string without a terminating NUL; or truncated.
  EXPECT_EQ(split_args("nginx: master process"s), V{"nginx: master process"});
  EXPECT_EQ(split_args("a\0bc"s), (V{"a", "bc"}));
}

struct TtyCase {
  std::uint32_t nr;
  const char* name;
};

TEST(ProcTtyName, DecodesMajorMinor) {
  const TtyCase cases[] = {
      {0, ""},
      {(136u << 8) | 0, "pts/0"},
      {(136u << 8) | 5, "pts/5"},
      {(137u << 8) | 3, "pts/259"},
      {(136u << 8) | (1u << 20), "pts/256"},  // minor 256 carried in the high bits
      {(4u << 8) | 1, "tty1"},
      {(4u << 8) | 63, "tty63"},
      {(4u << 8) | 64, "ttyS0"},
      {(4u << 8) | 70, "ttyS6"},
      {(5u << 8) | 1, "5:1"},
      {(188u << 8) | 0, "188:0"},
  };
  for (const auto& c : cases) EXPECT_EQ(tty_name(c.nr), c.name) << c.nr;
}

}  // namespace
}  // namespace airssys::osl::proc
