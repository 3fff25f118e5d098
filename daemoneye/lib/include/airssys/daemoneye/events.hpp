#pragma once
// What procmond publishes on the bus, and how it is encoded (JSON payloads;
// wire format in docs/daemoneye.md "Bus messages").
//
//   events.process.start|stop|exec   one ProcessEvent each
//   events.process.snapshot          one chunk of a full collection: the
//                                    agent stores a scan once it has every
//                                    chunk (seq 0..n-1, `last` on the final one)
//
// Order: procmond publishes a scan's events before its snapshot chunks, on
// one connection, so a subscriber sees them in that order.

#include <airssys/daemoneye/process_record.hpp>

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

inline constexpr std::string_view kSubjectSnapshot = "events.process.snapshot";
inline constexpr std::string_view kSubjectStart = "events.process.start";
inline constexpr std::string_view kSubjectStop = "events.process.stop";
inline constexpr std::string_view kSubjectExec = "events.process.exec";
inline constexpr std::string_view kSubjectAll = "events.process.>";

enum class EventKind : std::uint8_t { start, stop, exec };
[[nodiscard]] std::string_view to_string(EventKind k) noexcept;
[[nodiscard]] std::string_view subject_of(EventKind k) noexcept;

// Where an event came from (issue 11 adds proc_connector and ebpf).
enum class EventSource : std::uint8_t { poll, proc_connector, ebpf };
[[nodiscard]] std::string_view to_string(EventSource s) noexcept;

struct ProcessEvent {
  EventKind kind = EventKind::start;
  EventSource source = EventSource::poll;
  std::int64_t time = 0;  // Unix seconds when it was observed
  ProcessRecord process;  // stop: the last state seen
};

struct SnapshotChunk {
  std::uint64_t scan_id = 0;  // increases by one per collection of one procmond run
  std::uint32_t seq = 0;
  bool last = false;
  std::int64_t time = 0;      // Unix seconds, the collection's start
  std::uint32_t total = 0;    // processes in the whole collection (on every chunk)
  std::uint32_t unreadable = 0;  // processes with partial records in the whole collection
  std::uint64_t collect_us = 0;  // how long the collection took
  std::vector<ProcessRecord> processes;
};

[[nodiscard]] std::string encode(const ProcessEvent& e);
[[nodiscard]] std::string encode(const SnapshotChunk& c);
// Errors say what was malformed ("snapshot: processes[3].pid: not an integer").
[[nodiscard]] std::expected<ProcessEvent, std::string> decode_event(std::string_view json);
[[nodiscard]] std::expected<SnapshotChunk, std::string> decode_snapshot(std::string_view json);

// JSON object of a record's columns (osquery names), as stored in alerts.
[[nodiscard]] std::string to_json(const ProcessRecord& r);

}  // namespace airssys::daemoneye
