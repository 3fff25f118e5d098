#include <airssys/daemoneye/events.hpp>

#include "json_test_util.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace airssys::daemoneye {
namespace {

// procmond's messages are read by the agent and by anyone subscribed to the
// bus: the same values must give the same bytes (keys, order, layout), and
// each decoder must name every field it refuses. Every value differs from
// the others beside it, so a swapped pair of fields changes the bytes.
ProcessRecord full_record() {
  ProcessRecord r;
  r.pid = 4242;
  r.parent = 4100;
  r.pgroup = 4101;
  r.sid = 4102;
  r.name = "bash";
  r.path = "/usr/bin/bash";
  r.cmdline = "bash -c \"echo \xc3\xa9\"";
  r.cwd = "/home/ann";
  r.root = "/";
  r.uid = 1000;
  r.gid = 1001;
  r.euid = 1002;
  r.egid = 1003;
  r.suid = 1004;
  r.sgid = 1005;
  r.username = "ann";
  r.auid = 4294967295;
  r.on_disk = 1;
  r.state = "S";
  r.threads = 3;
  r.nice = -5;
  r.start_time = 1764000000;
  r.user_time = 1200;
  r.system_time = 340;
  r.resident_size = 8388608;
  r.total_size = 16777216;
  r.disk_bytes_read = 65536;
  r.disk_bytes_written = 4096;
  r.cgroup_path = "/system.slice/docker-c0ffee.scope";
  r.tty = "pts/3";
  r.sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  r.cpu_percent = 12.5;
  r.container_id = "c0ffee";
  r.root_is_host = 0;
  r.host_on_disk = -1;
  r.start_ticks = 123456789;
  r.exe_dev = 2049;
  r.exe_ino = 77;
  r.partial = true;
  return r;
}

ProcessEvent full_kernel_event() {
  ProcessEvent e{EventKind::stop, EventSource::ebpf, 1764000001, full_record()};
  e.time_ns = 1764000001123456789;
  e.cmdline_size = 100000;
  e.cmdline_truncated = true;
  e.exit_code = 3;
  e.exit_signal = 9;
  e.cgroup_id = 4242424242ull;
  return e;
}

SnapshotChunk full_chunk() {
  SnapshotChunk c;
  c.scan_id = 9;
  c.seq = 2;
  c.last = true;
  c.time = 1764000100;
  c.total = 130;
  c.unreadable = 4;
  c.collect_us = 51000;
  c.processes = {full_record()};
  osl::proc::OpenSocket s;
  s.pid = 4242;
  s.fd = 7;
  s.net_namespace = 4026531840;
  s.entry = {.inode = 555001, .family = 2, .protocol = 6, .local_address = "10.0.0.5",
             .remote_address = "93.184.216.34", .local_port = 40222, .remote_port = 443, .path = "",
             .state = "ESTABLISHED"};
  c.sockets = {s};
  return c;
}

// sources in EventSource's order: poll, proc_connector, ebpf.
ProcmondStatus full_status() {
  return {.time = 1764000200,
          .pid = 77,
          .tier = EventSource::proc_connector,
          .tier_reason = "ebpf: loading the programs failed: Operation not permitted",
          .scans = 12,
          .budget_per_second = 5000,
          .sources = {{{.events = 5, .dropped = 6, .lost = 8},
                       {.events = 100, .dropped = 7, .lost = 2},
                       {.events = 10, .dropped = 11, .lost = 13}}},
          .sockets = SocketCounters{.rows = 601, .unreadable = 3, .fds_capped = 1, .tables_capped = 5, .unmatched = 9,
                                    .ambiguous = 2, .other_namespace = 4, .truncated = 20, .us = 20500}};
}

TEST(Events, EventRoundTripsEveryField) {
  ProcessEvent e{EventKind::exec, EventSource::poll, 1764000001, full_record()};
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
  c.processes = {full_record(), full_record()};
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
  c.processes = {full_record()};
  std::string text = encode(c);
  auto pos = text.find("\"pid\":4242");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 10, "\"pid\":\"x\"");
  EXPECT_EQ(decode_snapshot(text).error().message, "snapshot.processes[0].pid: not an integer");
}

TEST(Events, NumbersOutOfRangeForTheirFieldAreRefused) {
  SnapshotChunk c;
  c.processes = {full_record()};
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
  ProcessRecord r = full_record();
  r.cmdline = "evil \xff\xfe";
  ProcessEvent e{EventKind::start, EventSource::poll, 1, r};
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->process.cmdline.substr(0, 5), "evil ");
}

TEST(Events, KernelSourceExtrasRoundTripAndAreAbsentFromPollEvents) {
  const ProcessEvent e = full_kernel_event();
  auto back = decode_event(encode(e));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->source, EventSource::ebpf);
  EXPECT_EQ(back->time_ns, e.time_ns);
  EXPECT_EQ(back->cmdline_size, 100000);
  EXPECT_TRUE(back->cmdline_truncated);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->exit_signal, 9);
  EXPECT_EQ(back->cgroup_id, 4242424242ull);

  const std::string poll = encode(ProcessEvent{EventKind::start, EventSource::poll, 1, full_record()});
  EXPECT_EQ(poll.find("time_ns"), std::string::npos);
  EXPECT_EQ(poll.find("exit_code"), std::string::npos);
  EXPECT_EQ(poll.find("path_given"), std::string::npos);
  EXPECT_EQ(poll.find("path_from"), std::string::npos);
  auto plain = decode_event(poll);
  ASSERT_TRUE(plain) << plain.error();
  EXPECT_EQ(plain->cmdline_size, -1);
  EXPECT_FALSE(plain->cmdline_truncated);
}

// The extras' cut-offs at their edges: a clean exit (exit_code 0) and an
// empty argv (cmdline_size 0) are values, written and read back; no signal
// (-1) and not truncated are absent. (A cut-off of > 0 instead of >= 0
// would turn every clean exit into "unknown" at the agent.)
TEST(Events, KernelExtrasAtZeroAreWrittenAndNoSignalIsNot) {
  ProcessEvent e{EventKind::stop, EventSource::ebpf, 1764000001, full_record()};
  e.time_ns = 1764000001000000000;
  e.cmdline_size = 0;
  e.cmdline_truncated = false;
  e.exit_code = 0;
  e.exit_signal = -1;
  const std::string text = encode(e);
  EXPECT_NE(text.find(R"("exit_code":0)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("cmdline_size":0)"), std::string::npos) << text;
  EXPECT_EQ(text.find("exit_signal"), std::string::npos) << text;
  EXPECT_EQ(text.find("cmdline_truncated"), std::string::npos) << text;
  auto back = decode_event(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->exit_code, 0);
  EXPECT_EQ(back->cmdline_size, 0);
  EXPECT_EQ(back->exit_signal, -1);
  EXPECT_FALSE(back->cmdline_truncated);
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

// The accounts counters travel the same way (status.json shows them under
// procmond.status.accounts); absent from an older procmond's status.
TEST(Events, ProcmondStatusCarriesTheAccountCounters) {
  ProcmondStatus s;
  s.pid = 5;
  auto none = decode_procmond_status(encode(s));
  ASSERT_TRUE(none) << none.error();
  EXPECT_FALSE(none->accounts);
  s.accounts = AccountCounters{.users = 31, .groups = 52, .skipped = 2, .capped = 1, .reads = 4,
                               .error = "refusing /etc/group: writable by everyone (mode 0666); only its owner may write it"};
  auto back = decode_procmond_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  ASSERT_TRUE(back->accounts);
  EXPECT_EQ(*back->accounts, *s.accounts);
  EXPECT_EQ(decode_procmond_status(R"({"time":1,"pid":1,"tier":"poll","tier_reason":"","scans":0,)"
                                   R"("budget_per_second":0,"sources":{},"accounts":[]})")
                .error().message,
            "status.accounts: not an object");
}

constexpr std::string_view kFullRecordJson =
    R"json({"auid":4294967295,"cgroup_path":"/system.slice/docker-c0ffee.scope","cmdline":"bash -c \"echo é\"",)json"
    R"json("container_id":"c0ffee","cpu_percent":12.5,"cwd":"/home/ann","disk_bytes_read":65536,)json"
    R"json("disk_bytes_written":4096,"egid":1003,"euid":1002,"gid":1001,"host_on_disk":-1,"name":"bash","nice":-5,)json"
    R"json("on_disk":1,"parent":4100,"path":"/usr/bin/bash","pgroup":4101,"pid":4242,"resident_size":8388608,)json"
    R"json("root":"/","root_is_host":0,"sgid":1005,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",)json"
    R"json("sid":4102,"start_time":1764000000,"state":"S","suid":1004,"system_time":340,"threads":3,)json"
    R"json("total_size":16777216,"tty":"pts/3","uid":1000,"user_time":1200,"username":"ann"})json";
// A record as events and snapshots carry it: its columns and the bookkeeping.
constexpr std::string_view kWireRecordJson =
    R"json({"auid":4294967295,"cgroup_path":"/system.slice/docker-c0ffee.scope","cmdline":"bash -c \"echo é\"",)json"
    R"json("container_id":"c0ffee","cpu_percent":12.5,"cwd":"/home/ann","disk_bytes_read":65536,)json"
    R"json("disk_bytes_written":4096,"egid":1003,"euid":1002,"exe_dev":2049,"exe_ino":77,"gid":1001,"host_on_disk":-1,)json"
    R"json("name":"bash","nice":-5,"on_disk":1,"parent":4100,"partial":true,"path":"/usr/bin/bash",)json"
    R"json("pgroup":4101,"pid":4242,"resident_size":8388608,"root":"/","root_is_host":0,"sgid":1005,"sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",)json"
    R"json("sid":4102,"start_ticks":123456789,"start_time":1764000000,"state":"S","suid":1004,)json"
    R"json("system_time":340,"threads":3,"total_size":16777216,"tty":"pts/3","uid":1000,"user_time":1200,)json"
    R"json("username":"ann"})json";
const std::string kFullKernelEventJson =
    std::string(R"json({"cgroup_id":4242424242,"cmdline_size":100000,"cmdline_truncated":true,"event":"stop",)json"
                R"json("exit_code":3,"exit_signal":9,"process":)json") +
    std::string(kWireRecordJson) + R"json(,"source":"ebpf","time":1764000001,"time_ns":1764000001123456789})json";
const std::string kPollEventJson =
    std::string(R"json({"event":"start","process":)json") +
    std::string(kWireRecordJson) + R"json(,"source":"poll","time":1764000002})json";
const std::string kFullChunkJson =
    std::string(R"json({"collect_us":51000,"last":true,"processes":[)json") +
    std::string(kWireRecordJson) + R"json(],"scan_id":9,"seq":2,"sockets":[{"family":2,"fd":7,"local_address":"10.0.0.5","local_port":40222,)json"
    R"json("net_namespace":4026531840,"path":"","pid":4242,"protocol":6,"remote_address":"93.184.216.34",)json"
    R"json("remote_port":443,"socket":555001,"state":"ESTABLISHED"}],"time":1764000100,"total":130,)json"
    R"json("unreadable":4})json";
constexpr std::string_view kEmptyChunkJson =
    R"json({"collect_us":0,"last":false,"processes":[],"scan_id":0,"seq":0,"time":0,"total":0,)json"
    R"json("unreadable":0})json";
constexpr std::string_view kFullStatusJson =
    R"json({"budget_per_second":5000,"pid":77,"scans":12,"sockets":{"ambiguous":2,"fds_capped":1,)json"
    R"json("other_namespace":4,"rows":601,"tables_capped":5,"truncated":20,"unmatched":9,"unreadable":3,)json"
    R"json("us":20500},"sources":{"ebpf":{"dropped":11,"events":10,"lost":13},"poll":{"dropped":6,)json"
    R"json("events":5,"lost":8},"proc_connector":{"dropped":7,"events":100,"lost":2}},"tier":"proc_connector",)json"
    R"json("tier_reason":"ebpf: loading the programs failed: Operation not permitted","time":1764000200})json";
constexpr std::string_view kFreshStatusJson =
    R"json({"budget_per_second":0,"pid":-1,"scans":0,"sources":{"ebpf":{"dropped":0,"events":0,)json"
    R"json("lost":0},"poll":{"dropped":0,"events":0,"lost":0},"proc_connector":{"dropped":0,)json"
    R"json("events":0,"lost":0}},"tier":"poll","tier_reason":"","time":0})json";

// encode(value) is exactly `text`, and `text` reads back to what encodes to it again.
template <class T, class Decode>
std::optional<T> expect_pinned(const T& value, std::string_view text, Decode decode) {
  EXPECT_EQ(encode(value), text);
  auto back = decode(text);
  EXPECT_TRUE(back) << back.error();
  if (!back) return std::nullopt;
  EXPECT_EQ(encode(*back), text);
  return std::move(*back);
}

TEST(Events, EncodesEachMessageByteForByteAndReadsItBack) {
  EXPECT_EQ(to_json(full_record()), kFullRecordJson);

  const std::pair<ProcessEvent, std::string_view> events[] = {
      {full_kernel_event(), kFullKernelEventJson},
      {ProcessEvent{EventKind::start, EventSource::poll, 1764000002, full_record()}, kPollEventJson}};
  for (const auto& [event, text] : events) {
    if (auto back = expect_pinned(event, text, decode_event)) {
      EXPECT_EQ(back->process, event.process);
    }
  }

  const std::pair<SnapshotChunk, std::string_view> chunks[] = {{full_chunk(), kFullChunkJson},
                                                               {SnapshotChunk{}, kEmptyChunkJson}};
  for (const auto& [chunk, text] : chunks) {
    if (auto back = expect_pinned(chunk, text, decode_snapshot)) {
      EXPECT_EQ(back->processes, chunk.processes);
      EXPECT_EQ(back->sockets, chunk.sockets);
    }
  }

  const std::pair<ProcmondStatus, std::string_view> statuses[] = {{full_status(), kFullStatusJson},
                                                                  {ProcmondStatus{}, kFreshStatusJson}};
  for (const auto& [status, text] : statuses) {
    if (auto back = expect_pinned(status, text, decode_procmond_status)) {
      EXPECT_EQ(back->sockets, status.sockets);
    }
  }
}

TEST(Events, AnExecsPathAsGivenTravelsBesideItsPath) {
  ProcessEvent e{EventKind::exec, EventSource::ebpf, 1764000001, full_record()};
  e.process.path = "/tmp/x/sl";
  e.path_given = "//tmp/x/./sl";
  const std::string text = encode(e);
  EXPECT_NE(text.find(R"("path_given":"//tmp/x/./sl")"), std::string::npos) << text;
  auto back = decode_event(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->path_given, "//tmp/x/./sl");
  EXPECT_EQ(back->process.path, "/tmp/x/sl");
  EXPECT_EQ(back->path_from, PathFrom::none);
  // Where the path came from travels too, when known; an unknown word is refused.
  for (const auto from : {PathFrom::exec, PathFrom::detached, PathFrom::proc, PathFrom::interp, PathFrom::given}) {
    e.path_from = from;
    const std::string with = encode(e);
    EXPECT_NE(with.find(R"("path_from":")" + std::string(to_string(from)) + '"'), std::string::npos) << with;
    auto again = decode_event(with);
    ASSERT_TRUE(again) << again.error();
    EXPECT_EQ(again->path_from, from);
  }
  std::string bad = encode(e);
  bad.replace(bad.find(R"("path_from":"given")"), 19, R"("path_from":"guess")");
  auto refused = decode_event(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "event.path_from: unknown origin 'guess'");
}

// An exec's image identity and the host's path of it travel when known (the
// eBPF tier), and are absent otherwise (an older procmond's events read 0
// and "").
TEST(Events, AnExecsImageIdentityAndHostPathTravelWhenKnown) {
  ProcessEvent e{EventKind::exec, EventSource::ebpf, 1764000001, full_record()};
  e.process.path = "/mnt/payload";
  e.path_from = PathFrom::exec;
  const std::string without = encode(e);
  EXPECT_EQ(without.find("image_"), std::string::npos) << without;
  EXPECT_EQ(without.find("host_path"), std::string::npos) << without;
  e.image_dev = 65024;
  e.image_ino = 1234567;
  e.host_path = "/tmp/dir/payload";
  const std::string text = encode(e);
  EXPECT_NE(text.find(R"("image_dev":65024)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("host_path":"/tmp/dir/payload")"), std::string::npos) << text;
  auto back = decode_event(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->image_dev, 65024u);
  EXPECT_EQ(back->image_ino, 1234567u);
  EXPECT_EQ(back->host_path, "/tmp/dir/payload");
  auto old = decode_event(without);
  ASSERT_TRUE(old) << old.error();
  EXPECT_EQ(old->image_ino, 0u);
  EXPECT_EQ(old->host_path, "");
}

TEST(Events, NoTwoValuesBesideEachOtherInTheSamplesAreTheSame) {
  for (std::string_view text : std::initializer_list<std::string_view>{kFullKernelEventJson, kFullChunkJson, kFullStatusJson})
    testing::expect_sibling_values_distinct(nlohmann::json::parse(text), "sample");
}

// Fields an older procmond does not send (schema 5): read as unknown when absent.
bool schema5_field(const std::string& path) {
  return path.ends_with(".root_is_host") || path.ends_with(".host_on_disk");
}

bool kernel_extra(const std::string& path) {
  for (const char* key : {"time_ns", "cmdline_size", "cmdline_truncated", "exit_code", "exit_signal", "cgroup_id"})
    if (path == std::string("event.") + key) return true;
  return schema5_field(path);
}

TEST(Events, EveryFieldIsCheckedAndNamed) {
  const auto none = [](const std::string&) { return false; };
  // The kernel sources' extras are absent from poll events.
  EXPECT_EQ(testing::expect_each_field_checked(nlohmann::json::parse(kFullKernelEventJson), "event",
                                               testing::refusal_of(decode_event), kernel_extra),
            48u);
  EXPECT_EQ(testing::expect_each_field_checked(nlohmann::json::parse(kFullChunkJson), "snapshot",
                                               testing::refusal_of(decode_snapshot), schema5_field),
            58u);
  EXPECT_EQ(testing::expect_each_field_checked(nlohmann::json::parse(kFullStatusJson), "status",
                                               testing::refusal_of(decode_procmond_status), none),
            24u);
}

// Each case: a sample's text with one thing changed, and the exact refusal
// (nullopt: still accepted).
TEST(Events, MalformedMessagesAreRefusedWithTheirPath) {
  const auto event = testing::refusal_of(decode_event);
  const auto snapshot = testing::refusal_of(decode_snapshot);
  const auto status = testing::refusal_of(decode_procmond_status);
  using J = nlohmann::json;
  struct Case {
    const testing::JsonDecodeFn& decode;
    std::string_view text;
    std::function<void(J&)> change;
    std::optional<std::string> error;
  };
  const Case cases[] = {
      {event, kFullKernelEventJson, [](J& j) { j["event"] = "fork"; }, "event.event: unknown kind 'fork'"},
      {event, kFullKernelEventJson, [](J& j) { j["source"] = "kprobe"; }, "event.source: unknown source 'kprobe'"},
      {event, kFullKernelEventJson, [](J& j) { j["process"] = 1; }, "event.process: not an object"},
      {event, kFullKernelEventJson, [](J& j) { j.erase("process"); }, "event.process: missing"},
      {event, kFullKernelEventJson, [](J& j) { j["process"]["on_disk"] = 1ll << 40; },
       "event.process.on_disk: out of range"},
      {event, kFullKernelEventJson, [](J& j) { j["cgroup_id"] = -1; }, "event.cgroup_id: out of range"},
      // A procmond before schema 5: root_is_host and host_on_disk absent (read as -1).
      {event, kFullKernelEventJson, [](J& j) { j["process"].erase("root_is_host"); j["process"].erase("host_on_disk"); },
       std::nullopt},
      {event, kFullKernelEventJson, [](J& j) { j["process"]["host_on_disk"] = "1"; },
       "event.process.host_on_disk: not an integer"},
      {snapshot, kFullChunkJson, [](J& j) { j["processes"] = 1; }, "snapshot.processes: not an array"},
      {snapshot, kFullChunkJson, [](J& j) { j.erase("processes"); }, "snapshot.processes: missing"},
      {snapshot, kFullChunkJson, [](J& j) { j["processes"][0] = 1; }, "snapshot.processes[0]: not an object"},
      {snapshot, kFullChunkJson, [](J& j) { j["sockets"] = J::object(); }, "snapshot.sockets: not an array"},
      {snapshot, kFullChunkJson, [](J& j) { j["sockets"][0] = "x"; }, "snapshot.sockets[0]: not an object"},
      {snapshot, kFullChunkJson, [](J& j) { j.erase("sockets"); }, std::nullopt},  // a procmond without sockets
      {snapshot, kFullChunkJson, [](J& j) { j["seq"] = 4294967296ll; }, "snapshot.seq: out of range"},
      {snapshot, kFullChunkJson, [](J& j) { j["seq"] = -1; }, "snapshot.seq: out of range"},
      {snapshot, kFullChunkJson, [](J& j) { j["sockets"][0]["local_port"] = 1ll << 40; },
       "snapshot.sockets[0].local_port: out of range"},
      {status, kFullStatusJson, [](J& j) { j["tier"] = "magic"; }, "status.tier: unknown source 'magic'"},
      {status, kFullStatusJson, [](J& j) { j["sources"] = 1; }, "status.sources: not an object"},
      {status, kFullStatusJson, [](J& j) { j.erase("sources"); }, "status.sources: missing"},
      {status, kFullStatusJson, [](J& j) { j["sources"]["ebpf"] = 1; }, "status.sources.ebpf: not an object"},
      {status, kFullStatusJson, [](J& j) { j["sources"].erase("ebpf"); }, std::nullopt},  // an older procmond
      {status, kFullStatusJson, [](J& j) { j["sources"]["ebpf"]["events"] = -1; },
       "status.sources.ebpf.events: out of range"},
      {status, kFullStatusJson, [](J& j) { j["sockets"] = J::array(); }, "status.sockets: not an object"},
      {status, kFullStatusJson, [](J& j) { j.erase("sockets"); }, std::nullopt},  // --no-sockets
  };
  for (const auto& c : cases) {
    J j = J::parse(c.text);
    c.change(j);
    EXPECT_EQ(c.decode(j.dump()), c.error) << j.dump();
  }
  for (const auto& [decode, what] : {std::pair{&event, "event"}, {&snapshot, "snapshot"}, {&status, "status"}}) {
    EXPECT_EQ((*decode)("not json"), std::string(what) + ": not valid JSON");
    EXPECT_EQ((*decode)("[]"), std::string(what) + ": not a JSON object");
  }
}

}  // namespace
}  // namespace airssys::daemoneye
