#pragma once
// EventForwarder — the agent's process events (start, exec, stop: what it
// stores in process_events) published to NATS JetStream, opt-in by the
// config's `events.nats` (docs/daemoneye.md "Forwarding process events to
// NATS").
//
// forward() only appends to an on-disk spool (one write and fdatasync per
// call, however many events) and returns; a sender thread publishes from
// the spool, one message at a time, each removed once the stream acked it,
// so events arrive in order, once each (Nats-Msg-Id dedup), across NATS
// outages and agent restarts. A fork storm fills the spool, never the
// agent's ingest path: past spool.max_size the oldest events are dropped and
// counted. The spool, retries and drops are the nats alert sink's
// (nats_forwarder.hpp); the spool file is events.spool.
//
// The message: the bus event's JSON (docs "Bus messages") with "host"
// first: {"host":"web1","event":"exec","source":"ebpf","time":T,
// "process":{...},...}. Nats-Msg-Id: "<host>|<event>|<pid>|<32 hex digits
// of the JSON's SHA-256>" — the same for every retry of one event, distinct
// for any two events that differ in any field.
//
// Thread-safety: forward() from one thread at a time; stats() from any.

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/events.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace airssys::daemoneye {

class EventForwarder {
 public:
  struct Stats {
    std::uint64_t published = 0;   // publish attempts, retries included
    std::uint64_t acked = 0;       // events JetStream acked
    std::uint64_t spooled = 0;     // events waiting in the spool now (a gauge)
    std::uint64_t dropped = 0;     // dropped from a full spool, or refused for good by JetStream
    std::uint64_t reconnects = 0;  // reconnections to the NATS servers
    std::uint64_t errors = 0;      // failed publishes and spool writes
    friend bool operator==(const Stats&, const Stats&) = default;
  };

  // Opens the spool, connects (an unreachable server is not an error: events
  // wait in the spool) and starts the sender. `config` is events.nats; `host`
  // names the events (the agent's host). Errors as the nats alert sink's.
  [[nodiscard]] static Result<std::unique_ptr<EventForwarder>> open(const SinkConfig& config, std::string host,
                                                                   std::function<void(std::string_view)> log);
  ~EventForwarder();
  EventForwarder(const EventForwarder&) = delete;
  EventForwarder& operator=(const EventForwarder&) = delete;

  void forward(std::span<const ProcessEvent> events);
  // For a clean stop, after the last forward(): waits for the spool to empty,
  // at most `max`, less when nothing moves for a second (the server is
  // away). Returns how many events are still spooled; they are sent at the
  // next start (JetStream drops a repeat by its Msg-Id).
  [[nodiscard]] std::size_t drain(std::chrono::milliseconds max);
  [[nodiscard]] Stats stats() const;

  struct Impl;

 private:
  explicit EventForwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The message body and Nats-Msg-Id of one event (described above).
[[nodiscard]] std::string event_message_json(const ProcessEvent& e, std::string_view host);
[[nodiscard]] std::string event_message_id(const ProcessEvent& e, std::string_view host, std::string_view json);

}  // namespace airssys::daemoneye
