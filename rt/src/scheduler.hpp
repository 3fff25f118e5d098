#pragma once
// Executors run cells. Two implementations:
//  - ThreadPool: N workers, each with a Chase-Lev deque plus a one-cell LIFO
//    slot (the cell most recently made runnable by this worker's actor runs
//    next, so a request/reply pair stays on one core and in cache). A cell
//    spawned by an actor is queued on the spawning worker's deque; the
//    newest such spawn stays private until the next spawn or the end of the
//    spawning activation (up to `batch` messages; so a thief does not take a
//    child its parent is still writing to), and past 1,024 queued spawns
//    they go to a shared queue in arrays of 62 (held privately until full
//    or the activation ends) instead of growing the deque. Idle
//    workers steal from the others' deques; cells made runnable by threads
//    outside the pool, and cells that used up their batch (yielding), go
//    through one lock-free MPSC FIFO; any worker may drain it or the
//    spawn arrays (a try-lock, so no worker ever waits on them). Idle
//    workers park on a futex wake counter; the hot path only reads an
//    atomic sleeper count.
//  - ManualExecutor: FIFO on the caller's thread, for deterministic tests.
//
// schedule() takes over one reference to the cell (released when the cell
// goes idle) and is thread-safe.
#include <airssys/rt/detail/cell.hpp>
#include <chrono>
#include <cstddef>

namespace airssys::rt::detail {

class Executor {
 public:
  virtual ~Executor() = default;
  // fresh: a newly spawned cell (queued behind existing work, not in the LIFO slot).
  virtual void schedule(CellBase* c, bool fresh) noexcept = 0;
  // Stops the workers and releases queued cells. Returns false if a worker
  // did not finish by the deadline (it is then detached and leaked).
  virtual bool stop(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  // Deterministic executor only.
  virtual std::size_t run_until_idle(std::size_t /*max_steps*/) { return 0; }
  [[nodiscard]] virtual unsigned workers() const noexcept = 0;
};

class SystemCore;

// The workers of a pool batch the terminations of `core`'s cells (see
// set_batch_terminations()).
std::unique_ptr<Executor> make_thread_pool(unsigned workers, SystemCore* core);
std::unique_ptr<Executor> make_manual_executor();

// Marks the current thread as one that must never block (workers, the
// manual loop while it runs, the timer thread).
void set_no_block_thread(bool on) noexcept;

// A pool worker of `core`'s executor (nullptr: none; `worker`: its index,
// below the worker count `core` was made with) collects the cells of
// `core` it terminates and hands them to their live-list shards in batches
// (SystemCore::remove_live), and counts them in a counter of its own; it
// must call flush_terminated() before it parks and before it exits, which
// also frees the slots other workers' batches wait in, whether or not this
// worker ended an actor itself.
void set_batch_terminations(SystemCore* core, unsigned worker = 0) noexcept;
void flush_terminated() noexcept;

}  // namespace airssys::rt::detail
