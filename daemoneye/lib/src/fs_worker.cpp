#include "fs_worker.hpp"

#include <algorithm>
#include <system_error>

namespace airssys::daemoneye {

// Shared by the caller and one helper thread; outlives both (a stuck helper
// may hold it after the FsWorker is gone).
struct FsWorker::Slot {
  std::mutex m;
  std::condition_variable cv;
  std::move_only_function<void(Progress&)> job;
  bool has_job = false;
  bool done = false;
  bool quit = false;
  bool abandoned = false;
  Progress progress{0};
  std::shared_ptr<std::atomic<bool>> returned = std::make_shared<std::atomic<bool>>(false);
};

namespace {

void helper_loop(std::shared_ptr<FsWorker::Slot> slot, std::shared_ptr<std::atomic<std::size_t>> stuck) {
  std::unique_lock lk(slot->m);
  for (;;) {
    slot->cv.wait(lk, [&] { return slot->has_job || slot->quit; });
    if (!slot->has_job) return;
    auto job = std::move(slot->job);
    lk.unlock();
    job(slot->progress);
    job = nullptr;  // whatever the job holds is released on this thread, before we report
    lk.lock();
    slot->has_job = false;
    slot->done = true;
    if (slot->abandoned) {
      // Given up on: this thread was detached and replaced. It ends here.
      stuck->fetch_sub(1);
      slot->returned->store(true);  // after: whoever sees it sees the count down too
      return;
    }
    slot->cv.notify_all();
  }
}

}  // namespace

FsWorker::FsWorker(FsWorkerOptions options) : options_(options) {
  if (options_.stall.count() <= 0) options_.stall = std::chrono::milliseconds(1);
}

FsWorker::~FsWorker() {
  if (!slot_) return;
  {
    std::lock_guard lk(slot_->m);
    slot_->quit = true;
  }
  slot_->cv.notify_all();
  if (helper_.joinable()) helper_.join();
}

std::optional<FsStalled> FsWorker::run_erased(std::move_only_function<void(Progress&)> job) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  last_slow_ = false;
  last_wait_ = {};
  if (!slot_) {
    if (stuck_->load() >= options_.max_stuck) return FsStalled{.busy = true, .returned = nullptr};
    auto slot = std::make_shared<Slot>();
    try {
      helper_ = std::thread(helper_loop, slot, stuck_);
    } catch (const std::system_error&) {
      return FsStalled{.busy = true, .returned = nullptr};
    }
    slot_ = std::move(slot);
  }
  Slot& s = *slot_;
  std::unique_lock lk(s.m);
  s.job = std::move(job);
  s.has_job = true;
  s.done = false;
  s.cv.notify_all();
  // Woken every `slow` (at most every `stall`) to look at the progress
  // counter: a wake-up only while a call is slow, none for a quick one.
  const auto step = std::min(options_.slow, options_.stall);
  std::uint64_t seen = s.progress.load();
  auto last_progress = start;
  while (!s.cv.wait_for(lk, step, [&] { return s.done; })) {
    const auto t = Clock::now();
    const std::uint64_t now = s.progress.load();
    if (now != seen) {
      seen = now;
      last_progress = t;
      continue;
    }
    if (t - last_progress >= options_.slow) last_slow_ = true;
    if (t - last_progress < options_.stall) continue;
    // No progress for a whole `stall`: leave the thread to its call.
    s.abandoned = true;
    stuck_->fetch_add(1);
    ++stalls_;
    FsStalled out{.busy = false, .returned = s.returned};
    lk.unlock();
    helper_.detach();
    slot_.reset();
    last_wait_ = Clock::now() - start;
    return out;
  }
  const auto end = Clock::now();
  // The last stretch (since the last tick seen) counts too: a call that
  // answers after 1.9 s never ticks.
  if (end - last_progress >= options_.slow) last_slow_ = true;
  last_wait_ = end - start;
  return std::nullopt;
}

}  // namespace airssys::daemoneye
