#pragma once
// The shared state of one ActorSystem: executor, timers, live actors,
// counters. Private to rt.
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/registry.hpp>
#include <airssys/rt/system.hpp>
#include <array>
#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "scheduler.hpp"
#include "spin_lock.hpp"

namespace airssys::rt::detail {

// One timer thread per system, started on first use. Timer callbacks run on
// it under its lock (so cancel() returning true means the callback will not
// run); they must be short and must not call back into the timers.
class Timers {
 public:
  std::uint64_t add(std::chrono::nanoseconds delay, std::move_only_function<void()> fn,
                    std::chrono::nanoseconds period);
  // Periodic: tick runs every period until cancelled or until it returns
  // false (e.g. its target actor has stopped).
  std::uint64_t add_periodic(std::chrono::nanoseconds period, std::move_only_function<bool()> tick);
  // The timers' clock: steady_clock, or the virtual clock. Lock-free.
  [[nodiscard]] std::chrono::steady_clock::time_point now() const noexcept;
  bool cancel(std::uint64_t id) noexcept;
  void stop() noexcept;
  // Virtual time (deterministic systems with SystemConfig::virtual_time): no
  // thread; time moves only in advance(), which runs the callbacks that fall
  // due, in due order, on the calling thread. Returns how many ran.
  void set_virtual() noexcept { virtual_ = true; }
  std::size_t advance(std::chrono::nanoseconds d);
  ~Timers() { stop(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::move_only_function<void()> fn;    // one-shot, or periodic without an end
    std::move_only_function<bool()> tick;  // periodic that may end itself
    std::chrono::nanoseconds period{0};
  };
  std::uint64_t insert(std::chrono::nanoseconds delay, Entry e);
  void loop();
  void fire_first();  // caller holds m_; by_time_ not empty

  std::mutex m_;
  std::condition_variable cv_;
  std::map<std::pair<Clock::time_point, std::uint64_t>, Entry> by_time_;
  std::unordered_map<std::uint64_t, Clock::time_point> by_id_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  bool virtual_ = false;
  Clock::time_point vnow_{};  // virtual mode: the current virtual time
  std::atomic<Clock::rep> vnow_ticks_{0};  // vnow_ for lock-free readers (now())
  std::thread thread_;
};

class SystemCore {
 public:
  SystemCore(ActorSystem* owner, const SystemConfig& cfg);
  ~SystemCore();

  void schedule(CellBase* c, bool fresh) noexcept { exec_->schedule(c, fresh); }
  std::expected<void, Error> start_cell(CellBase* c) noexcept;
  // On termination. The live list's reference goes when the cell leaves
  // its slot: at once on a plain thread; on this system's pool workers the
  // cell is handed to its shard in a batch (flush_terminated()) and freed by
  // the shard's owner, see Shard.
  void remove_live(CellBase* c) noexcept;
  void dead_letter() noexcept { dead_letters_.fetch_add(1, std::memory_order_relaxed); }
  std::expected<void, Error> shutdown() noexcept;
  std::size_t run_until_idle(std::size_t max_steps) { return exec_->run_until_idle(max_steps); }
  [[nodiscard]] SystemStats stats() const noexcept;
  [[nodiscard]] HealthSnapshot health();
  [[nodiscard]] unsigned workers() const noexcept { return exec_->workers(); }

  ActorSystem* owner;
  SystemConfig cfg;
  Registry registry;
  Timers timers;

 private:
  // Spawning and terminating run on different workers: every counter and
  // lock they touch sits on its own cache line, so that a spawn does not
  // wait for the line a termination on the other core has just written
  // (in a profile of rt_bench spawn, the stopping_ check, the id and live
  // counters sharing one line took most of start_cell's samples).
  // Live actors = spawned - terminated; terminations are counted per pool
  // worker (each its own counter and line, a plain store) and, on other
  // threads, in per-thread stripes so terminating threads do not share a
  // line either.
  //
  //
  // The live list: one shard per spawning thread (threads take turns over
  // kShards), each an array of slots, a terminated cell's slot freed by
  // the spawning thread itself. Why: when the cell's worker unlinked it
  // under the shard's lock (a doubly linked list, until 2026-12-05), every
  // spawn and every termination on the other core took that lock and
  // wrote the neighbours' links: the lock's line and the neighbours' lines
  // crossed cores twice per actor (a fifth of rt_bench spawn's samples sat
  // in that lock), and a worker preempted while holding it stopped the
  // spawner.
  //
  // Now a pool worker keeps the cells it terminated, with their slot
  // numbers, in one array per shard (a DeadBatch) and pushes a full array
  // onto the shard's `dead` stack with one compare-exchange. The spawner,
  // which takes its own shard's lock anyway (uncontended), frees those
  // slots at its next spawn, reading only the array, and hands the arrays
  // back through `freed_`; a worker then drops the list's references
  // (usually the last: the cells are destroyed where they ran and their
  // lines are still in that core's cache). Should the owner not spawn
  // again, a worker that finds kDrainAt or more cells waiting frees their
  // slots itself, and so does every worker before it parks (reclaim(),
  // whether or not that worker ended an actor itself). Until then a
  // terminated cell (its actor object already destroyed, its spawn
  // arguments not yet) keeps its memory while every worker is busy: at
  // most kDeadBatch per shard and worker (in its batches) plus about
  // kDrainAt per shard either on the dead stack or, its slot freed by the
  // owner, in `freed_` (every push drops all of freed_, and the owner takes
  // only what was pushed). snapshot() frees whatever waits, lists
  // only cells not yet closed, reads each shard only up to its last cell
  // (`used` counts them) and compacts a shard that is mostly free.
 public:
  static constexpr std::size_t kShards = 16;
  static constexpr std::uint32_t kDeadBatch = 64;
  struct DeadBatch {
    DeadBatch* next = nullptr;
    std::uint32_t n = 0;
    std::uint32_t slots[kDeadBatch];
    CellBase* cells[kDeadBatch];
  };
  // Drops the list's references of cells whose slots were freed (any
  // thread; workers call it when they push a batch).
  void release_freed() noexcept;
  // Frees the slots of every terminated cell waiting in a shard whose lock
  // is free, and drops their references (workers, before parking).
  void reclaim() noexcept;

 private:
  static constexpr std::size_t kStripes = 8;
  static constexpr std::int64_t kDrainAt = 256;
  static constexpr std::size_t kCompactFrom = 1024;  // slots; a smaller array is not worth it
  struct alignas(64) Shard {
    SpinLock m;
    // Guarded by m. A slot holds a cell, or (low bit set, cells being
    // 64-aligned) the index of the next free slot shifted left by one.
    std::vector<std::uintptr_t> slots;
    std::uint32_t free_head = UINT32_MAX;
    std::uint32_t used = 0;  // slots holding a cell
    // Written by the terminating workers; its own line.
    alignas(64) std::atomic<DeadBatch*> dead{nullptr};
    std::atomic<std::int64_t> dead_count{0};
  };
  struct alignas(64) Stripe {
    std::atomic<std::uint64_t> n{0};
  };
  friend void set_batch_terminations(SystemCore* core, unsigned worker) noexcept;
  friend void flush_terminated() noexcept;
  void push_dead(DeadBatch* b) noexcept;
  // Caller holds s.m: frees the slots of the cells waiting in s.dead and
  // returns their batches, for hand_back() or release_dead() once the
  // lock is dropped.
  static DeadBatch* take_dead(Shard& s) noexcept;
  static void free_slot(Shard& s, std::uint32_t slot) noexcept;
  static void compact(Shard& s) noexcept;  // caller holds s.m
  static void release_dead(DeadBatch* b) noexcept;
  void hand_back(DeadBatch* b) noexcept;
  std::vector<IntrusivePtr<CellBase>> snapshot(bool top_level_only);
  bool wait_live_zero(std::chrono::steady_clock::time_point deadline);
  [[nodiscard]] std::uint64_t live() const noexcept;

  std::unique_ptr<Executor> exec_;
  std::array<Shard, kShards> shards_;
  std::array<Stripe, kStripes> terminated_;  // terminations on threads other than pool workers
  // One per pool worker, written only by that worker (a plain store, no
  // atomic read-modify-write per actor; remove_live()).
  std::unique_ptr<Stripe[]> worker_terminated_;
  unsigned pool_workers_ = 0;
  alignas(64) std::atomic<bool> stopping_{false};   // read by every spawn, written once
  alignas(64) std::atomic<std::uint64_t> next_id_{1};  // spawn side only; spawned = next_id_ - 1
  alignas(64) std::atomic<std::uint64_t> dead_letters_{0};
  alignas(64) std::atomic<DeadBatch*> freed_{nullptr};  // see the live list above
  std::mutex live_m_;
  std::condition_variable live_cv_;
  std::mutex shutdown_m_;
  std::optional<std::expected<void, Error>> shutdown_result_;
};

}  // namespace airssys::rt::detail
