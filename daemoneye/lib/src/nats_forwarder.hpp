#pragma once
// NatsForwarder — what the nats alert sink and process-event forwarding
// share: messages go to an on-disk NatsSpool first and are published from
// there to JetStream by one sender thread, each removed only once the
// stream acked it (docs/daemoneye.md "Forwarding to NATS JetStream").
//
// submit() appends to the spool (written and fdatasynced before it
// returns, one write per call however many messages) and wakes the sender;
// it never waits for NATS. The sender publishes the oldest spooled message
// with js_PublishMsg (ExpectStream, Nats-Msg-Id) and waits for the ack
// (`timeout`); one in flight at a time keeps them in order across outages
// and restarts. A failure no retry can fix (the message is larger than the
// server or stream accepts, the stream refuses that message for good: see
// publish_failure_is_permanent) drops that message, counted in
// nats_dropped and logged; any other failure (server down, no stream, a
// timeout, the stream full or out of storage) is retried with backoff from
// 250 ms to 5 s while libnats reconnects on its own; the spool holds
// everything meanwhile (bounded: the oldest are dropped and counted).
//
// Counters go to the SinkCounters given (nats_* and errors); `what`
// ("alerts", "events") names the messages in logs.

#include <nats/nats.h>

#include <airssys/daemoneye/config.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "alert_sink.hpp"
#include "nats_connection.hpp"
#include "nats_spool.hpp"

namespace airssys::daemoneye::detail {

// True when JetStream (or libnats) refused the message itself, so sending
// it again can never succeed: too large for the server or the stream, a
// request the server calls malformed, a subject libnats refuses. Everything
// else (no stream yet, stream full, storage or cluster trouble, timeouts,
// lost connections, permissions) may pass later and is retried.
[[nodiscard]] bool publish_failure_is_permanent(natsStatus status, jsErrCode code) noexcept;

struct NatsForwarderOptions {
  std::string what = "alerts";  // plural noun for logs
  std::string spool_name = "alerts";  // NatsSpool file names
  // The subject of a spooled message (sender thread; called once per message).
  std::function<std::string(const NatsSpool::Message&)> subject_of;
};

class NatsForwarder {
 public:
  // Opens the spool (config.spool_dir), connects (an unreachable server is
  // not an error) and starts the sender. `who` starts error messages.
  [[nodiscard]] static Result<std::unique_ptr<NatsForwarder>> open(const SinkConfig& config, NatsForwarderOptions options,
                                                                  std::string_view who,
                                                                  std::shared_ptr<SinkCounters> counters, SinkLog log);
  // Stops the sender (a publish in flight is cut short; its message stays spooled).
  ~NatsForwarder();
  NatsForwarder(const NatsForwarder&) = delete;
  NatsForwarder& operator=(const NatsForwarder&) = delete;

  // One thread at a time (the submitting thread).
  void submit(std::vector<NatsSpool::Entry> entries);

  // For a clean stop: waits until the spool is empty, at most `max`, and
  // gives up sooner once `stalled` passes without one message acked or
  // dropped (the server is unreachable: no point waiting). Returns what is
  // still spooled (sent at the next start). Any thread but the sender.
  [[nodiscard]] std::size_t drain(std::chrono::milliseconds max, std::chrono::milliseconds stalled);

 private:
  NatsForwarder(const SinkConfig& config, NatsForwarderOptions options, std::unique_ptr<NatsSpool> spool,
                std::unique_ptr<NatsConnection> nc, JsCtxPtr js, std::shared_ptr<SinkCounters> counters, SinkLog log);
  [[nodiscard]] Result<void> publish(const NatsSpool::Message& m, const std::string& subject);
  // Takes the message off the spool and counts it in `outcome` (acked or
  // dropped) under the same lock.
  void drop_front(std::uint64_t seq, std::atomic<std::uint64_t>& outcome);
  void count_reconnects();
  void run();

  const NatsForwarderOptions options_;
  const std::string subject_;
  const std::string stream_;
  const std::chrono::milliseconds timeout_;
  const std::string name_;
  const std::shared_ptr<SinkCounters> counters_;
  FailureReporter spool_report_;    // submitting thread
  FailureReporter publish_report_;  // sender thread, except log() from the constructor
  std::uint64_t reconnects_seen_ = 0;  // sender thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<NatsSpool> spool_;  // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::atomic<bool> overflowing_{false};
  std::unique_ptr<NatsConnection> nc_;  // thread-safe (libnats); closed by the destructor
  JsCtxPtr js_;                          // after nc_: destroyed first
  std::thread thread_;                   // last: started when everything above exists
};

}  // namespace airssys::daemoneye::detail
