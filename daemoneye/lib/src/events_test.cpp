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
  EXPECT_EQ(decode_event("not json").error().message, "event: not valid JSON");
  EXPECT_EQ(decode_event("[]").error().message, "event: not a JSON object");
  EXPECT_EQ(decode_event(R"({"event":"fork","source":"poll","time":1,"process":{}})").error().message,
            "event.event: unknown kind 'fork'");
  SnapshotChunk c;
  c.processes = {sample()};
  std::string text = encode(c);
  auto pos = text.find("\"pid\":4242");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 10, "\"pid\":\"x\"");
  EXPECT_EQ(decode_snapshot(text).error().message, "snapshot.processes[0].pid: not an integer");
}

TEST(Events, NumbersOutOfRangeForTheirFieldAreRefused) {
  SnapshotChunk c;
  c.processes = {sample()};
  std::string text = encode(c);
  auto pos = text.find("\"seq\":0");
  ASSERT_NE(pos, std::string::npos);
  std::string big = text;
  big.replace(pos, 7, "\"seq\":4294967296");  // seq is 32-bit
  EXPECT_EQ(decode_snapshot(big).error().message, "snapshot.seq: out of range");
  std::string negative = text;
  negative.replace(pos, 7, "\"seq\":-1");
  EXPECT_EQ(decode_snapshot(negative).error().message, "snapshot.seq: out of range");
}

TEST(Events, InvalidUtf8InACmdlineIsReplacedNotThrown) {
  ProcessRecord r = sample();
  r.cmdline = "evil \xff\xfe";
  ProcessEvent e{EventKind::start, EventSource::poll, 1, r};
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->process.cmdline.substr(0, 5), "evil ");
}

TEST(Events, KernelSourceExtrasRoundTripAndAreAbsentFromPollEvents) {
  ProcessEvent e{EventKind::stop, EventSource::ebpf, 1764000001, sample()};
  e.time_ns = 1764000001123456789;
  e.cmdline_size = 100000;
  e.cmdline_truncated = true;
  e.exit_code = 3;
  e.exit_signal = 9;
  e.cgroup_id = 4242424242ull;
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->source, EventSource::ebpf);
  EXPECT_EQ(back->time_ns, e.time_ns);
  EXPECT_EQ(back->cmdline_size, 100000);
  EXPECT_TRUE(back->cmdline_truncated);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->exit_signal, 9);
  EXPECT_EQ(back->cgroup_id, 4242424242ull);

  const std::string poll = encode(ProcessEvent{EventKind::start, EventSource::poll, 1, sample()});
  EXPECT_EQ(poll.find("time_ns"), std::string::npos);
  EXPECT_EQ(poll.find("exit_code"), std::string::npos);
  auto plain = decode_event(poll);
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->cmdline_size, -1);
  EXPECT_FALSE(plain->cmdline_truncated);
}

TEST(Events, ProcmondStatusRoundTripsAndNamesBadFields) {
  ProcmondStatus s;
  s.time = 1764000000;
  s.pid = 77;
  s.tier = EventSource::proc_connector;
  s.tier_reason = "ebpf: loading the programs failed: Operation not permitted";
  s.scans = 12;
  s.budget_per_second = 5000;
  s.sources[static_cast<std::size_t>(EventSource::proc_connector)] = {100, 7, 2};
  s.sources[static_cast<std::size_t>(EventSource::poll)] = {5, 0, 0};
  auto back = decode_procmond_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->tier, EventSource::proc_connector);
  EXPECT_EQ(back->tier_reason, s.tier_reason);
  EXPECT_EQ(back->scans, 12u);
  EXPECT_EQ(back->budget_per_second, 5000u);
  EXPECT_EQ(back->sources[1].events, 100u);
  EXPECT_EQ(back->sources[1].dropped, 7u);
  EXPECT_EQ(back->sources[1].lost, 2u);
  EXPECT_EQ(back->sources[0].events, 5u);

  EXPECT_EQ(decode_procmond_status(R"({"time":1,"pid":1,"tier":"magic","tier_reason":"","scans":0,)"
                                   R"("budget_per_second":0,"sources":{}})")
                .error().message,
            "status.tier: unknown source 'magic'");
  EXPECT_EQ(decode_procmond_status(R"({"time":1,"pid":1,"tier":"poll","tier_reason":"","scans":0,)"
                                   R"("budget_per_second":0,"sources":{"ebpf":{"events":-1,"dropped":0,"lost":0}}})")
                .error().message,
            "status.sources.ebpf.events: out of range");
}

TEST(Events, ProcmondStatusCarriesTheSocketCountersWhenThereAreAny) {
  ProcmondStatus s;
  s.pid = 5;
  auto none = decode_procmond_status(encode(s));
  ASSERT_TRUE(none) << none.error();
  EXPECT_FALSE(none->sockets);  // --no-sockets, or an older procmond
  EXPECT_EQ(encode(s).find("sockets"), std::string::npos);

  s.sockets = SocketCounters{.rows = 601, .unreadable = 3, .fds_capped = 1, .tables_capped = 0, .unmatched = 9,
                             .ambiguous = 2, .other_namespace = 4, .truncated = 20, .us = 20500};
  auto back = decode_procmond_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(back->sockets);
  EXPECT_EQ(*back->sockets, *s.sockets);

  EXPECT_EQ(decode_procmond_status(R"({"time":1,"pid":1,"tier":"poll","tier_reason":"","scans":0,)"
                                   R"("budget_per_second":0,"sources":{},"sockets":[]})")
                .error().message,
            "status.sockets: not an object");
  EXPECT_FALSE(decode_procmond_status(R"({"time":1,"pid":1,"tier":"poll","tier_reason":"","scans":0,)"
                                      R"("budget_per_second":0,"sources":{},"sockets":{"rows":1}})"));
}

}  // namespace
}  // namespace airssys::daemoneye
