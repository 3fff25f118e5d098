#include "scheduler.hpp"

#include <algorithm>
#include <atomic>
#include <climits>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "chase_lev.hpp"
#include "futex.hpp"
#include "pool.hpp"

namespace airssys::rt::detail {
namespace {

thread_local bool tls_no_block = false;

CellBase* cell_of(MpscNode* n) noexcept { return static_cast<CellBase*>(static_cast<RunHook*>(n)); }

class ThreadPool;

// Spawns past a worker's local limit, gathered for the shared queue. An
// array, so that the worker taking them learns every cell at once: when
// they were chained through the cells' run hooks (until 2026-12-06), it
// fetched each cell's first line from the spawning core in turn, one miss
// after the other, before it could run the first (a tenth of rt_bench
// spawn's samples).
struct SpawnChunk : MpscNode {
  static constexpr std::uint32_t kCells = 62;  // 512 bytes: a pool size class
  std::uint32_t n = 0;
  CellBase* cells[kCells];
  static void* operator new(std::size_t n) { return pool_allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { pool_deallocate(p, n); }
};
static_assert(sizeof(SpawnChunk) <= 512);

// The lines run() touches first on a cell: its mailbox heads and counts
// (read: senders may be writing that line, and taking it exclusive would
// take it from them), its consumer side and the typed part (written only
// by whoever runs the cell; an actor object is constructed on the first
// run).
inline void prefetch_cell(const CellBase* c) noexcept {
  __builtin_prefetch(c);
  prefetch_for_write(reinterpret_cast<const char*>(c) + 64, 192);
}

struct Worker {
  ThreadPool* pool = nullptr;
  unsigned index = 0;
  ChaseLevDeque<CellBase> deque;
  CellBase* lifo = nullptr;  // owner only
  CellBase* fresh = nullptr;  // owner only: see schedule()
  // Owner only: spawns past kLocalSpawns waiting to go to the shared
  // queue of chunks in one push (see publish_fresh()).
  SpawnChunk* spill = nullptr;
  // Owner only: a chunk taken off the shared queue, run from the array in
  // spawn order (cells[next] runs next). Not stealable: pushing its cells
  // onto the deque cost each cell a deque pop (a locked store and a read
  // of the line thieves write), and the other worker takes the next chunk
  // off the shared queue meanwhile. At most SpawnChunk::kCells - 1 wait.
  SpawnChunk* chunk = nullptr;
  std::uint32_t chunk_next = 0;
  unsigned lifo_streak = 0;
  unsigned tick = 0;
  std::uint64_t rng = 0;
  std::atomic<bool> done{false};
  std::thread thread;
};

thread_local Worker* tls_worker = nullptr;

// Consecutive LIFO-slot runs before the slot is moved to the deque, so that
// a ping-pong pair cannot starve the rest of this worker's queue.
constexpr unsigned kLifoLimit = 32;
constexpr std::size_t kInjectBatch = 64;
// How many freshly spawned cells a worker's deque takes before spawns
// overflow to the shared queue of spawn chunks (chunks_; a cell goes to the
// FIFO alone only when no chunk can be allocated). Without a bound, an actor spawning 100,000
// children in one handler grew its deque to 128 Ki slots (2 MiB of arrays
// over the doublings), and writing that fresh memory (page faults, zeroing)
// was ~5 % of rt_bench spawn's CPU time. 1,024 keeps thieves supplied.
constexpr std::int64_t kLocalSpawns = 1024;
constexpr unsigned kInjectEvery = 61;
// Belt and braces: a parked worker re-checks for work this often even if it
// missed a wake-up (it should not; see park()).
constexpr long kParkTimeoutNs = 100'000'000;
// Rounds of find_work (each after a few pause instructions) before parking.
constexpr unsigned kSpinRounds = 64;

class ThreadPool final : public Executor {
 public:
  ThreadPool(unsigned n, SystemCore* core) : core_(core) {
    for (unsigned i = 0; i < n; ++i) {
      auto w = std::make_unique<Worker>();
      w->pool = this;
      w->index = i;
      w->rng = 0x9E3779B97F4A7C15ULL * (i + 1);
      workers_.push_back(std::move(w));
    }
    for (auto& w : workers_) w->thread = std::thread([this, wp = w.get()] { loop(*wp); });
  }

  ~ThreadPool() override { stop(std::chrono::steady_clock::now() + std::chrono::seconds(5)); }

  void schedule(CellBase* c, bool fresh) noexcept override {
    Worker* w = tls_worker;
    if (w != nullptr && w->pool == this) {
      if (fresh) {
        // The newest spawn stays private until the next spawn or the end
        // of the spawning handler: a handler usually goes on to send the
        // child its first message and to drop the reference spawn()
        // returned, and a thief that had already taken the child would
        // pull its lines back and forth meanwhile. One cell waits this way
        // (plus, past the deque's limit, up to SpawnChunk::kCells - 1 in
        // w->spill: the chunk goes out when it is full), until
        // the spawning activation ends: up to `batch` messages of the
        // spawning actor, not only the handler that spawned.
        if (CellBase* prev = std::exchange(w->fresh, c)) publish_fresh(*w, prev);
        return;
      } else {
        CellBase* prev = w->lifo;
        w->lifo = c;
        if (prev == nullptr) return;
        push_local(*w, prev);
      }
      wake_one_if_sleeping();
      return;
    }
    inject(c);
  }

  // Past kLocalSpawns queued here, further spawns go to the shared queue
  // of spawn chunks, SpawnChunk::kCells at a time: one exchange and one
  // counter update per chunk (one per spawn made the counter's line travel
  // between the spawning and the draining worker on every spawn); a
  // shorter chunk goes when the spawning activation ends (flush_spill()).
  // Without memory for a chunk, the cell goes to the FIFO on its own.
  // Always inlined: g++ kept it out of line once push_local() made
  // schedule() longer (+15 instructions per spawn, callgrind).
  [[gnu::always_inline]] void publish_fresh(Worker& w, CellBase* c) noexcept {
    if (w.deque.try_push(c, kLocalSpawns)) {
      wake_one_if_sleeping();
      return;
    }
    if (w.spill == nullptr) {
      try {
        w.spill = new SpawnChunk;
      } catch (...) {
        inject(c);
        return;
      }
    }
    w.spill->cells[w.spill->n++] = c;
    if (w.spill->n == SpawnChunk::kCells) flush_spill(w);
  }

  void flush_spill(Worker& w) noexcept {
    if (w.spill == nullptr) return;
    const std::int64_t n = w.spill->n;
    chunks_.push(std::exchange(w.spill, nullptr));
    injected_.fetch_add(n, std::memory_order_seq_cst);  // after the push: see work_visible()
    wake_one_if_sleeping();
  }

  // After each run(): what the handler spawned becomes visible to thieves.
  void publish_spawns(Worker& w) noexcept {
    if (w.fresh != nullptr) publish_fresh(w, std::exchange(w.fresh, nullptr));
    flush_spill(w);
  }

  // Onto w's deque (owner only). The deque grows by allocating: without
  // memory for that the cell goes to the FIFO (intrusive, pushing it never
  // allocates), neither lost nor a std::terminate from a noexcept caller.
  void push_local(Worker& w, CellBase* c) noexcept {
    if (!w.deque.try_push(c, INT64_MAX)) inject(c);
  }

  void inject(CellBase* c) noexcept {
    inject_.push(static_cast<RunHook*>(c));
    injected_.fetch_add(1, std::memory_order_seq_cst);  // after the push: see work_visible()
    wake_one_if_sleeping();
  }

  bool stop(std::chrono::steady_clock::time_point deadline) noexcept override {
    if (stopped_) return all_joined_;
    stopped_ = true;
    stop_.store(true, std::memory_order_seq_cst);
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&epoch_, INT_MAX);
    bool all = true;
    for (auto& w : workers_) {
      while (!w->done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (w->done.load(std::memory_order_acquire)) {
        w->thread.join();
      } else {
        w->thread.detach();
        all = false;
      }
    }
    all_joined_ = all;
    if (!all) {
      // A handler is stuck on a detached worker that still references this
      // pool: keep it alive for the life of the process.
      leaked_ = true;
      return false;
    }
    // Release the run-queue references of cells that were still queued.
    for (auto& w : workers_) {
      if (w->lifo != nullptr) std::exchange(w->lifo, nullptr)->release();
      if (SpawnChunk* k = std::exchange(w->chunk, nullptr)) {
        for (std::uint32_t i = w->chunk_next; i < k->n; ++i) k->cells[i]->release();
        delete k;
      }
      publish_spawns(*w);  // into the queues drained below
      while (CellBase* c = w->deque.pop()) c->release();
    }
    while (MpscNode* n = inject_.pop()) cell_of(n)->release();
    while (MpscNode* n = chunks_.pop()) {
      std::unique_ptr<SpawnChunk> k(static_cast<SpawnChunk*>(n));
      for (std::uint32_t i = 0; i < k->n; ++i) k->cells[i]->release();
    }
    return true;
  }

  [[nodiscard]] bool leaked() const noexcept { return leaked_; }
  [[nodiscard]] unsigned workers() const noexcept override { return static_cast<unsigned>(workers_.size()); }

 private:
  void loop(Worker& w) {
    tls_worker = &w;
    set_no_block_thread(true);
    set_batch_terminations(core_, w.index);
    bool woke = false;
    while (true) {
      CellBase* c = find_work(w);
      if (c == nullptr) c = spin_for_work(w);
      if (c == nullptr) {
        flush_terminated();
        if (stop_.load(std::memory_order_acquire)) break;
        park();
        woke = true;
        continue;
      }
      // Wake-ups are throttled to one in flight (see wake_one_if_sleeping),
      // so a worker that was just woken passes the baton on if more work is
      // waiting than it can take itself.
      if (std::exchange(woke, false) && work_visible()) wake_one_if_sleeping();
      // The cell likely to run next is fetched while this one runs: a
      // spawned cell arrives from the spawning core.
      if (w.chunk != nullptr) {
        prefetch_cell(w.chunk->cells[w.chunk_next]);
      } else if (CellBase* next = w.deque.peek()) {
        prefetch_cell(next);
      }
      const CellBase::RunEnd end = c->run();
      publish_spawns(w);
      if (end == CellBase::RunEnd::again) {
        // Used up its batch: to the back of the shared FIFO, behind everything
        // already runnable here (the deque is LIFO for its owner, so pushing
        // it there would run it again at once and starve the others).
        inject(c);
      } else if (end == CellBase::RunEnd::idle) {
        c->release();
      }
    }
    flush_terminated();
    set_batch_terminations(nullptr);
    tls_worker = nullptr;
    w.done.store(true, std::memory_order_release);
  }

  CellBase* find_work(Worker& w) noexcept {
    if (w.lifo != nullptr) {
      if (++w.lifo_streak <= kLifoLimit) return std::exchange(w.lifo, nullptr);
      push_local(w, std::exchange(w.lifo, nullptr));  // no wake: the owner is awake
    }
    w.lifo_streak = 0;
    if (SpawnChunk* k = w.chunk) {
      CellBase* c = k->cells[w.chunk_next++];
      if (w.chunk_next == k->n) delete std::exchange(w.chunk, nullptr);
      return c;
    }
    // Every kInjectEvery-th pick looks at the shared FIFO first, so cells
    // that yielded there are not starved by a deque that never empties.
    if (++w.tick % kInjectEvery == 0)
      if (CellBase* c = take_injected(w)) return c;
    if (CellBase* c = w.deque.pop()) return c;
    if (CellBase* c = take_injected(w)) return c;
    const std::size_t n = workers_.size();
    if (n > 1) {
      w.rng ^= w.rng << 13;
      w.rng ^= w.rng >> 7;
      w.rng ^= w.rng << 17;
      std::size_t start = static_cast<std::size_t>(w.rng % n);
      for (std::size_t k = 0; k < n; ++k) {
        Worker& v = *workers_[(start + k) % n];
        if (&v == &w) continue;
        for (int attempt = 0; attempt < 4 && v.deque.maybe_nonempty(); ++attempt)
          if (CellBase* c = v.deque.steal()) return c;
      }
    }
    return nullptr;
  }

  // A worker that ran dry looks again for a short while before parking: on a
  // busy actor graph new work usually appears within microseconds, and a
  // park/wake round trip costs two system calls.
  CellBase* spin_for_work(Worker& w) noexcept {
    for (unsigned i = 0; i < kSpinRounds; ++i) {
#if defined(__x86_64__) || defined(__i386__)
      for (unsigned k = 0; k < 8; ++k) __builtin_ia32_pause();
#endif
      if (stop_.load(std::memory_order_relaxed)) return nullptr;
      if (CellBase* c = find_work(w)) return c;
    }
    return nullptr;
  }

  // Takes a chunk of spawns or up to kInjectBatch cells from the FIFO,
  // the two in turn (neither starves the other): the first to run now; the
  // chunk's others run from w.chunk, the FIFO's others go onto w's deque.
  CellBase* take_injected(Worker& w) noexcept {
    if (injected_.load(std::memory_order_seq_cst) <= 0) return nullptr;
    if (inject_lock_.test_and_set(std::memory_order_acquire)) return nullptr;  // someone else drains
    CellBase* first = nullptr;
    std::size_t moved = 0;
    std::int64_t popped = 0;
    chunk_first_ = !chunk_first_;
    if (chunk_first_) first = take_chunk(w, popped);
    if (first == nullptr) {
      for (std::size_t i = 0; i < kInjectBatch; ++i) {
        MpscNode* n = inject_.pop();
        if (n == nullptr) break;
        ++popped;
        if (first == nullptr) {
          first = cell_of(n);
        } else {
          push_local(w, cell_of(n));
          ++moved;
        }
      }
    }
    if (first == nullptr && !chunk_first_) first = take_chunk(w, popped);
    inject_lock_.clear(std::memory_order_release);
    injected_.fetch_sub(popped, std::memory_order_seq_cst);
    if (moved > 0) wake_one_if_sleeping();
    return first;
  }

  // Caller holds inject_lock_; w.chunk is empty (find_work drains it
  // first). The chunk's cells in spawn order: cells[0] is returned, the
  // rest run from the array (Worker::chunk).
  CellBase* take_chunk(Worker& w, std::int64_t& popped) noexcept {
    MpscNode* n = chunks_.pop();
    if (n == nullptr) return nullptr;
    auto* k = static_cast<SpawnChunk*>(n);
    popped += k->n;
    CellBase* first = k->cells[0];
    if (k->n > 1) {
      w.chunk = k;
      w.chunk_next = 1;
    } else {
      delete k;
    }
    return first;
  }

  // The injection queue is judged by its counter, not by peeking at the
  // queue: a Vyukov queue can hold an item while its head points at the
  // stub (after a concurrent push during the consumer's stub re-insertion),
  // and a peek would then report it empty and let every worker park.
  bool work_visible() const noexcept {
    if (injected_.load(std::memory_order_seq_cst) > 0) return true;
    for (auto& w : workers_)
      if (w->deque.maybe_nonempty()) return true;
    return false;
  }

  // Lost-wake-up freedom: a parker increments sleepers_ and reads epoch_
  // before re-checking the queues; a producer publishes work before reading
  // sleepers_ (all seq_cst). Either the producer sees the sleeper and bumps
  // epoch_ (so the futex wait returns at once), or the parker sees the work.
  void park() noexcept {
    sleepers_.fetch_add(1, std::memory_order_seq_cst);
    std::uint32_t e = epoch_.load(std::memory_order_seq_cst);
    if (!work_visible() && !stop_.load(std::memory_order_seq_cst)) futex_wait(&epoch_, e, kParkTimeoutNs);
    sleepers_.fetch_sub(1, std::memory_order_seq_cst);
    waking_.store(false, std::memory_order_seq_cst);
  }

  // At most one wake-up in flight: while a woken worker is on its way (it
  // clears waking_ on leaving park() and then looks for work, passing the
  // baton on if there is more), further producers skip the futex syscall.
  // Without this, an actor spawning or sending in a loop made one syscall
  // per message while the other worker kept parking (2.4 futex calls per
  // spawned actor, measured with strace -c).
  void wake_one_if_sleeping() noexcept {
    if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
    if (waking_.exchange(true, std::memory_order_seq_cst)) return;
    epoch_.fetch_add(1, std::memory_order_seq_cst);
    futex_wake(&epoch_, 1);
  }

  SystemCore* const core_;  // whose terminations the workers batch
  std::vector<std::unique_ptr<Worker>> workers_;
  MpscQueue inject_;
  MpscQueue chunks_;  // SpawnChunks
  std::atomic<std::int64_t> injected_{0};  // cells pushed minus popped, both queues (may dip below 0 briefly)
  std::atomic_flag inject_lock_ = ATOMIC_FLAG_INIT;
  bool chunk_first_ = false;  // guarded by inject_lock_
  alignas(64) std::atomic<std::uint32_t> epoch_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> waking_{false};
  std::atomic<bool> stop_{false};
  bool stopped_ = false;  // stop() is called by one thread (the system's shutdown)
  bool all_joined_ = true;
  bool leaked_ = false;
};

class ManualExecutor final : public Executor {
 public:
  void schedule(CellBase* c, bool) noexcept override {
    std::lock_guard lk(m_);
    q_.push_back(c);
  }
  std::size_t run_until_idle(std::size_t max_steps) override {
    std::size_t steps = 0;
    set_no_block_thread(true);
    while (steps < max_steps) {
      CellBase* c = nullptr;
      {
        std::lock_guard lk(m_);
        if (q_.empty()) break;
        c = q_.front();
        q_.pop_front();
      }
      ++steps;
      const CellBase::RunEnd end = c->run();
      if (end == CellBase::RunEnd::again) {
        schedule(c, false);
      } else if (end == CellBase::RunEnd::idle) {
        c->release();
      }
    }
    set_no_block_thread(false);
    return steps;
  }
  bool stop(std::chrono::steady_clock::time_point) noexcept override {
    std::deque<CellBase*> q;
    {
      std::lock_guard lk(m_);
      q.swap(q_);
    }
    for (CellBase* c : q) c->release();
    return true;
  }
  [[nodiscard]] unsigned workers() const noexcept override { return 0; }

 private:
  std::mutex m_;
  std::deque<CellBase*> q_;
};

}  // namespace

std::unique_ptr<Executor> make_thread_pool(unsigned workers, SystemCore* core) {
  return std::make_unique<ThreadPool>(workers == 0 ? 1 : workers, core);
}
std::unique_ptr<Executor> make_manual_executor() { return std::make_unique<ManualExecutor>(); }

void set_no_block_thread(bool on) noexcept { tls_no_block = on; }
bool on_worker_thread() noexcept { return tls_no_block; }

}  // namespace airssys::rt::detail
