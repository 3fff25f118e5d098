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

}  // namespace

CellBase* current_cell() noexcept { return tls_current; }

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
  while (MpscNode* n = mpsc_pop(sys_head_, sys_tail_)) delete static_cast<Envelope*>(n);
  while (MpscNode* n = mpsc_pop(user_head_, user_tail_)) delete static_cast<Envelope*>(n);
  delete ext_.load(std::memory_order_acquire);
}

ActorStats CellBase::stats() const noexcept {
  ActorStats s;
  s.processed = processed_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.expired = expired_.load(std::memory_order_relaxed);
  s.failures = failures_.load(std::memory_order_relaxed);
  s.restarts = restarts_.load(std::memory_order_relaxed);
  s.mailbox_depth = pending_.load(std::memory_order_relaxed);
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
  std::uint32_t prev = 0;
  const auto overflow = static_cast<Overflow>(overflow_);
  if (capacity_ == 0 || overflow == Overflow::drop_oldest) {
    prev = pending_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    std::uint32_t c = pending_.load(std::memory_order_relaxed);
    std::chrono::steady_clock::time_point deadline{};
    for (;;) {
      if (c >= capacity_) {
        if (overflow == Overflow::drop_newest) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          return {};
        }
        if (overflow == Overflow::fail || on_worker_thread()) {
          dropped_.fetch_add(1, std::memory_order_relaxed);
          return std::unexpected(Error{ErrorCategory::mailbox_full, "mailbox full"});
        }
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
  if (prev == 0) {
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
  e->priority = Priority::system;
  CellBase* cur = current_cell();
  e->sender = cur != nullptr ? cur->id() : 0;
  std::uint32_t prev = pending_.fetch_add(1, std::memory_order_acq_rel);
  mpsc_push(sys_head_, e.release());
  if (prev == 0) {
    add_ref();
    sys_->schedule(this, false);
  }
}

bool CellBase::run() noexcept {
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
    if (node == nullptr) node = mpsc_pop(user_head_, user_tail_);
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
      if (e->deadline_ns != 0 && now_ns() > e->deadline_ns) {
        expired_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      current_ = e.get();
      try {
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
  if (bounded) add_ref();
  std::uint32_t prev = pending_.fetch_sub(consumed, std::memory_order_seq_cst);
  if (bounded) {
    if (space_waiters_.load(std::memory_order_seq_cst)) wake_space_waiters(prev - consumed);
    release();  // never the last: the caller still holds the run queue's reference
  }
  return prev != consumed;
}

void CellBase::wait_for_space(CellBase& waiter, std::move_only_function<void()> fn) noexcept {
  {
    CellExt* x = ext();
    std::lock_guard lk(x->m);
    x->space_waiters.emplace_back(IntrusivePtr<CellBase>(&waiter), std::move(fn));
    space_waiters_.store(true, std::memory_order_seq_cst);
  }
  wake_space_waiters(pending_.load(std::memory_order_seq_cst));
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
  while (pending_.load(std::memory_order_seq_cst) >= capacity_ && !closed()) {
    if (x->space_cv.wait_until(lk, deadline) == std::cv_status::timeout) {
      in_time = pending_.load(std::memory_order_seq_cst) < capacity_ || closed();
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
  std::uint32_t depth = pending_.load(std::memory_order_acquire) - consumed;
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
        if (a != nullptr && m.fn) m.fn();
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
  std::vector<IntrusivePtr<CellBase>> links, monitors;
  bool registered = false;
  if (CellExt* x = ext_.load(std::memory_order_seq_cst); x != nullptr) {
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
  sys_->remove_live(this);
}

void CellBase::force_terminate() noexcept {
  CurrentGuard guard(this);
  started_ = true;
  terminate(ExitReason::killed);
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
