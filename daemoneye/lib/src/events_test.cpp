#include <airssys/daemoneye/events.hpp>

#include <gtest/gtest.h>

namespace airssys::daemoneye {
namespace {

ProcessRecord sample() {
  ProcessRecord r;
  r.pid = 4242;
  r.parent = 1;
  r.name = "bash";
  r.path = "/usr/bin/bash";
  r.cmdline = "bash -c \"echo \xc3\xa9\"";
  r.uid = 1000;
  r.auid = 4294967295;
  r.on_disk = 1;
  r.state = "S";
  r.start_time = 1764000000;
  r.cpu_percent = 12.5;
  r.start_ticks = 123456789;
  r.exe_ino = 77;
  r.partial = true;
  return r;
}

TEST(Events, EventRoundTripsEveryField) {
  ProcessEvent e{EventKind::exec, EventSource::poll, 1764000001, sample()};
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->kind, EventKind::exec);
  EXPECT_EQ(back->time, 1764000001);
  EXPECT_EQ(back->process, e.process);
}

TEST(Events, SnapshotRoundTrips) {
  SnapshotChunk c;
  c.scan_id = 9;
  c.seq = 2;
  c.last = true;
  c.total = 2;
  c.processes = {sample(), sample()};
  c.processes[1].pid = 7;
  auto back = decode_snapshot(encode(c));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->scan_id, 9u);
  EXPECT_TRUE(back->last);
  ASSERT_EQ(back->processes.size(), 2u);
  EXPECT_EQ(back->processes[1].pid, 7);
  EXPECT_EQ(back->processes[0], c.processes[0]);
}

TEST(Events, MalformedInputNamesTheField) {
  EXPECT_EQ(decode_event("not json").error(), "event: not valid JSON");
  EXPECT_EQ(decode_event("[]").error(), "event: not a JSON object");
  EXPECT_EQ(decode_event(R"({"event":"fork","source":"poll","time":1,"process":{}})").error(),
            "event.event: unknown kind 'fork'");
  SnapshotChunk c;
  c.processes = {sample()};
  std::string text = encode(c);
  auto pos = text.find("\"pid\":4242");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 10, "\"pid\":\"x\"");
  EXPECT_EQ(decode_snapshot(text).error(), "snapshot.processes[0].pid: not an integer");
}

TEST(Events, NumbersOutOfRangeForTheirFieldAreRefused) {
  SnapshotChunk c;
  c.processes = {sample()};
  std::string text = encode(c);
  auto pos = text.find("\"seq\":0");
  ASSERT_NE(pos, std::string::npos);
  std::string big = text;
  big.replace(pos, 7, "\"seq\":4294967296");  // seq is 32-bit
  EXPECT_EQ(decode_snapshot(big).error(), "snapshot.seq: out of range");
  std::string negative = text;
  negative.replace(pos, 7, "\"seq\":-1");
  EXPECT_EQ(decode_snapshot(negative).error(), "snapshot.seq: out of range");
}

TEST(Events, InvalidUtf8InACmdlineIsReplacedNotThrown) {
  ProcessRecord r = sample();
  r.cmdline = "evil \xff\xfe";
  ProcessEvent e{EventKind::start, EventSource::poll, 1, r};
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->process.cmdline.substr(0, 5), "evil ");
}

}  // namespace
}  // namespace airssys::daemoneye
