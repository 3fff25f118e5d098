#pragma once
// StoreBacklog — what the agent could not write to its Store yet, kept for a
// bounded retry, so a full disk or an I/O error does not lose process
// events that procmond delivered ("nothing acknowledged is lost" as far as
// memory allows).
//
// Event batches are kept in arrival order and written back oldest first,
// each batch one transaction (Store writes are all-or-nothing, so a retry
// never duplicates rows). A failed collection (snapshot) is kept too, but
// only the newest: a collection is the whole process table, so a newer one
// supersedes an older one. Bounds: at most `max_batches` event batches and
// `max_bytes` of their estimated memory; past either the oldest batches are
// dropped and their events counted in `events_dropped`.
//
// Retries back off: after a failure the next attempt is due after
// `retry_initial`, doubling up to `retry_max`; a success resets it. Callers
// force an attempt when a new collection arrives (the "next scan").
//
// Thread safety: one thread at a time (the agent's scan loop).

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/scan_assembler.hpp>
#include <airssys/daemoneye/store.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace airssys::daemoneye {

struct StoreBacklogOptions {
  std::size_t max_batches = 1024;
  std::size_t max_bytes = 64ull * 1024 * 1024;
  std::chrono::milliseconds retry_initial{250};
  std::chrono::milliseconds retry_max{5000};
};

// The counters status.json and `daemoneye-cli status` show.
struct StoreBacklogCounters {
  std::uint64_t store_failures = 0;        // failed store writes, retries included
  std::uint64_t batches_pending = 0;       // event batches + a collection waiting for a retry
  std::uint64_t events_pending = 0;        // events in those batches
  std::uint64_t events_dropped = 0;        // events given up: past the bounds, or still pending at stop
  std::uint64_t snapshots_superseded = 0;  // pending collections replaced by a newer one
  std::string last_error;                  // the last failure's to_string(); "" before any
  friend bool operator==(const StoreBacklogCounters&, const StoreBacklogCounters&) = default;
};

class StoreBacklog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit StoreBacklog(StoreBacklogOptions options = {});

  // Queues `batch` behind what is pending (an empty batch is ignored).
  void add_events(std::vector<ProcessEvent> batch);

  // Writes pending event batches oldest first until one fails or none is
  // left. While backing off (see due()) nothing is tried unless `force`.
  // Returns the failure, if one happened in this call.
  [[nodiscard]] Result<void> write_events(Store& store, Clock::time_point now, bool force);

  // A collection the store refused (or that had to wait behind pending
  // events): kept for a retry; a pending older one is superseded.
  void keep_collection(Collection c);
  [[nodiscard]] std::optional<Collection> take_collection();
  [[nodiscard]] bool has_collection() const noexcept { return collection_.has_value(); }

  // Counts a failed write made outside write_events (a collection's) and
  // starts or lengthens the backoff.
  void failed(const Error& e, Clock::time_point now);
  // A write succeeded: the backoff ends.
  void succeeded() noexcept;

  // True when an attempt should be made now: not backing off, or the
  // backoff has run out.
  [[nodiscard]] bool due(Clock::time_point now) const noexcept;
  [[nodiscard]] bool events_empty() const noexcept { return batches_.empty(); }
  [[nodiscard]] bool empty() const noexcept { return batches_.empty() && !collection_; }

  // Gives up on everything pending (the agent stops with the store still
  // failing): events counted as dropped. Returns how many events that was.
  std::uint64_t drop_all() noexcept;
  // Counts `events` given up that never reached the backlog (still on the
  // bus when the agent stops) in events_dropped.
  void count_dropped(std::uint64_t events) noexcept { dropped_ += events; }

  [[nodiscard]] StoreBacklogCounters counters() const;

  // Estimated heap bytes of one event (what the byte bound counts).
  [[nodiscard]] static std::size_t estimated_bytes(const ProcessEvent& e) noexcept;

 private:
  struct Batch {
    std::vector<ProcessEvent> events;
    std::size_t bytes = 0;
  };
  void drop_oldest() noexcept;

  StoreBacklogOptions options_;
  std::deque<Batch> batches_;
  std::size_t bytes_ = 0;
  std::uint64_t events_pending_ = 0;
  std::optional<Collection> collection_;
  std::uint64_t failures_ = 0, dropped_ = 0, superseded_ = 0;
  std::string last_error_;
  std::optional<Clock::time_point> retry_at_;  // set while backing off
  std::chrono::milliseconds backoff_{0};
};

}  // namespace airssys::daemoneye
