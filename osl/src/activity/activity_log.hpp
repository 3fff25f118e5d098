#pragma once
// ActivityLog — the bounded, asynchronous queue between operations and sinks.
//
// push() is called from any thread; one writer thread hands batches to the
// sinks. A full queue makes push() wait: records are never dropped. A sink
// that fails is retried with the same batch (backoff up to 1 s) until it
// succeeds, so a broken sink eventually fills the queue and stalls producers
// — the pipeline then refuses new operations rather than run them unaudited.

#include <airssys/osl/activity.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace airssys::osl::detail {

class ActivityLog {
 public:
  ActivityLog(std::vector<std::shared_ptr<ActivitySink>> sinks, std::size_t capacity,
              std::chrono::milliseconds shutdown_grace);
  ~ActivityLog();  // drains the queue; gives up on a failing sink after shutdown_grace
  ActivityLog(const ActivityLog&) = delete;
  ActivityLog& operator=(const ActivityLog&) = delete;

  [[nodiscard]] bool enabled() const noexcept { return !sinks_.empty(); }
  // Some sink asks that operations wait until their start record is written.
  [[nodiscard]] bool write_through() const noexcept { return write_through_; }

  // How a record uses the queue. A start record also reserves room for its
  // operation's end record, so an end record never waits: an operation that
  // has run can always be recorded, even while a sink is failing.
  enum class Slot : std::uint8_t { start, end, single };

  // Queues one record. start/single records wait while the queue is full, up
  // to `timeout` (then return false: the record was not queued and the caller
  // must not proceed as if it had been). end records never wait.
  [[nodiscard]] bool push(ActivityRecord&& record, Slot slot, std::chrono::milliseconds timeout);

  // Waits until everything queued before the call has been written.
  [[nodiscard]] bool flush(std::chrono::milliseconds timeout);

  // Ends the writer thread between two batches; a new one starts when the
  // guard goes. For fork() (process.fork): a child forked while another
  // thread held a lock (the allocator's, under AddressSanitizer) inherits it
  // held forever, so the forking thread must be the only one. Records queued
  // meanwhile wait for the new writer. One pause at a time.
  class Paused {
   public:
    explicit Paused(ActivityLog* log) noexcept : log_(log) {}
    Paused(const Paused&) = delete;
    Paused& operator=(const Paused&) = delete;
    ~Paused() { if (log_) log_->resume_writer(); }
   private:
    ActivityLog* log_;
  };
  [[nodiscard]] Paused pause_writer();

  // Gives back the room a start record reserved for its end record, for an
  // operation that will not run after all (its start was never written).
  void release_end_slot();

  [[nodiscard]] std::uint64_t written() const noexcept { return written_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t sink_errors() const noexcept { return sink_errors_.load(std::memory_order_relaxed); }
  // The most recent sink error, for messages ("audit log stalled: …").
  [[nodiscard]] std::string last_error() const;

 private:
  void run();
  void resume_writer();
  void write_to_all(std::vector<ActivityRecord>& batch);

  std::vector<std::shared_ptr<ActivitySink>> sinks_;
  const std::size_t capacity_;
  const std::chrono::milliseconds shutdown_grace_;
  bool write_through_ = false;

  mutable std::mutex mu_;
  bool pausing_ = false;  // pause_writer(): the writer returns between batches
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable progress_;
  std::vector<ActivityRecord> queue_;
  std::size_t reserved_ = 0;     // room held for end records of running operations
  std::uint64_t enqueued_ = 0;   // records ever queued
  std::uint64_t completed_ = 0;  // records ever written (or abandoned at shutdown)
  bool stopping_ = false;
  bool writer_sleeping_ = false;  // producers wake the writer only then (see run())
  int flush_waiters_ = 0;         // a flush is waiting: write without gathering
  std::string last_error_;

  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> sink_errors_{0};
  std::thread writer_;
};

}  // namespace airssys::osl::detail
