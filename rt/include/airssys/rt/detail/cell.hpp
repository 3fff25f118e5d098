#pragma once
// The untyped part of an actor: mailbox, scheduling state, refcount, links.
// Cell<T> (typed_cell.hpp) adds the actor object and message dispatch.
//
// Threading contract:
//  - enqueue(), add_ref(), release(), stats(), closed() are thread-safe.
//  - run() is called by exactly one thread at a time: whoever took the cell
//    off a run queue. pending_ guarantees that: the producer that moves its
//    queued count from 0 schedules the cell (taking a reference for the run queue);
//    run() subtracts what it consumed and reschedules if anything remains.
//    Everything marked "consumer" below is touched only inside run().
#include <airssys/rt/envelope.hpp>
#include <airssys/rt/error.hpp>
#include <airssys/rt/exit_reason.hpp>
#include <airssys/rt/mailbox_config.hpp>
#include <airssys/rt/signals.hpp>
#include <airssys/rt/stats.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <string>

namespace airssys::rt {
class ActorBase;
namespace detail {

class SystemCore;
struct CellExt;
struct Outbox;

// System-priority control message.
struct SysMsg {
  // exit: an exit signal (trappable; from a link or send_exit). kill: untrappable.
  // started: fn is an acknowledgement to run once the actor has finished
  // starting (ActorBase::when_started decides when; a supervisor waits for
  // its own children). Dropped if the actor terminates first.
  enum class Kind : std::uint8_t { exit, kill, down, invoke, started };
  Kind kind = Kind::exit;
  ActorId from = 0;
  ExitReason reason = ExitReason::normal;
  std::move_only_function<void()> fn;  // Kind::invoke: runs in the actor's context
};

// Extra health data an actor kind publishes (a supervisor's restart
// state). fill() runs on whichever thread calls ActorSystem::health(), while
// the actor keeps running: it must be thread-safe.
struct HealthSource {
  virtual ~HealthSource() = default;
  virtual void fill(ActorHealth& h, std::chrono::steady_clock::time_point now) const = 0;
};

// Hook by which a cell sits in the scheduler's injection queue.
struct RunHook : MpscNode {};

class CellBase : public RunHook {
 public:
  CellBase(SystemCore* sys, const MailboxConfig& cfg) noexcept;
  CellBase(const CellBase&) = delete;
  CellBase& operator=(const CellBase&) = delete;

  // Cells come from the runtime's pool (pool.cpp): 64-aligned, no header.
  static void* operator new(std::size_t n);
  static void operator delete(void* p, std::size_t n) noexcept;

  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  // Drops n references at once (a terminated batch's two, system.cpp).
  void release(std::uint32_t n) noexcept {
    if (refs_.fetch_sub(n, std::memory_order_acq_rel) == n) delete this;
  }

  [[nodiscard]] ActorId id() const noexcept { return id_; }
  [[nodiscard]] SystemCore* core() const noexcept { return sys_; }
  [[nodiscard]] bool closed() const noexcept { return closed_.load(std::memory_order_acquire); }
  [[nodiscard]] ActorStats stats() const noexcept;
  // Valid once closed(): why the actor terminated.
  [[nodiscard]] ExitReason exit_reason() const noexcept;
  // The what() of the last failure that terminated the actor (pre_start or
  // an escalated handler exception); empty if none. Thread-safe.
  [[nodiscard]] std::string failure_text() noexcept;
  // Consumer side: record why the actor is about to fail (failure_text()).
  void set_failure_text(std::string what) noexcept;

  // Thread-safe; takes ownership of e whatever the outcome.
  [[nodiscard]] std::expected<void, Error> enqueue(std::unique_ptr<Envelope> e) noexcept;
  // System message: bypasses capacity; dead-lettered if closed.
  void enqueue_system(SysMsg m) noexcept;

  // Links and monitors (thread-safe). If the other side has already
  // terminated, the exit signal / down notice is delivered at once.
  static void link(CellBase& a, CellBase& b) noexcept;
  static void unlink(CellBase& a, CellBase& b) noexcept;
  void add_monitor(CellBase& watcher) noexcept;
  // Backpressure without spinning: run fn (as an invoke message in waiter's
  // context) once this bounded mailbox has drained to half its capacity or
  // the actor has stopped. Immediately if that is already the case.
  void wait_for_space(CellBase& waiter, std::move_only_function<void()> fn) noexcept;

  // Health data beyond ActorStats (thread-safe; kept until the cell is freed).
  void set_health_source(std::shared_ptr<const HealthSource> src) noexcept;
  [[nodiscard]] std::shared_ptr<const HealthSource> health_source() const noexcept;

  // The registry holds this actor under a name or in a group: terminate()
  // tells it to drop the entries.
  void mark_registered() noexcept;

  // Consumer: run up to one batch. again: the cell must be run again (the
  // caller keeps its reference and requeues it); idle: it went idle (the
  // caller must only release() its reference afterwards); gone: it
  // terminated in this run, went idle, and the caller's reference went
  // with it to the terminated batch (handed_run_ref()): the caller must
  // not touch the cell again.
  enum class RunEnd : std::uint8_t { idle, again, gone };
  RunEnd run() noexcept;
  // Consumer, from terminate() on a pool worker: the batch that now holds
  // the live list's reference will drop the running thread's reference
  // too (one atomic read-modify-write per actor less than releasing it
  // here); run() gives the caller a new one if the cell must run again.
  void handed_run_ref() noexcept { run_ref_handed_ = true; }

  // Forced teardown at system shutdown, after every worker has stopped.
  void force_terminate() noexcept;

  // Whether the actor handles messages of type t (ref_cast asks; thread-safe).
  [[nodiscard]] virtual bool accepts(TypeTag t) const noexcept = 0;

  // --- consumer-side API used by ActorBase (inside run()) ---
  void request_stop(ExitReason r) noexcept { stop_request_ = static_cast<std::uint8_t>(r) + 1; }
  void set_trap_exit(bool on) noexcept { trap_exit_ = on; }
  // The user envelope being handled (its reply slot may be taken for a deferred reply).
  [[nodiscard]] Envelope* current_envelope() const noexcept { return current_; }


 protected:
  virtual ~CellBase();
  // Typed part (Cell<T>); called only inside run().
  virtual ActorBase* actor() noexcept = 0;
  virtual void start() = 0;                       // construct-if-needed + pre_start; may throw
  virtual void dispatch(Envelope& e) = 0;         // user message; may throw
  virtual bool recreate() = 0;                    // Directive::restart; false if impossible
  virtual void destroy_actor() noexcept = 0;      // post_stop + destroy the actor object

 private:
  friend class SystemCore;
  friend struct Outbox;
  // A tell that found no room: counts it and says what the overflow policy answers.
  std::expected<void, Error> refuse() noexcept;
  void handle_system(SysMsg& m) noexcept;
  void handle_failure(std::exception_ptr ep) noexcept;
  void note_failure(const std::exception_ptr& ep) noexcept;
  void terminate(ExitReason r) noexcept;
  // terminate()'s part for a cell with links, monitors, a registration or
  // space waiters (its CellExt); out of line, off the common path.
  void notify_terminated(CellExt* x, ExitReason r) noexcept;
  void trim_oldest(std::uint32_t& consumed) noexcept;
  void wake_space_waiters(std::uint32_t depth) noexcept;
  bool block_for_space(std::chrono::steady_clock::time_point deadline) noexcept;
  CellExt* ext() noexcept;  // lazily created, thread-safe

  // Producer side: the only fields senders write (refcount, pending count,
  // queue heads, refusal counter). Exactly one cache line with the vptr and
  // run hook, so receivers working on the consumer side below do not
  // contend with senders. Nothing the actor itself reads on every handler
  // call lives here (sys_ did: an actor spawning in a loop while its
  // children replied missed on this line for each system() call).
  std::atomic<std::uint32_t> refs_{1};

 public:
  // Owned by SystemCore's live list (system.cpp), guarded by the shard's
  // lock: the shard and slot holding the cell. Written once at spawn; here
  // so that freeing the slot reads the line release() writes anyway.
  std::uint32_t live_slot = 0;

 private:
  // Low 32 bits: messages queued (plus the start token until the first
  // run()); the producer that moves them from 0 schedules the cell, run()
  // subtracts what it consumed. High 32 bits: slots reserved by senders
  // that coalesce their tells (Outbox in cell.cpp), counted against the
  // capacity but not yet queued, so they never make the cell runnable.
  std::atomic<std::uint64_t> pending_{1};  // starts at 1: the start token consumed by the first run()
  std::atomic<bool> closed_{false};
  std::uint8_t overflow_;

 public:
  bool supervised = false;  // spawned linked to a parent; shutdown leaves it to the parent
  std::uint8_t live_shard = 0;

 private:
  std::uint32_t capacity_;
  MpscProducer sys_head_;
  MpscProducer user_head_;
  std::atomic<std::uint64_t> dropped_{0};

  // Consumer side (run() only, plus relaxed counter reads by stats()).
  alignas(64) MpscConsumer sys_tail_;
  MpscConsumer user_tail_;
  ActorId id_ = 0;
  std::uint32_t batch_;
  std::uint32_t block_timeout_ms_;
  bool started_ = false;
  bool terminated_ = false;
  bool trap_exit_ = false;
  bool run_ref_handed_ = false;  // see handed_run_ref()
  std::uint8_t stop_request_ = 0;  // 0: none, else ExitReason + 1
  std::atomic<std::uint8_t> exit_reason_{0};
  // Some sender waits (wait_for_space() or a blocked thread). Among the
  // byte fields: a Cell<T> of a small actor then fits 192 bytes, not 256.
  std::atomic<bool> space_waiters_{false};
  Envelope* current_ = nullptr;
  std::atomic<std::uint64_t> processed_{0};
  std::atomic<std::uint32_t> expired_{0};
  std::atomic<std::uint32_t> failures_{0};
  std::atomic<std::uint32_t> restarts_{0};
  std::atomic<CellExt*> ext_{nullptr};  // owned; deleted in ~CellBase
  SystemCore* sys_;
};

// The cell whose run() is executing on this thread (nullptr outside actors).
CellBase* current_cell() noexcept;

// e's header (all zero for nullptr); see ActorBase::envelope().
EnvelopeHeader header_of(const Envelope* e) noexcept;

// Publishes the tells the handler running on this thread has chained
// (coalesced, cell.cpp's Outbox); nothing to do on any other thread. Called
// before anything that lets another actor or thread see what the handler
// did (a reply, a system message, a spawn, a timer, a registry or broker
// change), so that nothing it then sends overtakes them.
void flush_outbox() noexcept;

}  // namespace detail
}  // namespace airssys::rt
