#include <airssys/rt/system.hpp>

#include <algorithm>
#include <new>
#include <utility>

#include "pool.hpp"
#include "system_core.hpp"

namespace airssys::rt {

const char* to_string(ErrorCategory c) noexcept {
  switch (c) {
    case ErrorCategory::actor_stopped:
      return "actor_stopped";
    case ErrorCategory::mailbox_full:
      return "mailbox_full";
    case ErrorCategory::timeout:
      return "timeout";
    case ErrorCategory::system_stopped:
      return "system_stopped";
    case ErrorCategory::invalid_argument:
      return "invalid_argument";
    case ErrorCategory::broken_promise:
      return "broken_promise";
    case ErrorCategory::name_taken:
      return "name_taken";
    case ErrorCategory::not_found:
      return "not_found";
    case ErrorCategory::start_failed:
      return "start_failed";
    case ErrorCategory::circuit_open:
      return "circuit_open";
  }
  return "unknown";
}

std::string Error::to_string() const { return std::string(rt::to_string(category)) + ": " + message; }

const char* to_string(ExitReason r) noexcept {
  switch (r) {
    case ExitReason::normal: return "normal";
    case ExitReason::shutdown: return "shutdown";
    case ExitReason::error: return "error";
    case ExitReason::killed: return "killed";
  }
  return "unknown";
}

namespace detail {
namespace {

// A small number per thread (threads take turns): which termination stripe
// it counts in and which live-list shard its spawns go to.
unsigned thread_slot() noexcept {
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine;
}

// A pool worker's terminated cells, not yet handed to their shards (see
// SystemCore's live list): one array per shard, all of `core`, the system
// whose pool the worker belongs to.
struct TerminatedBatch {
  SystemCore* core = nullptr;
  std::atomic<std::uint64_t>* ended = nullptr;  // this worker's termination count
  SystemCore::DeadBatch* per_shard[SystemCore::kShards] = {};
};
thread_local TerminatedBatch tls_terminated;

}  // namespace

void set_batch_terminations(SystemCore* core, unsigned worker) noexcept {
  tls_terminated.core = core;
  tls_terminated.ended = core != nullptr && worker < core->pool_workers_ ? &core->worker_terminated_[worker].n : nullptr;
}

// Every worker of the pool, not only one that ended an actor: cells another
// worker pushed may wait for an owner that spawns no more.
void flush_terminated() noexcept {
  TerminatedBatch& t = tls_terminated;
  if (t.core == nullptr) return;
  for (auto& b : t.per_shard)
    if (b != nullptr && b->n > 0) t.core->push_dead(std::exchange(b, nullptr));
  t.core->reclaim();
}

// An idle worker frees what waits, so that cells do not wait for an owner
// that spawns no more (try_lock: a busy owner frees them itself).
void SystemCore::reclaim() noexcept {
  for (Shard& s : shards_) {
    if (s.dead.load(std::memory_order_relaxed) == nullptr || !s.m.try_lock()) continue;
    DeadBatch* d = take_dead(s);
    s.m.unlock();
    release_dead(d);
  }
  release_freed();
}

// ---- timers ----

std::uint64_t Timers::add(std::chrono::nanoseconds delay, std::move_only_function<void()> fn,
                          std::chrono::nanoseconds period) {
  return insert(delay, Entry{std::move(fn), {}, period});
}

std::uint64_t Timers::add_periodic(std::chrono::nanoseconds period, std::move_only_function<bool()> tick) {
  return insert(period, Entry{{}, std::move(tick), period});
}

std::chrono::steady_clock::time_point Timers::now() const noexcept {
  if (virtual_) return Clock::time_point(Clock::duration(vnow_ticks_.load(std::memory_order_acquire)));
  return Clock::now();
}

std::uint64_t Timers::insert(std::chrono::nanoseconds delay, Entry e) {
  std::lock_guard lk(m_);
  if (stopping_) return 0;
  if (!virtual_ && !thread_.joinable()) thread_ = std::thread([this] { loop(); });
  std::uint64_t id = next_id_++;
  auto due = (virtual_ ? vnow_ : Clock::now()) + delay;
  by_time_.emplace(std::pair{due, id}, std::move(e));
  by_id_.emplace(id, due);
  cv_.notify_one();
  return id;
}

bool Timers::cancel(std::uint64_t id) noexcept {
  std::lock_guard lk(m_);
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return false;
  by_time_.erase(std::pair{it->second, id});
  by_id_.erase(it);
  return true;
}

void Timers::stop() noexcept {
  {
    std::lock_guard lk(m_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lk(m_);
  by_time_.clear();  // releases captured refs and reply slots
  by_id_.clear();
}

std::size_t Timers::advance(std::chrono::nanoseconds d) {
  std::lock_guard lk(m_);
  if (!virtual_) return 0;
  // Callbacks run here under m_, as on the timer thread: they must not
  // block (a send to a full Overflow::block mailbox fails at once instead).
  const bool was_no_block = on_worker_thread();
  set_no_block_thread(true);
  const auto target = vnow_ + d;
  std::size_t n = 0;
  while (!stopping_ && !by_time_.empty() && by_time_.begin()->first.first <= target) {
    vnow_ = by_time_.begin()->first.first;
    vnow_ticks_.store(vnow_.time_since_epoch().count(), std::memory_order_release);
    fire_first();
    ++n;
  }
  vnow_ = target;
  vnow_ticks_.store(vnow_.time_since_epoch().count(), std::memory_order_release);
  set_no_block_thread(was_no_block);
  return n;
}

void Timers::loop() {
  set_no_block_thread(true);
  std::unique_lock lk(m_);
  while (!stopping_) {
    if (by_time_.empty()) {
      cv_.wait(lk);
      continue;
    }
    if (by_time_.begin()->first.first > Clock::now()) {
      const auto due = by_time_.begin()->first.first;  // a copy: cancel() may erase the node while we wait
      cv_.wait_until(lk, due);
      continue;
    }
    fire_first();
  }
}

// Runs the earliest timer (under m_: see the class comment) and re-arms it
// if it is periodic.
void Timers::fire_first() {
  auto node = by_time_.extract(by_time_.begin());
  const std::uint64_t id = node.key().second;
  Entry& e = node.mapped();
  bool again = true;
  if (e.tick) {
    again = e.tick();
  } else {
    e.fn();
  }
  if (e.period.count() > 0 && again) {
    auto due = node.key().first + e.period;
    node.key() = {due, id};
    by_id_[id] = due;
    by_time_.insert(std::move(node));
  } else {
    by_id_.erase(id);
  }
}

// ---- system core ----

SystemCore::SystemCore(ActorSystem* o, const SystemConfig& c) : owner(o), cfg(c) {
  // Deterministic systems are for tests: no bursts worth preparing for.
  if (!cfg.deterministic) pool_reserve(cfg.memory_reserve);
  if (cfg.deterministic) {
    exec_ = make_manual_executor();
    if (cfg.virtual_time) timers.set_virtual();
  } else {
    unsigned n = cfg.workers != 0 ? cfg.workers : std::max(1u, std::thread::hardware_concurrency());
    worker_terminated_ = std::make_unique<Stripe[]>(n);  // before the workers start
    pool_workers_ = n;
    exec_ = make_thread_pool(n, this);
  }
}

SystemCore::~SystemCore() {
  (void)shutdown();
  // A spawn that passed the stopping_ check just before shutdown() may have
  // handed batches back (freed_) after step 4's snapshot, and the workers'
  // last flush may have pushed some after it: drop those cells here.
  for (Shard& s : shards_) release_dead(s.dead.exchange(nullptr, std::memory_order_acquire));
  release_freed();
}

std::expected<void, Error> SystemCore::start_cell(CellBase* c) noexcept {
  if (stopping_.load(std::memory_order_acquire))
    return std::unexpected(Error{ErrorCategory::system_stopped, "actor system is shutting down"});
  c->live_shard = static_cast<std::uint8_t>(thread_slot() % kShards);
  Shard& s = shards_[c->live_shard];
  DeadBatch* dead = nullptr;
  bool listed = true;
  {
    std::lock_guard lk(s.m);
    if (s.dead.load(std::memory_order_relaxed) != nullptr) dead = take_dead(s);
    if (s.free_head != UINT32_MAX) {
      c->live_slot = s.free_head;
      s.free_head = static_cast<std::uint32_t>(s.slots[s.free_head] >> 1);
      s.slots[c->live_slot] = reinterpret_cast<std::uintptr_t>(c);
      ++s.used;
    } else {
      try {
        s.slots.push_back(reinterpret_cast<std::uintptr_t>(c));
        c->live_slot = static_cast<std::uint32_t>(s.slots.size() - 1);
        ++s.used;
      } catch (...) {
        listed = false;
      }
    }
    if (listed) {
      // Under the lock, so that snapshot() never sees the cell without
      // them. Two references in one step: the live list's (dropped when
      // the slot is freed) and the run queue's (pending_ starts at 1: the
      // start token). A cell spawned unlinked is known to no other thread
      // yet (its one reference is the spawning call's): a plain store.
      c->id_ = next_id_.fetch_add(1, std::memory_order_relaxed);
      if (c->supervised) c->refs_.fetch_add(2, std::memory_order_relaxed);
      else c->refs_.store(3, std::memory_order_relaxed);
    }
  }
  hand_back(dead);
  if (!listed) return std::unexpected(Error{ErrorCategory::start_failed, "out of memory for the live-actor list"});
  flush_outbox();  // the child may tell what the spawning handler has chained tells to
  exec_->schedule(c, true);
  return {};
}

void SystemCore::free_slot(Shard& s, std::uint32_t slot) noexcept {
  s.slots[slot] = (static_cast<std::uintptr_t>(s.free_head) << 1) | 1;
  s.free_head = slot;
  --s.used;
}

// Mostly free (a burst of actors has ended): the free slots past the last
// cell go, and the others are chained lowest first, so that spawns fill
// the front and snapshot(), which stops after the last cell, reads little.
// No slot number outside the lock names a free slot (a worker's batch
// names occupied ones), so none is renumbered.
void SystemCore::compact(Shard& s) noexcept {
  if (s.slots.size() < kCompactFrom || s.used * std::size_t{4} > s.slots.size()) return;
  while (!s.slots.empty() && (s.slots.back() & 1) != 0) s.slots.pop_back();
  s.free_head = UINT32_MAX;
  for (std::size_t i = s.slots.size(); i-- > 0;) {
    if ((s.slots[i] & 1) == 0) continue;
    s.slots[i] = (static_cast<std::uintptr_t>(s.free_head) << 1) | 1;
    s.free_head = static_cast<std::uint32_t>(i);
  }
  if (s.slots.capacity() / 2 > s.slots.size()) {
    try {
      s.slots.shrink_to_fit();
    } catch (...) {  // keeps the larger array
    }
  }
}

SystemCore::DeadBatch* SystemCore::take_dead(Shard& s) noexcept {
  DeadBatch* d = s.dead.exchange(nullptr, std::memory_order_acquire);
  std::int64_t n = 0;
  for (DeadBatch* b = d; b != nullptr; b = b->next) {
    for (std::uint32_t i = 0; i < b->n; ++i) free_slot(s, b->slots[i]);
    n += b->n;
  }
  if (n > 0) s.dead_count.fetch_sub(n, std::memory_order_relaxed);
  return d;
}

void SystemCore::hand_back(DeadBatch* b) noexcept {
  if (b == nullptr) return;
  DeadBatch* last = b;
  while (last->next != nullptr) last = last->next;
  DeadBatch* old = freed_.load(std::memory_order_relaxed);
  do {
    last->next = old;
  } while (!freed_.compare_exchange_weak(old, b, std::memory_order_release, std::memory_order_relaxed));
}

void SystemCore::release_freed() noexcept {
  if (freed_.load(std::memory_order_relaxed) == nullptr) return;
  release_dead(freed_.exchange(nullptr, std::memory_order_acquire));
}

// Usually the last references: the cells are destroyed. Their other lines
// (mailbox tails, the actor's part) are fetched a few cells ahead.
void SystemCore::release_dead(DeadBatch* b) noexcept {
  constexpr std::uint32_t kAhead = 4;
  while (b != nullptr) {
    for (std::uint32_t i = 0; i < b->n; ++i) {
      if (i + kAhead < b->n) {
        prefetch_for_write(b->cells[i + kAhead], 192);
      }
      b->cells[i]->release(2);  // the live list's and the terminating run's (remove_live)
    }
    delete std::exchange(b, b->next);
  }
}

void SystemCore::push_dead(DeadBatch* b) noexcept {
  Shard& s = shards_[b->cells[0]->live_shard];
  const std::int64_t n = b->n;
  DeadBatch* old = s.dead.load(std::memory_order_relaxed);
  do {
    b->next = old;
  } while (!s.dead.compare_exchange_weak(old, b, std::memory_order_release, std::memory_order_relaxed));
  // The owner has not spawned for a while: free them here rather than
  // keep their memory (try_lock: never wait for the owner).
  if (s.dead_count.fetch_add(n, std::memory_order_relaxed) + n >= kDrainAt && s.m.try_lock()) {
    DeadBatch* d = take_dead(s);
    s.m.unlock();
    release_dead(d);
  }
  release_freed();
}

void SystemCore::remove_live(CellBase* c) noexcept {
  // The count goes up before stopping_ is read, and shutdown sets stopping_
  // before it waits; a termination that reads stopping_ too early and a
  // shutdown that reads the count too early may both miss (a pool worker's
  // own counter is a plain store, no fence), so the shutdown's wait also
  // looks again every millisecond (wait_live_zero()).
  TerminatedBatch& t = tls_terminated;
  if (t.core == this && t.ended != nullptr) {
    t.ended->store(t.ended->load(std::memory_order_relaxed) + 1, std::memory_order_release);
  } else {
    terminated_[thread_slot() % kStripes].n.fetch_add(1, std::memory_order_seq_cst);
  }
  if (stopping_.load(std::memory_order_seq_cst) && live() == 0) [[unlikely]] {
    std::lock_guard lk(live_m_);
    live_cv_.notify_all();
  }
  if (t.core == this) {
    // The batch takes the running thread's reference too (see
    // CellBase::handed_run_ref()), so it is handed on only after this run
    // has ended: a full array goes at the next termination here, or when
    // the worker runs out of work (flush_terminated()).
    DeadBatch*& b = t.per_shard[c->live_shard];
    if (b != nullptr && b->n == kDeadBatch) push_dead(std::exchange(b, nullptr));
    if (b == nullptr) b = new (std::nothrow) DeadBatch;
    if (b != nullptr) {
      b->slots[b->n] = c->live_slot;
      b->cells[b->n++] = c;
      c->handed_run_ref();
      return;
    }
  }
  Shard& s = shards_[c->live_shard];
  {
    std::lock_guard lk(s.m);
    free_slot(s, c->live_slot);
  }
  c->release();
}

// Terminations first, then spawns: a termination counted here happened
// after its spawn was counted, so the difference never goes below zero.
std::uint64_t SystemCore::live() const noexcept {
  std::uint64_t ended = 0;
  for (const Stripe& s : terminated_) ended += s.n.load(std::memory_order_seq_cst);
  for (unsigned i = 0; i < pool_workers_; ++i) ended += worker_terminated_[i].n.load(std::memory_order_acquire);
  const std::uint64_t spawned = next_id_.load(std::memory_order_seq_cst) - 1;
  return spawned - ended;
}

std::vector<IntrusivePtr<CellBase>> SystemCore::snapshot(bool top_level_only) {
  std::vector<IntrusivePtr<CellBase>> out;
  for (Shard& s : shards_) {
    DeadBatch* dead = nullptr;
    {
      std::lock_guard lk(s.m);
      dead = take_dead(s);
      std::uint32_t seen = 0;
      for (std::size_t i = 0; i < s.slots.size() && seen < s.used; ++i) {
        const std::uintptr_t v = s.slots[i];
        if ((v & 1) != 0) continue;
        ++seen;
        auto* c = reinterpret_cast<CellBase*>(v);
        // Closed: terminated, its slot not freed yet (in a worker's batch).
        if (!c->closed() && (!top_level_only || !c->supervised)) out.emplace_back(c);
      }
      compact(s);
    }
    release_dead(dead);
  }
  release_freed();
  return out;
}

bool SystemCore::wait_live_zero(std::chrono::steady_clock::time_point deadline) {
  if (cfg.deterministic) {
    run_until_idle(10'000'000);
    return live() == 0;
  }
  // Woken by the last termination, or finds it within a millisecond if the
  // two crossed (remove_live()).
  std::unique_lock lk(live_m_);
  while (live() != 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    live_cv_.wait_until(lk, std::min(deadline, now + std::chrono::milliseconds(1)));
  }
  return true;
}

std::expected<void, Error> SystemCore::shutdown() noexcept {
  std::lock_guard guard(shutdown_m_);
  if (shutdown_result_) return *shutdown_result_;
  stopping_.store(true, std::memory_order_seq_cst);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + cfg.shutdown_timeout;
  bool clean = true;
  // 1. Ask top-level actors to stop; supervisors stop their children in order.
  for (auto& c : snapshot(true))
    c->enqueue_system(SysMsg{SysMsg::Kind::exit, 0, ExitReason::shutdown, {}});
  if (!wait_live_zero(start + cfg.shutdown_timeout / 2)) {
    // 2. Everyone still alive gets a shutdown signal, then a kill.
    for (auto& c : snapshot(false)) c->enqueue_system(SysMsg{SysMsg::Kind::exit, 0, ExitReason::shutdown, {}});
    if (!wait_live_zero(start + cfg.shutdown_timeout * 3 / 4)) {
      clean = false;
      for (auto& c : snapshot(false)) c->enqueue_system(SysMsg{SysMsg::Kind::kill, 0, ExitReason::killed, {}});
      (void)wait_live_zero(deadline);
    }
  }
  // 3. Stop the workers (a worker stuck in a handler is detached and leaked).
  if (!exec_->stop(std::max(deadline, Clock::now() + std::chrono::milliseconds(100)))) {
    clean = false;
    (void)exec_.release();  // NOLINT: deliberately leaked, a detached worker still uses it
    exec_ = make_manual_executor();
  }
  timers.stop();
  // 4. Whatever is left is torn down here, on this thread.
  for (auto& c : snapshot(false)) {
    clean = false;
    c->force_terminate();
  }
  if (clean) shutdown_result_.emplace();
  else
    shutdown_result_.emplace(
        std::unexpected(Error{ErrorCategory::timeout, "actors had to be killed at shutdown"}));
  return *shutdown_result_;
}

SystemStats SystemCore::stats() const noexcept {
  return SystemStats{live(), next_id_.load(std::memory_order_relaxed) - 1,
                     dead_letters_.load(std::memory_order_relaxed)};
}

HealthSnapshot SystemCore::health() {
  HealthSnapshot h;
  h.system = stats();
  const auto now = timers.now();
  for (auto& c : snapshot(false)) {
    ActorHealth a{c->id(), c->stats(), {}};
    if (auto src = c->health_source()) src->fill(a, now);
    h.mailbox_depth_total += a.stats.mailbox_depth;
    h.dropped_total += a.stats.dropped;
    h.failures_total += a.stats.failures;
    h.actors.push_back(std::move(a));
  }
  std::sort(h.actors.begin(), h.actors.end(), [](const ActorHealth& a, const ActorHealth& b) { return a.id < b.id; });
  return h;
}

// ---- core_api.hpp ----

ActorSystem& system_of(SystemCore* core) noexcept { return *core->owner; }
std::expected<void, Error> start_cell(SystemCore* core, CellBase* cell) noexcept { return core->start_cell(cell); }
std::uint64_t timer_add(SystemCore* core, std::chrono::nanoseconds delay, std::move_only_function<void()> fn,
                        std::chrono::nanoseconds period) {
  flush_outbox();  // what fn sends (send_after, a 0 delay) goes after the handler's chained tells
  return core->timers.add(delay, std::move(fn), period);
}
bool timer_cancel(SystemCore* core, std::uint64_t id) noexcept { return core->timers.cancel(id); }
std::uint64_t timer_add_periodic(SystemCore* core, std::chrono::nanoseconds period,
                                 std::move_only_function<bool()> tick) {
  flush_outbox();
  return core->timers.add_periodic(period, std::move(tick));
}

// Each thread numbers its envelopes in a block of 2^40 of its own. The
// block is taken on the thread's first envelope, not by a thread_local's
// dynamic initialiser: that one put an initialisation check (a call
// through the TLS wrapper) in front of every envelope's id.
std::uint64_t next_envelope_id() noexcept {
  static std::atomic<std::uint64_t> threads{1};
  thread_local constinit std::uint64_t last = 0;
  if (last == 0) [[unlikely]]
    last = threads.fetch_add(1, std::memory_order_relaxed) << 40;
  return ++last;
}

}  // namespace detail

// ---- ActorSystem ----

ActorSystem::ActorSystem(SystemConfig cfg) : core_(std::make_unique<detail::SystemCore>(this, cfg)) {}
ActorSystem::~ActorSystem() { (void)shutdown(); }
std::expected<void, Error> ActorSystem::shutdown() noexcept { return core_->shutdown(); }
std::size_t ActorSystem::run_until_idle(std::size_t max_steps) { return core_->run_until_idle(max_steps); }
std::size_t ActorSystem::advance_time(std::chrono::nanoseconds d) { return core_->timers.advance(d); }
SystemStats ActorSystem::stats() const noexcept { return core_->stats(); }
HealthSnapshot ActorSystem::health() const { return core_->health(); }
Registry& ActorSystem::registry() noexcept { return core_->registry; }
unsigned ActorSystem::workers() const noexcept { return core_->workers(); }
std::chrono::steady_clock::time_point ActorSystem::now() const noexcept { return core_->timers.now(); }

}  // namespace airssys::rt
