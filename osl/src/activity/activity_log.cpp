#include "activity/activity_log.hpp"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "activity/kept_records.hpp"

namespace airssys::osl::detail {

ActivityLog::ActivityLog(std::vector<std::shared_ptr<ActivitySink>> sinks, std::size_t capacity,
                         std::chrono::milliseconds shutdown_grace)
    : sinks_(std::move(sinks)), capacity_(std::max<std::size_t>(capacity, 2)), shutdown_grace_(shutdown_grace) {
  std::erase(sinks_, nullptr);
  write_through_ = std::any_of(sinks_.begin(), sinks_.end(), [](const auto& s) { return s->write_through(); });
  if (!sinks_.empty()) writer_ = std::thread([this] { run(); });
}

ActivityLog::~ActivityLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  not_empty_.notify_all();
  if (writer_.joinable()) writer_.join();
}

bool ActivityLog::flush(std::chrono::milliseconds timeout) {
  if (sinks_.empty()) return true;
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  ++flush_waiters_;
  not_empty_.notify_one();
  const bool done = progress_.wait_for(lock, timeout, [&] { return completed_ >= target; });
  --flush_waiters_;
  return done;
}

void ActivityLog::release_end_slot() {
  {
    std::lock_guard lock(mu_);
    if (reserved_ > 0) --reserved_;
  }
  not_full_.notify_all();
}

ActivityLog::Paused ActivityLog::pause_writer() {
  if (!writer_.joinable()) return Paused(nullptr);
  {
    std::lock_guard lock(mu_);
    pausing_ = true;
  }
  not_empty_.notify_all();
  writer_.join();
  {
    std::lock_guard lock(mu_);
    pausing_ = false;
    writer_sleeping_ = false;
  }
  return Paused(this);
}

void ActivityLog::resume_writer() { writer_ = std::thread([this] { run(); }); }

std::string ActivityLog::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void ActivityLog::run() {
  std::vector<ActivityRecord> batch;
  std::size_t batch_len = 0;
  // What is kept of the records of `batch` and of `queue_`: the two vectors
  // trade places at every batch, and so do these.
  KeptRecords batch_kept;
  KeptRecords queue_kept;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      auto ready = [this] { return queued_ > 0 || stopping_ || pausing_; };
      if (!ready()) {
        writer_sleeping_ = true;
        not_empty_.wait(lock, ready);
        writer_sleeping_ = false;
      }
      if (pausing_) return;
      // Gather for up to a millisecond before writing. Taking the lock for
      // every few records would make producers and the writer trade the
      // mutex (and futex calls) on every operation; gathering makes it one
      // hand-over per millisecond. A flush, shutdown or a half-full queue
      // cuts the wait short.
      not_empty_.wait_for(lock, std::chrono::milliseconds(1),
                          [this] { return stopping_ || flush_waiters_ > 0 || queued_ >= capacity_ / 2; });
      if (queued_ == 0 && stopping_) return;
      // The producers get the records of the batch before, written, to fill again.
      batch.swap(queue_);
      std::swap(batch_kept, queue_kept);
      batch_len = std::exchange(queued_, 0);
    }
    not_full_.notify_all();
    write_to_all(std::span<const ActivityRecord>(batch.data(), batch_len));
    batch_kept.trim(batch, batch_len);
    {
      std::lock_guard lock(mu_);
      completed_ += batch_len;
    }
    progress_.notify_all();
  }
}

void ActivityLog::write_to_all(std::span<const ActivityRecord> batch) {
  using namespace std::chrono;
  for (const auto& sink : sinks_) {
    auto backoff = milliseconds(10);
    std::optional<steady_clock::time_point> give_up_at;
    for (;;) {
      auto r = sink->write(batch);
      if (r) break;
      sink_errors_.fetch_add(1, std::memory_order_relaxed);
      bool stopping = false;
      {
        std::lock_guard lock(mu_);
        last_error_ = fmt::format("{}: {}", sink->name(), r.error().message);
        stopping = stopping_;
      }
      if (stopping) {
        if (!give_up_at) give_up_at = steady_clock::now() + shutdown_grace_;
        if (steady_clock::now() >= *give_up_at) {
          // Shutting down and the sink stays broken: say so loudly, naming
          // how many records this sink could not take.
          const auto msg = fmt::format("airssys-osl: audit sink {} failed at shutdown; {} records not written: {}\n",
                                       sink->name(), batch.size(), r.error().message);
          [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg.data(), msg.size());
          break;
        }
      }
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, milliseconds(1000));
    }
  }
  written_.fetch_add(batch.size(), std::memory_order_relaxed);
}

}  // namespace airssys::osl::detail
