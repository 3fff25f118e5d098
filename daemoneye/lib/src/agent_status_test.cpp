#include <airssys/daemoneye/agent_status.hpp>

#include "json_test_util.hpp"
#include "test_temp_dir.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>

namespace airssys::daemoneye {
namespace {

namespace fs = std::filesystem;
using testing::read_file;
using testing::TempDir;
using testing::write_file;

AgentStatus sample() {
  AgentStatus s;
  s.state = AgentState::running;
  s.pid = 4242;
  s.start_ticks = 987654321;
  s.version = "0.1.0";
  s.host = "web-01";
  s.started_at = 1796392800;
  s.updated_at = 1796392810;
  s.database = "/var/lib/daemoneye/daemoneye.db";
  s.scan_interval_ms = 10000;
  s.write_interval_ms = 5000;
  s.rules.loaded = 6;
  s.rules.enabled = 5;
  s.rules.rejected_count = 3;  // more than the two listed: encode() writes max(count, listed)
  s.rules.rejected = {{"/r/bad.yaml", "/r/bad.yaml:3: severity 'extreme' is not one of low, medium, high, critical"},
                      {"/r/x.yaml", "/r/x.yaml:4: query refused: not allowed: PRAGMA journal_mode"}};
  s.rules.failing = {"slow-rule"};
  s.rules.cut = {{"flooded-rule", 71}};
  s.scans = 12;
  s.last_scan = LastScan{.time = 1796392809, .scan_id = 11, .processes = 412, .unreadable = 8, .collect_us = 50000,
                         .store_us = 2000, .rules_us = 9000, .alerts = 1, .rule_errors = 13,
                         .unreadable_sample = {{.pid = 4711, .name = "sshd", .missing = {"/proc/4711/cwd", "/proc/4711/io"}}}};
  s.alerts = {.raised = 7, .deduplicated = 30, .rate_limited = 2, .sink_errors = 14};
  s.nats = NatsSinkCounters{.published = 19, .acked = 16, .spooled = 21, .dropped = 22, .reconnects = 23};
  s.procmond = {.running = true, .pid = 4243, .exits = 32, .crashes = 33, .spawns_refused = 58};
  s.exceptions = {{.id = "sandbox-backend", .rule = "exec-from-tmp", .reason = "the VM's tool backend", .owner = "ops",
                   .ticket = "SEC-1", .file = "/etc/daemoneye/exceptions.yaml", .weak = "match: path: the glob '*' matches any value",
                   .expires = 1800000000, .expired = false, .hits = 62, .last_hit = 1796392702}};
  s.exceptions_rejected = {"/etc/daemoneye/exceptions.yaml:9: exception 'x': missing required field 'reason'"};
  // The last report came from the procmond before the current one (it crashed).
  // sources in EventSource's order: poll, proc_connector, ebpf.
  s.procmond_status = ProcmondStatus{.time = 1796392807,
                                     .pid = 4241,
                                     .tier = EventSource::proc_connector,
                                     .tier_reason = "eBPF: BPF programs need CAP_BPF",
                                     .scans = 34,
                                     .budget_per_second = 4000,
                                     .sources = {{{.events = 35, .dropped = 36, .lost = 38},
                                                  {.events = 900, .dropped = 40, .lost = 39},
                                                  {.events = 41, .dropped = 42, .lost = 43}}}};
  s.procmond_status_received = 1796392808;
  s.store = {.store_failures = 4, .batches_pending = 24, .events_pending = 37, .events_dropped = 27,
             .snapshots_superseded = 28, .last_error = "resource_exhausted: store: database or disk is full"};
  s.store_failing_since = 1796392700;
  s.collections = CollectionHealth{
      // Not stale: `true` is procmond.running's value (every value differs).
      .last = 1796392760, .stale = false, .stale_since = 1796392793, .stale_after_ms = 32000, .restarts = 4401};
  return s;
}

void expect_same(const AgentStatus& a, const AgentStatus& b) {
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.pid, b.pid);
  EXPECT_EQ(a.start_ticks, b.start_ticks);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.host, b.host);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.updated_at, b.updated_at);
  EXPECT_EQ(a.database, b.database);
  EXPECT_EQ(a.scan_interval_ms, b.scan_interval_ms);
  EXPECT_EQ(a.write_interval_ms, b.write_interval_ms);
  EXPECT_EQ(a.rules.loaded, b.rules.loaded);
  EXPECT_EQ(a.rules.enabled, b.rules.enabled);
  EXPECT_EQ(a.rules.rejected_count, b.rules.rejected_count);
  ASSERT_EQ(a.rules.rejected.size(), b.rules.rejected.size());
  for (std::size_t i = 0; i < a.rules.rejected.size(); ++i) {
    EXPECT_EQ(a.rules.rejected[i].file, b.rules.rejected[i].file);
    EXPECT_EQ(a.rules.rejected[i].message, b.rules.rejected[i].message);
  }
  EXPECT_EQ(a.rules.failing, b.rules.failing);
  EXPECT_EQ(a.rules.cut, b.rules.cut);
  EXPECT_EQ(a.scans, b.scans);
  EXPECT_EQ(a.last_scan, b.last_scan);
  EXPECT_EQ(a.alerts.raised, b.alerts.raised);
  EXPECT_EQ(a.alerts.deduplicated, b.alerts.deduplicated);
  EXPECT_EQ(a.alerts.rate_limited, b.alerts.rate_limited);
  EXPECT_EQ(a.alerts.sink_errors, b.alerts.sink_errors);
  EXPECT_EQ(a.procmond.running, b.procmond.running);
  EXPECT_EQ(a.procmond.pid, b.procmond.pid);
  EXPECT_EQ(a.procmond.exits, b.procmond.exits);
  EXPECT_EQ(a.procmond.crashes, b.procmond.crashes);
  EXPECT_EQ(a.procmond.spawns_refused, b.procmond.spawns_refused);
  EXPECT_EQ(a.procmond_status_received, b.procmond_status_received);
  EXPECT_EQ(a.store_failing_since, b.store_failing_since);
  EXPECT_EQ(a.collections, b.collections);
  EXPECT_EQ(a.store, b.store);
  EXPECT_EQ(a.nats, b.nats);
  EXPECT_EQ(a.reload, b.reload);
  EXPECT_EQ(a.exceptions, b.exceptions);
  EXPECT_EQ(a.exceptions_rejected, b.exceptions_rejected);
  ASSERT_EQ(a.procmond_status.has_value(), b.procmond_status.has_value());
  if (a.procmond_status) {
    EXPECT_EQ(encode(*a.procmond_status), encode(*b.procmond_status));
  }
}

TEST(AgentStatus, RoundTripsEveryField) {
  const AgentStatus s = sample();
  auto back = decode_agent_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  expect_same(s, *back);
  EXPECT_EQ(back->procmond_status->tier, EventSource::proc_connector);
  EXPECT_EQ(back->procmond_status->sources[1].dropped, 40u);
}

TEST(AgentStatus, RoundTripsAFreshAgentWithoutScansOrProcmondReport) {
  AgentStatus s;
  s.state = AgentState::stopped;
  s.pid = 1;
  auto back = decode_agent_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  expect_same(s, *back);
  EXPECT_FALSE(back->last_scan);
  EXPECT_FALSE(back->procmond_status);
}

// An agent without a nats sink writes no alerts.nats; a malformed one names its field.
TEST(AgentStatus, NatsCountersAreOptionalAndChecked) {
  AgentStatus s = sample();
  s.nats.reset();
  const std::string text = encode(s);
  EXPECT_EQ(text.find("\"nats\""), std::string::npos);
  auto back = decode_agent_status(text);
  ASSERT_TRUE(back) << back.error();
  EXPECT_FALSE(back->nats);
  nlohmann::json j = nlohmann::json::parse(encode(sample()));
  j["alerts"]["nats"].erase("acked");
  auto bad = decode_agent_status(j.dump());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "agent_status.alerts.nats.acked: missing");
}

// Only an agent answering live queries writes live_query; its counters
// round-trip, a refusal count must be a count.
TEST(AgentStatus, LiveQueryCountersAreOptionalAndChecked) {
  AgentStatus s = sample();
  EXPECT_EQ(encode(s).find("\"live_query\""), std::string::npos);
  s.live_query = LiveQueryCounters{.accepted = 4, .failed = 1, .answered = 6, .rows = 120, .dropped = 2,
                                   .audit_suppressed = 9, .refused = {{"clock", 3}, {"malformed", 0}, {"replayed", 2}},
                                   .failed_ledger = 1};
  auto back = decode_agent_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->live_query, s.live_query);
  nlohmann::json j = nlohmann::json::parse(encode(s));
  j["live_query"]["refused"]["clock"] = -1;
  auto bad = decode_agent_status(j.dump());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "agent_status.live_query.refused.clock: not a non-negative integer");
  j = nlohmann::json::parse(encode(s));
  j["live_query"].erase("rows");
  bad = decode_agent_status(j.dump());
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message, "agent_status.live_query.rows: missing");
  j = nlohmann::json::parse(encode(s));  // written before failed_ledger was
  j["live_query"].erase("failed_ledger");
  back = decode_agent_status(j.dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->live_query->failed_ledger, 0u);
}

// A file from an agent that predates the store counters reads as all zero.
TEST(AgentStatus, AFileWithoutStoreCountersReadsAsZero) {
  nlohmann::json j = nlohmann::json::parse(encode(sample()));
  j.erase("store");
  auto back = decode_agent_status(j.dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->store, StoreBacklogCounters{});
  EXPECT_EQ(back->store_failing_since, 0);
}

AgentStatus full_sample();  // below, with the file it encodes to

// A file from an agent that predates the reload object reads without it; a
// reload not yet made is "last": null; an unknown result is refused by name.
TEST(AgentStatus, ReloadIsOptionalItsLastMayBeNullAndItsResultIsChecked) {
  AgentStatus s = sample();
  s.reload = ReloadStatus{.rules_loaded_at = 9};
  nlohmann::json j = nlohmann::json::parse(encode(s));
  ASSERT_TRUE(j["reload"]["last"].is_null()) << j.dump();
  auto back = decode_agent_status(j.dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->reload, s.reload);
  j.erase("reload");
  back = decode_agent_status(j.dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_FALSE(back->reload);
  j = nlohmann::json::parse(encode(full_sample()));
  j["reload"]["last"]["result"] = "maybe";
  back = decode_agent_status(j.dump());
  ASSERT_FALSE(back);
  EXPECT_EQ(back.error().message,
            "agent_status.reload.last.result: unknown result 'maybe' (known: ok, partial, failed)");
}

// A file from an agent that predates collections and failing_since reads
// without them.
TEST(AgentStatus, AFileWithoutCollectionsOrFailingSinceReads) {
  AgentStatus s = sample();
  s.store_failing_since = 5;
  s.collections = CollectionHealth{.last = 1, .stale = true, .stale_since = 2, .stale_after_ms = 3, .restarts = 4};
  nlohmann::json j = nlohmann::json::parse(encode(s));
  ASSERT_TRUE(j.contains("collections"));
  j.erase("collections");
  j["store"].erase("failing_since");
  auto back = decode_agent_status(j.dump());
  ASSERT_TRUE(back) << back.error();
  EXPECT_FALSE(back->collections);
  EXPECT_EQ(back->store_failing_since, 0);
}

TEST(AgentStatus, ListsAtMostAHundredRejectedRulesButCountsAll) {
  AgentStatus s;
  for (int i = 0; i < 150; ++i) s.rules.rejected.push_back({fmt::format("/r/{}.yaml", i), "bad"});
  s.rules.rejected_count = 150;
  auto back = decode_agent_status(encode(s));
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(back->rules.rejected.size(), kAgentStatusMaxListed);
  EXPECT_EQ(back->rules.rejected_count, 150u);
}

// Each case: take the sample's JSON, change one thing, expect this exact error.
TEST(AgentStatus, MalformedInputNamesTheField) {
  const nlohmann::json good = nlohmann::json::parse(encode(sample()));
  struct Case {
    std::function<void(nlohmann::json&)> change;
    std::string error;
  };
  const std::vector<Case> cases = {
      {[](auto& j) { j.erase("pid"); }, "agent_status.pid: missing"},
      {[](auto& j) { j["pid"] = "1"; }, "agent_status.pid: not an integer"},
      {[](auto& j) { j["start_ticks"] = -1; }, "agent_status.start_ticks: out of range"},
      {[](auto& j) { j["state"] = "paused"; }, "agent_status.state: unknown state 'paused' (known: running, stopped)"},
      {[](auto& j) { j["format"] = 2; },
       "agent_status.format: 2 is not the format this program reads (1); it was written by a newer agent"},
      {[](auto& j) { j["version"] = 1; }, "agent_status.version: not a string"},
      {[](auto& j) { j["rules"] = 3; }, "agent_status.rules: not an object"},
      {[](auto& j) { j["rules"]["rejected"][1].erase("message"); }, "agent_status.rules.rejected[1].message: missing"},
      {[](auto& j) { j["rules"]["failing"] = {1}; }, "agent_status.rules.failing[0]: not a string"},
      {[](auto& j) { j["scans"]["last"] = "x"; }, "agent_status.scans.last: not an object or null"},
      {[](auto& j) { j["scans"]["last"].erase("rules_us"); }, "agent_status.scans.last.rules_us: missing"},
      {[](auto& j) { j["scans"]["last"]["processes"] = 1ll << 40; }, "agent_status.scans.last.processes: out of range"},
      {[](auto& j) { j["alerts"].erase("rate_limited"); }, "agent_status.alerts.rate_limited: missing"},
      {[](auto& j) { j["procmond"]["running"] = 1; }, "agent_status.procmond.running: not a boolean"},
      {[](auto& j) { j["procmond"]["status"]["tier"] = "kprobe"; },
       "agent_status.procmond.status.tier: unknown source 'kprobe'"},
      {[](auto& j) { j["procmond"]["status"]["sources"]["ebpf"]["lost"] = "many"; },
       "agent_status.procmond.status.sources.ebpf.lost: not an integer"},
      {[](auto& j) { j["store"] = 1; }, "agent_status.store: not an object"},
      {[](auto& j) { j["store"].erase("events_dropped"); }, "agent_status.store.events_dropped: missing"},
      {[](auto& j) { j["store"]["batches_pending"] = -1; }, "agent_status.store.batches_pending: out of range"},
  };
  for (const auto& c : cases) {
    nlohmann::json j = good;
    c.change(j);
    auto r = decode_agent_status(j.dump());
    ASSERT_FALSE(r) << c.error;
    EXPECT_EQ(r.error().message, c.error);
  }
  EXPECT_EQ(decode_agent_status("{").error().message, "agent_status: not valid JSON");
  EXPECT_EQ(decode_agent_status("[1]").error().message, "agent_status: not a JSON object");
}

// status.json is read by daemoneye-cli and by operators' scripts: the same
// values must give the same bytes (keys, their order, layout), and what is
// written must read back to the same bytes.
AgentStatus full_sample() {
  AgentStatus s = sample();
  s.events_nats = NatsSinkCounters{.published = 31, .acked = 29, .spooled = 44, .dropped = 45, .reconnects = 46};
  s.live_query = LiveQueryCounters{.accepted = 50, .failed = 53, .answered = 54, .rows = 120, .dropped = 55,
                                   .audit_suppressed = 56, .refused = {{"clock", 51}, {"replayed", 52}},
                                   .failed_ledger = 57};
  s.reload = ReloadStatus{.rules_loaded_at = 1796392790, .last_ok_at = 1796392780, .ok = 59, .partial = 60,
                          .failed = 61,
                          .last = LastReload{.time = 1796392805, .result = ReloadResult::partial,
                                             .error = "1 rule file rejected: /r/bad.yaml:3: severity 'extreme'"}};
  return s;
}

constexpr std::string_view kFullStatusJson = R"json({
  "format": 1,
  "state": "running",
  "pid": 4242,
  "start_ticks": 987654321,
  "version": "0.1.0",
  "host": "web-01",
  "started_at": 1796392800,
  "updated_at": 1796392810,
  "database": "/var/lib/daemoneye/daemoneye.db",
  "scan_interval_ms": 10000,
  "write_interval_ms": 5000,
  "rules": {
    "loaded": 6,
    "enabled": 5,
    "rejected_count": 3,
    "rejected": [
      {
        "file": "/r/bad.yaml",
        "message": "/r/bad.yaml:3: severity 'extreme' is not one of low, medium, high, critical"
      },
      {
        "file": "/r/x.yaml",
        "message": "/r/x.yaml:4: query refused: not allowed: PRAGMA journal_mode"
      }
    ],
    "failing": [
      "slow-rule"
    ],
    "cut": {
      "flooded-rule": 71
    }
  },
  "reload": {
    "rules_loaded_at": 1796392790,
    "last_ok_at": 1796392780,
    "ok": 59,
    "partial": 60,
    "failed": 61,
    "last": {
      "time": 1796392805,
      "result": "partial",
      "error": "1 rule file rejected: /r/bad.yaml:3: severity 'extreme'"
    }
  },
  "scans": {
    "done": 12,
    "last": {
      "time": 1796392809,
      "scan_id": 11,
      "processes": 412,
      "unreadable": 8,
      "collect_us": 50000,
      "store_us": 2000,
      "rules_us": 9000,
      "alerts": 1,
      "rule_errors": 13,
      "unreadable_sample": [
        {
          "pid": 4711,
          "name": "sshd",
          "missing": [
            "/proc/4711/cwd",
            "/proc/4711/io"
          ]
        }
      ]
    }
  },
  "alerts": {
    "raised": 7,
    "deduplicated": 30,
    "rate_limited": 2,
    "sink_errors": 14,
    "nats": {
      "published": 19,
      "acked": 16,
      "spooled": 21,
      "dropped": 22,
      "reconnects": 23
    }
  },
  "store": {
    "store_failures": 4,
    "batches_pending": 24,
    "events_pending": 37,
    "events_dropped": 27,
    "snapshots_superseded": 28,
    "last_error": "resource_exhausted: store: database or disk is full",
    "failing_since": 1796392700
  },
  "collections": {
    "last": 1796392760,
    "stale": false,
    "stale_since": 1796392793,
    "stale_after_ms": 32000,
    "restarts": 4401
  },
  "procmond": {
    "running": true,
    "pid": 4243,
    "exits": 32,
    "crashes": 33,
    "spawns_refused": 58,
    "status": {
      "budget_per_second": 4000,
      "pid": 4241,
      "scans": 34,
      "sources": {
        "ebpf": {
          "dropped": 42,
          "events": 41,
          "lost": 43
        },
        "poll": {
          "dropped": 36,
          "events": 35,
          "lost": 38
        },
        "proc_connector": {
          "dropped": 40,
          "events": 900,
          "lost": 39
        }
      },
      "tier": "proc_connector",
      "tier_reason": "eBPF: BPF programs need CAP_BPF",
      "time": 1796392807
    },
    "status_received": 1796392808
  },
  "events": {
    "nats": {
      "published": 31,
      "acked": 29,
      "spooled": 44,
      "dropped": 45,
      "reconnects": 46
    }
  },
  "live_query": {
    "accepted": 50,
    "refused": {
      "clock": 51,
      "replayed": 52
    },
    "failed": 53,
    "answered": 54,
    "rows": 120,
    "dropped": 55,
    "audit_suppressed": 56,
    "failed_ledger": 57
  },
  "exceptions": [
    {
      "id": "sandbox-backend",
      "rule": "exec-from-tmp",
      "reason": "the VM's tool backend",
      "owner": "ops",
      "ticket": "SEC-1",
      "file": "/etc/daemoneye/exceptions.yaml",
      "expires": 1800000000,
      "expired": false,
      "hits": 62,
      "last_hit": 1796392702,
      "weak": true,
      "weak_reason": "match: path: the glob '*' matches any value"
    }
  ],
  "exceptions_rejected": [
    "/etc/daemoneye/exceptions.yaml:9: exception 'x': missing required field 'reason'"
  ]
}
)json";

constexpr std::string_view kFreshStatusJson = R"json({
  "format": 1,
  "state": "running",
  "pid": -1,
  "start_ticks": 0,
  "version": "",
  "host": "",
  "started_at": 0,
  "updated_at": 0,
  "database": "",
  "scan_interval_ms": 0,
  "write_interval_ms": 0,
  "rules": {
    "loaded": 0,
    "enabled": 0,
    "rejected_count": 0,
    "rejected": [],
    "failing": []
  },
  "scans": {
    "done": 0,
    "last": null
  },
  "alerts": {
    "raised": 0,
    "deduplicated": 0,
    "rate_limited": 0,
    "sink_errors": 0
  },
  "store": {
    "store_failures": 0,
    "batches_pending": 0,
    "events_pending": 0,
    "events_dropped": 0,
    "snapshots_superseded": 0,
    "last_error": "",
    "failing_since": 0
  },
  "procmond": {
    "running": false,
    "pid": -1,
    "exits": 0,
    "crashes": 0,
    "spawns_refused": 0,
    "status": null,
    "status_received": 0
  },
  "exceptions": [],
  "exceptions_rejected": []
}
)json";

TEST(AgentStatus, EncodesTheStatusFileByteForByteAndReadsItBack) {
  const std::pair<AgentStatus, std::string_view> cases[] = {{full_sample(), kFullStatusJson},
                                                            {AgentStatus{}, kFreshStatusJson}};
  for (const auto& [status, text] : cases) {
    EXPECT_EQ(encode(status), text);
    auto back = decode_agent_status(text);
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(encode(*back), text);
    expect_same(status, *back);
    EXPECT_EQ(back->events_nats, status.events_nats);
    EXPECT_EQ(back->live_query, status.live_query);
  }
}

// Every value in the full file, in turn: without it, and with a value of the
// wrong type, the file is refused with the field's path in the message.
TEST(AgentStatus, EveryFieldIsCheckedAndNamed) {
  // Counts by reason: a map, so none is required, and each must be a count.
  const auto refusal = [](const std::string& path) {
    return path.starts_with("agent_status.live_query.refused.") || path.starts_with("agent_status.rules.cut.");
  };
  const std::size_t leaves = testing::expect_each_field_checked(
      nlohmann::json::parse(kFullStatusJson), "agent_status", testing::refusal_of(decode_agent_status),
      // failed_ledger: absent from an agent that predates it, read as 0.
      // store.failing_since and procmond.spawns_refused too (read as 0).
      [&](const std::string& path) {
        return refusal(path) || path == "agent_status.live_query.failed_ledger" ||
               path == "agent_status.store.failing_since" || path == "agent_status.procmond.spawns_refused" ||
               path == "agent_status.scans.last.unreadable_sample" ||  // absent from an older agent's file
               path == "agent_status.exceptions[0].weak" || path == "agent_status.exceptions[0].weak_reason";
      },
      [&](const std::string& path, const nlohmann::json& good) {
        return refusal(path) ? std::string(": not a non-negative integer") : testing::json_get_type_error(path, good);
      });
  EXPECT_EQ(leaves, 111u);  // every value of kFullStatusJson was tried
}

// Every value differs from every other (json_test_util.hpp says why), and
// rejected_count from the number listed (encode writes the larger).
TEST(AgentStatus, EveryValueOfTheFullSampleIsDistinct) {
  nlohmann::json j = nlohmann::json::parse(kFullStatusJson);
  j.erase("format");  // constants
  j.erase("state");
  j["exceptions"][0].erase("expired");  // a third boolean cannot differ from running and stale
  j["exceptions"][0].erase("weak");     // nor a fourth
  std::map<std::string, std::string> seen;  // value as JSON -> its path
  testing::each_leaf(j, "agent_status",
                     [&](const std::string& path, const nlohmann::json::json_pointer&, const nlohmann::json& v) {
                       auto [it, fresh] = seen.emplace(v.dump(), path);
                       EXPECT_TRUE(fresh) << path << " has the value of " << it->second << ": " << v.dump();
                     });
  EXPECT_GT(full_sample().rules.rejected_count, full_sample().rules.rejected.size());
}

TEST(AgentStatus, StatusFileLivesBesideTheDatabase) {
  EXPECT_EQ(status_file_for("/var/lib/daemoneye/daemoneye.db"), fs::path("/var/lib/daemoneye/status.json"));
  EXPECT_EQ(status_file_for("de.db"), fs::path("./status.json"));
  EXPECT_EQ(status_file_for("var/de.db"), fs::path("var/status.json"));
}

TEST(AgentStatus, FileIsWrittenAtomicallyReadBackAndLeavesNoTempFile) {
  TempDir dir;
  const fs::path p = dir / "status.json";
  const ::mode_t old = ::umask(022);
  auto w = write_status_file(p, sample());
  ::umask(old);
  ASSERT_TRUE(w) << w.error();
  struct stat st {};
  ASSERT_EQ(::stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  auto r = read_status_file(p);
  ASSERT_TRUE(r) << r.error();
  ASSERT_TRUE(r->has_value());
  expect_same(sample(), **r);

  AgentStatus later = sample();
  later.state = AgentState::stopped;
  later.scans = 13;
  ASSERT_TRUE(write_status_file(p, later));
  r = read_status_file(p);
  ASSERT_TRUE(r && r->has_value());
  EXPECT_EQ((*r)->state, AgentState::stopped);
  EXPECT_EQ((*r)->scans, 13u);
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir.path())) ++entries;
  EXPECT_EQ(entries, 1u) << "temporary files left behind";
}

TEST(AgentStatus, MissingFileIsNotAnError) {
  TempDir dir;
  auto r = read_status_file(dir / "status.json");
  ASSERT_TRUE(r) << r.error();
  EXPECT_FALSE(r->has_value());
}

TEST(AgentStatus, ASymlinkIsReplacedOnWriteAndRefusedOnRead) {
  TempDir dir;
  const fs::path target = dir / "victim";
  write_file(target, "precious");
  const fs::path p = dir / "status.json";
  fs::create_symlink(target, p);
  auto r = read_status_file(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, p.string() + ": cannot open: it is a symbolic link (not followed)");
  ASSERT_TRUE(write_status_file(p, sample()));
  EXPECT_EQ(read_file(target), "precious");
  EXPECT_FALSE(fs::is_symlink(fs::symlink_status(p)));
  EXPECT_TRUE(read_status_file(p));
}

TEST(AgentStatus, BadFilesAreRefusedWithTheReason) {
  TempDir dir;
  const fs::path p = dir / "status.json";
  fs::create_directory(p);
  auto r = read_status_file(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::invalid_input, p.string() + ": not a regular file"));
  fs::remove(p);

  write_file(p, std::string(kAgentStatusMaxBytes + 1, ' '));
  r = read_status_file(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::corrupt, p.string() + ": larger than 1048576 bytes; not a status file"));

  write_file(p, R"({"format":1})");
  r = read_status_file(p);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), Error::make(ErrorCategory::corrupt, p.string() + ": agent_status.state: missing"));
}

TEST(AgentStatus, WriteIntoAMissingDirectoryNamesIt) {
  TempDir dir;
  const fs::path p = dir / "nope" / "status.json";
  auto w = write_status_file(p, sample());
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().message.find((dir / "nope").string()), std::string::npos) << w.error().message;
  EXPECT_NE(w.error().message.find("No such file or directory"), std::string::npos) << w.error().message;
}

}  // namespace
}  // namespace airssys::daemoneye
