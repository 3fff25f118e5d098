#include <airssys/rt/actor.hpp>
#include <airssys/rt/detail/cell.hpp>

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "system_core.hpp"

namespace airssys::rt::detail {
namespace {

thread_local CellBase* tls_current = nullptr;

struct CurrentGuard {
  explicit CurrentGuard(CellBase* c) noexcept : prev(std::exchange(tls_current, c)) {}
  ~CurrentGuard() { tls_current = prev; }
  CellBase* prev;
};

std::string describe(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception";
  }
}

// pending_'s halves (see cell.hpp).
constexpr std::uint32_t queued(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v); }
constexpr std::uint32_t reserved(std::uint64_t v) noexcept { return static_cast<std::uint32_t>(v >> 32); }
// What counts against the capacity: queued messages and reserved slots.
constexpr std::uint32_t occupied(std::uint64_t v) noexcept { return queued(v) + reserved(v); }

}  // namespace

CellBase* current_cell() noexcept { return tls_current; }

EnvelopeHeader header_of(const Envelope* e) noexcept { return e != nullptr ? e->header() : EnvelopeHeader{}; }

// Sender-side coalescing. A handler that tells one target many times in a
// row (a producer feeding a consumer) would otherwise pay, per message, a
// compare-exchange on the target's pending_ and an exchange on its queue
// head: cache lines that every other sender and the receiver, on other
// cores, write too (rt_bench fanin spent most of its time waiting for
// them). A tell is chained here instead when the handler's previous tell
// went to the same target in the same tick of the envelope clock (now_ns(),
// CLOCK_MONOTONIC_COARSE: 4 ms here, 1-10 ms by the kernel's HZ) and it has
// no TTL; the chain is published with one exchange and one pending_ update:
// at kChunk envelopes; at the next tell to that target in a later tick
// (which goes with it, so a handler that tells more slowly than once a tick
// never holds anything, and a fast burst goes out at least once a tick; a
// precise clock read per chained tell cost 45 % of rt_bench fanin, every 8th
// tell 10-15 %, this one nothing measurable); at a tell with a TTL (it would
// be timed while held); when the handler tells another target; before
// anything that lets another actor or thread see what the handler did
// (flush_outbox(): every system message, a reply, a spawn, a timer, a
// registry or broker change, a least_loaded pick); and when the handler
// returns (run(), even if it threw). What a handler told in its last tick
// before it blocks or computes is held until it returns or does one of
// those: it must not block (docs/rt.md).
//
// Publishing can run user code (a refused when_space function's or a
// waiter's last reference's destructors, from wake_space_waiters); if that
// tells, it must neither be held after the handler nor lose a chain: the
// outbox is closed until none is open (flush()), and a handler's outbox is
// shut before its last chain goes.
//
// The capacity stays exact: a bounded mailbox's slots are reserved in
// pending_'s high half before a tell is acknowledged, so a tell is refused
// exactly when queued messages plus reserved slots fill the capacity.
// Reservations grow with the chain (1, 2, 4, ... kChunk), never beyond an
// eighth of the capacity (at least 1) nor the room left, so a sender that
// stops telling holds back at most about as many spare slots as it has
// told that target in a row, and others are not refused by an almost
// empty mailbox. Reserved slots do not
// make the target runnable (only the low half does); publishing moves the
// used ones to the low half and gives the unused ones back. A target that
// stops before the chain is published dead-letters it, as a tell racing a
// stop always could.
struct Outbox {
  static constexpr std::uint32_t kChunk = 64;
  bool open = false;           // a handler is running on this thread (run())
  CellBase* last = nullptr;    // target of this handler's previous tell; compared only
  std::int64_t last_ts = 0;    // that tell's timestamp_ns (a coarse clock)
  CellBase* to = nullptr;      // the target being coalesced to; holds a reference
  MpscNode* first = nullptr;   // the chain, linked through next
  MpscNode* tail = nullptr;
  std::uint32_t n = 0;         // envelopes in the chain
  std::uint32_t held = 0;      // slots reserved in to->pending_; n of them used
  std::uint32_t grant = 1;     // the next reservation's size (doubles up to kChunk)

  // c is `to`; the caller holds a reference too.
  std::expected<void, Error> add(CellBase& c, std::unique_ptr<Envelope> e) noexcept;
  // Publishes the chain to c (`to`, or the target close() just dropped).
  void publish(CellBase& c) noexcept;
  void close() noexcept {  // publishes and drops the target
    if (to == nullptr) return;
    // Dropped first: publishing may send system messages (wake_space_waiters),
    // which close the outbox of their target.
    CellBase* c = std::exchange(to, nullptr);
    publish(*c);
    grant = 1;
    c->release();
  }
  // Until no chain is open: one publish may run user code that tells twice.
  void flush() noexcept {
    while (to != nullptr) close();
  }
};

namespace {
thread_local Outbox tls_outbox;

// Opens the outbox for one handler and closes it when the handler is done.
struct HandlerOutbox {
  HandlerOutbox() noexcept {
    tls_outbox.open = true;
    tls_outbox.last = nullptr;
  }
  ~HandlerOutbox() {
    tls_outbox.open = false;  // first: what the last publish runs tells directly
    tls_outbox.flush();
  }
};
}  // namespace

void flush_outbox() noexcept { tls_outbox.flush(); }

std::expected<void, Error> Outbox::add(CellBase& c, std::unique_ptr<Envelope> e) noexcept {
  const auto overflow = static_cast<Overflow>(c.overflow_);
  if (c.capacity_ != 0 && overflow != Overflow::drop_oldest && held == n) {
    std::uint64_t v = c.pending_.load(std::memory_order_relaxed);
    for (;;) {
      const std::uint32_t occ = occupied(v);
      if (occ >= c.capacity_) return c.refuse();
      const std::uint32_t k =
          std::min({grant, kChunk - n, c.capacity_ - occ, std::max<std::uint32_t>(1, c.capacity_ / 8)});
      if (c.pending_.compare_exchange_weak(v, v + (std::uint64_t{k} << 32), std::memory_order_acq_rel,
                                           std::memory_order_relaxed)) {
        held += k;
        grant = std::min(grant * 2, kChunk);
        break;
      }
    }
  }
  MpscNode* node = e.release();
  if (n == 0) {
    first = node;
  } else {
    tail->next.store(node, std::memory_order_relaxed);
  }
  tail = node;
  if (++n == kChunk) publish(c);
  return {};
}

void Outbox::publish(CellBase& c) noexcept {
  const std::uint32_t used = n, reserved_here = held, unused = held > n ? held - n : 0;
  if (used == 0 && unused == 0) return;
  // Queued before pushed, as in enqueue(): the receiver then never counts
  // a message it has consumed before the count rose.
  const std::uint64_t prev =
      c.pending_.fetch_add(std::uint64_t{used} - (std::uint64_t{reserved_here} << 32), std::memory_order_seq_cst);
  if (used != 0) mpsc_push_chain(c.user_head_, first, tail);
  first = tail = nullptr;
  n = held = 0;
  if (used != 0 && queued(prev) == 0) {
    c.add_ref();  // the run queue's reference
    c.sys_->schedule(&c, false);
  }
  // Slots given back are room a refused sender may be waiting for (the
  // receiver, perhaps idle, would not tell it): seq_cst on both sides as
  // in run().
  if (unused != 0 && c.space_waiters_.load(std::memory_order_seq_cst))
    c.wake_space_waiters(occupied(prev) + used - reserved_here);  // held is 0 by now
}

std::expected<void, Error> CellBase::refuse() noexcept {
  dropped_.fetch_add(1, std::memory_order_relaxed);
  if (static_cast<Overflow>(overflow_) == Overflow::drop_newest) return {};
  return std::unexpected(Error{ErrorCategory::mailbox_full, "mailbox full"});
}

// Links and monitors, allocated on first use (most actors never link).
struct CellExt {
  std::mutex m;
  bool dead = false;
  bool registered = false;  // guarded by m
  std::string failure;      // guarded by m: what() of the failure that terminated the actor
  std::uint32_t blocked_senders = 0;   // guarded by m: plain threads in block_for_space()
  std::condition_variable space_cv;    // with m: room freed or the actor stopped
  std::vector<std::pair<IntrusivePtr<CellBase>, std::move_only_function<void()>>> space_waiters;  // guarded by m
  std::vector<IntrusivePtr<CellBase>> links;     // guarded by m
  std::vector<IntrusivePtr<CellBase>> monitors;  // guarded by m
  std::shared_ptr<const HealthSource> health;    // guarded by m
};

CellBase::CellBase(SystemCore* sys, const MailboxConfig& cfg) noexcept
    : overflow_(static_cast<std::uint8_t>(cfg.overflow)),
      capacity_(cfg.capacity),
      batch_(cfg.batch != 0 ? cfg.batch : sys->cfg.batch),
      block_timeout_ms_(static_cast<std::uint32_t>(cfg.block_timeout.count())),
      sys_(sys) {
  mpsc_init(sys_head_, sys_tail_);
  mpsc_init(user_head_, user_tail_);
}

CellBase::~CellBase() {
  // Nothing counted, nothing queued: a message is counted before it is
  // pushed and uncounted after it is popped, and no reservation outlives
  // the outbox's reference. Usually so (the actor consumed everything).
  if (queued(pending_.load(std::memory_order_acquire)) != 0) {
    while (MpscNode* n = mpsc_pop(sys_head_, sys_tail_)) delete static_cast<Envelope*>(n);
    while (MpscNode* n = mpsc_pop(user_head_, user_tail_)) delete static_cast<Envelope*>(n);
  }
  delete ext_.load(std::memory_order_acquire);
}

ActorStats CellBase::stats() const noexcept {
  ActorStats s;
  s.processed = processed_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.restarts = restarts_.load(std::memory_order_relaxed);
  const std::uint64_t p = pending_.load(std::memory_order_relaxed);
  s.mailbox_depth = queued(p);
  s.mailbox_reserved = reserved(p);
  return s;
}

ExitReason CellBase::exit_reason() const noexcept {
  return static_cast<ExitReason>(exit_reason_.load(std::memory_order_acquire));
}

CellExt* CellBase::ext() noexcept {
  CellExt* x = ext_.load(std::memory_order_seq_cst);
  if (x != nullptr) return x;
  auto fresh = std::make_unique<CellExt>();
  if (ext_.compare_exchange_strong(x, fresh.get(), std::memory_order_seq_cst)) return fresh.release();
  return x;  // another thread won; ours is freed
}

std::expected<void, Error> CellBase::enqueue(std::unique_ptr<Envelope> e) noexcept {
  if (closed()) {
    sys_->dead_letter();
    return std::unexpected(Error{ErrorCategory::actor_stopped, "actor has stopped"});
  }
  // Inside a handler (a worker, or a deterministic system's run_until_idle:
  // either way Overflow::block refuses rather than blocks): coalesce a tell
  // that follows one to this cell in the same clock tick (see Outbox).
  if (Outbox& o = tls_outbox; o.open) {
    const std::int64_t ts = e->timestamp_ns;
    const bool ttl = e->has_deadline();
    if (o.to == this && ts == o.last_ts && !ttl) return o.add(*this, std::move(e));
    if (o.last == this && ts == o.last_ts && !ttl) {
      o.flush();
      add_ref();
      o.to = this;
      o.last = this;  // the flush may have told another cell
      o.last_ts = ts;
      return o.add(*this, std::move(e));
    }
    o.flush();  // keep the order of this handler's tells, to this cell and to others
    o.last = this;
    o.last_ts = ts;
  }
  std::uint64_t prev = 0;
  const auto overflow = static_cast<Overflow>(overflow_);
  if (capacity_ == 0 || overflow == Overflow::drop_oldest) {
    prev = pending_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    std::uint64_t c = pending_.load(std::memory_order_relaxed);
    std::chrono::steady_clock::time_point deadline{};
    for (;;) {
      if (occupied(c) >= capacity_) {
        if (overflow == Overflow::drop_newest || overflow == Overflow::fail || on_worker_thread()) return refuse();
        // Overflow::block on a plain thread: sleep on the mailbox's condition
        // variable until the receiver frees room, the actor stops, or the
        // block timeout passes (no polling: run() and terminate() notify).
        if (deadline == std::chrono::steady_clock::time_point{})
          deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(block_timeout_ms_);
        const bool room = block_for_space(deadline);
        if (closed()) {
          sys_->dead_letter();
          return std::unexpected(Error{ErrorCategory::actor_stopped, "actor has stopped"});
        }
        if (!room) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          return std::unexpected(Error{ErrorCategory::mailbox_full, "mailbox full (blocked until timeout)"});
        }
        c = pending_.load(std::memory_order_relaxed);
        continue;
      }
      if (pending_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_relaxed)) break;
    }
    prev = c;
  }
  mpsc_push(user_head_, e.release());
  if (queued(prev) == 0) {
    add_ref();  // the run queue's reference
    sys_->schedule(this, false);
  }
  return {};
}

void CellBase::enqueue_system(SysMsg m) noexcept {
  if (closed()) {
    sys_->dead_letter();
    return;
  }
  auto e = std::make_unique<TypedEnvelope<SysMsg>>(std::move(m));
  e->tag = type_tag<SysMsg>;
  e->set_priority(Priority::system);
  CellBase* cur = current_cell();
  e->set_sender(cur != nullptr ? cur->id() : 0);
  // Tells this handler has chained go first, to whichever actor: a system
  // message lets its receiver act on what the handler did (an exit signal
  // it traps, a reply's invoke, a down notice), and what it then tells the
  // chain's target must not overtake the chain, as it could not when every
  // tell went at once.
  tls_outbox.flush();
  std::uint64_t prev = pending_.fetch_add(1, std::memory_order_acq_rel);
  mpsc_push(sys_head_, e.release());
  if (queued(prev) == 0) {
    add_ref();
    sys_->schedule(this, false);
  }
}

CellBase::RunEnd CellBase::run() noexcept {
  CurrentGuard guard(this);
  std::uint32_t consumed = 0;
  if (!started_) {
    started_ = true;
    consumed = 1;  // the start token
    if (!terminated_) {
      try {
        start();
      } catch (...) {
        failures_.fetch_add(1, std::memory_order_relaxed);
        note_failure(std::current_exception());
        terminate(ExitReason::error);
      }
      if (stop_request_ != 0 && !terminated_) terminate(static_cast<ExitReason>(stop_request_ - 1));
    }
  }
  if (capacity_ != 0 && static_cast<Overflow>(overflow_) == Overflow::drop_oldest) trim_oldest(consumed);
  for (std::uint32_t n = 0; n < batch_; ++n) {
    MpscNode* node = mpsc_pop(sys_head_, sys_tail_);
    const bool system = node != nullptr;
    if (node == nullptr) {
      node = mpsc_pop(user_head_, user_tail_);
      // The next envelope was written by a sender, most likely on another
      // core: start fetching its first line (header and a payload of up to
      // 16 bytes) while this one is handled. Not the line after it: for
      // most envelopes (64 bytes) that is another block, perhaps being
      // written by another core; a 128-byte one's second line is the other
      // half of an aligned pair (pool.cpp), which the hardware's
      // adjacent-line prefetcher fetches with the first. rt_bench pingpong
      // and fanin measured the same with and without the second prefetch.
      if (MpscNode* upcoming = user_tail_.tail; node != nullptr && upcoming != &user_tail_.stub)
        __builtin_prefetch(upcoming);
    }
    if (node == nullptr) break;
    ++consumed;
    std::unique_ptr<Envelope> e(static_cast<Envelope*>(node));
    if (terminated_) {
      if (!system) sys_->dead_letter();
      continue;
    }
    if (system) {
      handle_system(static_cast<TypedEnvelope<SysMsg>&>(*e).payload);
    } else {
      if (e->has_deadline() && now_ns() > e->ext()->deadline_ns) {
        expired_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      current_ = e.get();
      try {
        HandlerOutbox outbox;  // the handler's chained tells go before a failure is handled
        dispatch(*e);
      } catch (...) {
        handle_failure(std::current_exception());
      }
      current_ = nullptr;
      processed_.store(processed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
    if (stop_request_ != 0 && !terminated_) terminate(static_cast<ExitReason>(stop_request_ - 1));
  }
  // Once pending_ drops, another thread may schedule and run this cell. A
  // bounded mailbox still checks for senders waiting for space after the
  // drop (checking before could miss one that registered meanwhile); it
  // holds its own reference for that and touches only thread-safe state.
  const bool bounded = capacity_ != 0;
  // Read before pending_ drops: from then on a late sender may schedule
  // this (terminated) cell and another worker run it.
  const bool handed = std::exchange(run_ref_handed_, false);
  if (bounded) add_ref();
  const std::uint64_t prev = pending_.fetch_sub(consumed, std::memory_order_seq_cst);
  if (bounded) {
    if (space_waiters_.load(std::memory_order_seq_cst)) wake_space_waiters(occupied(prev) - consumed);
    release();  // never the last: the caller still holds the run queue's reference
  }
  const bool again = queued(prev) != consumed;
  if (handed) [[unlikely]] {
    if (!again) return RunEnd::gone;
    // Still queued, so nobody else runs it; the batch (this thread's, not
    // handed on before this run returns) has the caller's reference.
    add_ref();
  }
  return again ? RunEnd::again : RunEnd::idle;
}

void CellBase::wait_for_space(CellBase& waiter, std::move_only_function<void()> fn) noexcept {
  tls_outbox.flush();  // the handler's own chain to this cell is room it holds: give it back first
  {
    CellExt* x = ext();
    std::lock_guard lk(x->m);
    x->space_waiters.emplace_back(IntrusivePtr<CellBase>(&waiter), std::move(fn));
    space_waiters_.store(true, std::memory_order_seq_cst);
  }
  wake_space_waiters(occupied(pending_.load(std::memory_order_seq_cst)));
}

// A plain thread waits for room in this bounded mailbox (Overflow::block).
// Registering sets space_waiters_ before re-reading pending_, and run()
// decrements pending_ before reading space_waiters_ (both seq_cst), so
// either this thread sees the room or run() sees the waiter and notifies
// under the same mutex: no lost wakeup. False once the deadline has passed.
bool CellBase::block_for_space(std::chrono::steady_clock::time_point deadline) noexcept {
  CellExt* x = ext();
  std::unique_lock lk(x->m);
  ++x->blocked_senders;
  space_waiters_.store(true, std::memory_order_seq_cst);
  bool in_time = true;
  while (occupied(pending_.load(std::memory_order_seq_cst)) >= capacity_ && !closed()) {
    if (x->space_cv.wait_until(lk, deadline) == std::cv_status::timeout) {
      in_time = occupied(pending_.load(std::memory_order_seq_cst)) < capacity_ || closed();
      break;
    }
  }
  --x->blocked_senders;
  space_waiters_.store(x->blocked_senders > 0 || !x->space_waiters.empty(), std::memory_order_seq_cst);
  return in_time;
}

// depth: pending messages now. Blocked threads are woken as soon as there
// is room; actors waiting in wait_for_space() once the mailbox has drained
// to half (so a refused actor does not resume for a single slot).
void CellBase::wake_space_waiters(std::uint32_t depth) noexcept {
  std::vector<std::pair<IntrusivePtr<CellBase>, std::move_only_function<void()>>> ws;
  {
    CellExt* x = ext();
    std::lock_guard lk(x->m);
    const bool gone = closed();
    if (x->blocked_senders > 0 && (gone || depth < capacity_)) x->space_cv.notify_all();
    if (gone || capacity_ == 0 || depth <= capacity_ / 2) ws.swap(x->space_waiters);
    space_waiters_.store(x->blocked_senders > 0 || !x->space_waiters.empty(), std::memory_order_seq_cst);
  }
  for (auto& [w, fn] : ws) w->enqueue_system(SysMsg{SysMsg::Kind::invoke, id_, ExitReason::normal, std::move(fn)});
}

void CellBase::trim_oldest(std::uint32_t& consumed) noexcept {
  std::uint32_t depth = queued(pending_.load(std::memory_order_acquire)) - consumed;
  while (depth > capacity_) {
    MpscNode* n = mpsc_pop(user_head_, user_tail_);
    if (n == nullptr) break;
    delete static_cast<Envelope*>(n);
    ++consumed;
    --depth;
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

void CellBase::handle_system(SysMsg& m) noexcept {
  ActorBase* a = actor();
  try {
    switch (m.kind) {
      case SysMsg::Kind::kill:
        terminate(ExitReason::killed);
        break;
      case SysMsg::Kind::exit:
        if (trap_exit_ && a != nullptr) {
          a->on_exit(ExitSignal{m.from, m.reason});
        } else if (m.reason != ExitReason::normal) {
          terminate(m.reason);
        }
        break;
      case SysMsg::Kind::down:
        if (a != nullptr) a->on_down(Down{m.from, m.reason});
        break;
      case SysMsg::Kind::invoke:
        if (a != nullptr && m.fn) {
          HandlerOutbox outbox;  // e.g. a when_space() resumption that tells in a loop
          m.fn();
        }
        break;
      case SysMsg::Kind::started:
        if (a != nullptr && m.fn) a->when_started(std::move(m.fn));
        break;
    }
  } catch (...) {
    handle_failure(std::current_exception());
  }
}

void CellBase::handle_failure(std::exception_ptr ep) noexcept {
  failures_.fetch_add(1, std::memory_order_relaxed);
  Directive d = Directive::escalate;
  if (ActorBase* a = actor(); a != nullptr) {
    try {
      d = a->on_error(Failure{ep, describe(ep)});
    } catch (...) {
      d = Directive::escalate;
    }
  }
  switch (d) {
    case Directive::resume:
      return;
    case Directive::restart:
      restarts_.fetch_add(1, std::memory_order_relaxed);
      try {
        if (!recreate()) terminate(ExitReason::error);
      } catch (...) {
        terminate(ExitReason::error);
      }
      return;
    case Directive::stop:
      terminate(ExitReason::normal);
      return;
    case Directive::escalate:
      note_failure(ep);
      terminate(ExitReason::error);
      return;
  }
}

void CellBase::note_failure(const std::exception_ptr& ep) noexcept {
  try {
    set_failure_text(describe(ep));
  } catch (...) {  // NOLINT: out of memory while recording a failure text; the exit reason still says error
  }
}

void CellBase::set_failure_text(std::string what) noexcept {
  CellExt* x = ext();
  std::lock_guard lk(x->m);
  x->failure = std::move(what);
}

std::string CellBase::failure_text() noexcept {
  try {
    CellExt* x = ext();
    std::lock_guard lk(x->m);
    return x->failure;
  } catch (...) {
    return {};
  }
}

void CellBase::terminate(ExitReason r) noexcept {
  if (terminated_) return;
  terminated_ = true;
  exit_reason_.store(static_cast<std::uint8_t>(r), std::memory_order_release);
  destroy_actor();
  closed_.store(true, std::memory_order_seq_cst);
  // Links/monitors: see link() for why seq_cst on closed_ and ext_ suffices.
  if (CellExt* x = ext_.load(std::memory_order_seq_cst); x != nullptr) notify_terminated(x, r);
  else if (space_waiters_.load(std::memory_order_seq_cst)) wake_space_waiters(0);
  sys_->remove_live(this);
}

[[gnu::noinline]] void CellBase::notify_terminated(CellExt* x, ExitReason r) noexcept {
  std::vector<IntrusivePtr<CellBase>> links, monitors;
  bool registered = false;
  {
    std::lock_guard lk(x->m);
    x->dead = true;
    registered = x->registered;
    links.swap(x->links);
    monitors.swap(x->monitors);
  }
  if (registered) sys_->registry.on_terminated(id_);
  if (space_waiters_.load(std::memory_order_seq_cst)) wake_space_waiters(0);
  for (auto& l : links) {
    {
      CellExt* lx = l->ext();
      std::lock_guard lk(lx->m);
      std::erase(lx->links, IntrusivePtr<CellBase>(this));
    }
    l->enqueue_system(SysMsg{SysMsg::Kind::exit, id_, r, {}});
  }
  for (auto& w : monitors) w->enqueue_system(SysMsg{SysMsg::Kind::down, id_, r, {}});
}

void CellBase::force_terminate() noexcept {
  CurrentGuard guard(this);
  started_ = true;
  terminate(ExitReason::killed);
  // Not inside a run (shutdown; on a pool worker if a handler shut its own
  // system down): a batch that took a run's reference gets a new one.
  if (std::exchange(run_ref_handed_, false)) add_ref();
}

// A link or monitor registered under the other cell's ext lock either sees
// it dead (ext->dead, or closed_ already set: terminate() stores closed_
// before reading ext_) and delivers at once, or is found by its terminate().
void CellBase::link(CellBase& a, CellBase& b) noexcept {
  if (&a == &b) return;
  CellExt* xa = a.ext();
  CellExt* xb = b.ext();
  bool a_dead = false, b_dead = false;
  {
    std::scoped_lock lk(xa->m, xb->m);
    a_dead = xa->dead || a.closed();
    b_dead = xb->dead || b.closed();
    if (!a_dead && !b_dead) {
      xa->links.emplace_back(&b);
      xb->links.emplace_back(&a);
    }
  }
  if (a_dead && !b_dead) b.enqueue_system(SysMsg{SysMsg::Kind::exit, a.id_, a.exit_reason(), {}});
  if (b_dead && !a_dead) a.enqueue_system(SysMsg{SysMsg::Kind::exit, b.id_, b.exit_reason(), {}});
}

void CellBase::unlink(CellBase& a, CellBase& b) noexcept {
  CellExt* xa = a.ext();
  CellExt* xb = b.ext();
  std::scoped_lock lk(xa->m, xb->m);
  std::erase(xa->links, IntrusivePtr<CellBase>(&b));
  std::erase(xb->links, IntrusivePtr<CellBase>(&a));
}

void CellBase::set_health_source(std::shared_ptr<const HealthSource> src) noexcept {
  CellExt* x = ext();
  std::lock_guard lk(x->m);
  x->health = std::move(src);
}

std::shared_ptr<const HealthSource> CellBase::health_source() const noexcept {
  CellExt* x = ext_.load(std::memory_order_acquire);
  if (x == nullptr) return {};
  std::lock_guard lk(x->m);
  return x->health;
}

void CellBase::mark_registered() noexcept {
  CellExt* x = ext();
  std::lock_guard lk(x->m);
  x->registered = true;
}

void CellBase::add_monitor(CellBase& watcher) noexcept {
  CellExt* x = ext();
  bool dead = false;
  {
    std::lock_guard lk(x->m);
    dead = x->dead || closed();
    if (!dead) x->monitors.emplace_back(&watcher);
  }
  if (dead) watcher.enqueue_system(SysMsg{SysMsg::Kind::down, id_, exit_reason(), {}});
}

}  // namespace airssys::rt::detail
