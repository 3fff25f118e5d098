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
#include <span>
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

  // Queues one record: `fill(ActivityRecord&)` writes every field of it.
  // start/single records wait while the queue is full, up to `timeout` (then
  // return false: the record was not queued and the caller must not proceed
  // as if it had been). end records never wait.
  //
  // The records are kept from batch to batch (within KeptRecords' bounds), so
  // `fill` assigns into strings that have kept their capacity: a record
  // costs no allocation once they have grown, and no memory goes from the
  // operation's thread to the writer's to be freed there. `fill` runs under
  // the queue's lock: it must only copy. If it throws (bad_alloc), nothing
  // is queued and the exception reaches the caller.
  template <class Fill>
  [[nodiscard]] bool push(Slot slot, std::chrono::milliseconds timeout, Fill&& fill);

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
  void write_to_all(std::span<const ActivityRecord> batch);

  std::vector<std::shared_ptr<ActivitySink>> sinks_;
  const std::size_t capacity_;
  const std::chrono::milliseconds shutdown_grace_;
  bool write_through_ = false;

  mutable std::mutex mu_;
  bool pausing_ = false;  // pause_writer(): the writer returns between batches
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::condition_variable progress_;
  std::vector<ActivityRecord> queue_;  // [0, queued_) are queued; the rest wait to be reused
  std::size_t queued_ = 0;
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

template <class Fill>
bool ActivityLog::push(Slot slot, std::chrono::milliseconds timeout, Fill&& fill) {
  if (sinks_.empty()) return true;
  std::unique_lock lock(mu_);
  if (slot != Slot::end) {
    // Invariant: queued_ + reserved_ <= capacity_ (end records of running
    // operations always fit). A start needs room for two.
    const std::size_t need = slot == Slot::start ? 2 : 1;
    auto has_room = [&] { return queued_ + reserved_ + need <= capacity_; };
    if (!has_room() && !not_full_.wait_for(lock, timeout, has_room)) return false;
  }
  if (queued_ == queue_.size()) queue_.emplace_back();
  fill(queue_[queued_]);
  ++queued_;
  if (slot == Slot::start) {
    ++reserved_;
  } else if (slot == Slot::end && reserved_ > 0) {
    --reserved_;
  }
  ++enqueued_;
  // Wake the writer only when it sleeps idle, or when the queue reaches half
  // its capacity (it then stops gathering and writes at once).
  const bool wake = writer_sleeping_ || queued_ == capacity_ / 2;
  writer_sleeping_ = false;
  lock.unlock();
  if (wake) not_empty_.notify_one();
  return true;
}

}  // namespace airssys::osl::detail
