#pragma once
// FsWorker — runs the collector's file system calls (the executable's stat,
// lookups, open and read) on a helper thread, and stops waiting for one that
// has made no progress for `stall`.
//
// Why: a FUSE daemon that never answers, or a hard NFS mount whose server
// went away, blocks a call in the kernel until the file system answers or
// its connection is aborted; made on the scan thread, such a call stops
// every collection. Here the caller gets `Stalled` instead and carries on.
//
// A thread cannot be killed or woken out of such a call: it is left behind
// ("stuck", detached) and a new helper takes the next job. At most
// max_stuck threads are left behind at once; past that run() refuses every
// job (`busy`) until one of them returns, so a hung mount costs a bounded
// number of threads, never the scan. A stuck thread ends by itself when its
// call returns: the server answers, or the connection is aborted (`umount
// -f`, echo 1 > /sys/fs/fuse/connections/N/abort, the FUSE daemon exits).
//
// Cost: one hand-over to the helper and back per job (two futex wake-ups).
//
// Thread safety: run() from one thread at a time. A job must own (or share)
// everything it touches: after a stall it may still run after run() has
// returned, after the FsWorker is gone.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace airssys::daemoneye {

struct FsWorkerOptions {
  std::chrono::milliseconds stall{2000};  // no progress for this long: given up on
  std::size_t max_stuck = 4;              // threads left behind at most
  // No progress for this long, even if the call then returns: the call was
  // slow (last_slow()). A caller avoids such a file system for a while: one
  // answering every call after 1.9 s is never "stalled", yet would stretch a
  // scan to minutes.
  std::chrono::milliseconds slow{250};
};

// Given up on, or never started.
struct FsStalled {
  bool busy = false;  // not started: max_stuck threads are stuck, or no thread could be made
  // Set once the stalled call has returned (null when busy): what it waited
  // on answers again.
  std::shared_ptr<const std::atomic<bool>> returned;
};

class FsWorker {
 public:
  // A job calls tick() after each step that made progress (each chunk
  // read), so that a long read that keeps going is not taken for a stall.
  using Progress = std::atomic<std::uint64_t>;

  explicit FsWorker(FsWorkerOptions options = {});
  ~FsWorker();  // ends the helper; stuck threads end when their call returns
  FsWorker(const FsWorker&) = delete;
  FsWorker& operator=(const FsWorker&) = delete;

  template <class T, class Job>
  [[nodiscard]] std::expected<T, FsStalled> run(Job job) {
    auto result = std::make_shared<std::optional<T>>();
    auto stalled = run_erased([result, job = std::move(job)](Progress& progress) mutable {
      *result = job(progress);
    });
    if (stalled) return std::unexpected(std::move(*stalled));
    return std::move(**result);
  }

  [[nodiscard]] std::size_t stuck() const noexcept { return stuck_->load(); }  // left behind now
  [[nodiscard]] std::uint64_t stalls() const noexcept { return stalls_; }      // given up on, ever
  // The last run() that returned a result went `slow` or longer without
  // progress (between its start, its ticks and its end; seen to within `slow`).
  [[nodiscard]] bool last_slow() const noexcept { return last_slow_; }
  // Time the last run() waited (whatever its outcome).
  [[nodiscard]] std::chrono::steady_clock::duration last_wait() const noexcept { return last_wait_; }

  struct Slot;

 private:
  std::optional<FsStalled> run_erased(std::move_only_function<void(Progress&)> job);

  FsWorkerOptions options_;
  std::shared_ptr<std::atomic<std::size_t>> stuck_ = std::make_shared<std::atomic<std::size_t>>(0);
  std::uint64_t stalls_ = 0;
  bool last_slow_ = false;
  std::chrono::steady_clock::duration last_wait_{};
  std::shared_ptr<Slot> slot_;  // the current helper's, null until the first job
  std::thread helper_;
};

}  // namespace airssys::daemoneye
