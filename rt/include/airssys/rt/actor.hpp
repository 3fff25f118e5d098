#pragma once
// Actors. Derive from Actor<Self, Msg1, Msg2, ...> (or Actor<Self, std::variant<...>>)
// and give Self a public `handle(Msg&)` per message type; a message type with
// `using reply_type = R;` is handled by `R handle(Msg&)` and can be asked.
//
//   struct Inc { int by; };
//   struct Get { using reply_type = int; };
//   class Counter : public rt::Actor<Counter, Inc, Get> {
//    public:
//     void handle(Inc& m) { n_ += m.by; }
//     int handle(Get&) { return n_; }
//    private:
//     int n_ = 0;
//   };
//
// Threading: an actor object is only ever touched by one thread at a time
// (the worker running its cell), so its members need no synchronisation. The
// protected helpers below may only be called from inside the actor's hooks
// and handlers.
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/ask.hpp>
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/detail/core_api.hpp>
#include <airssys/rt/exit_reason.hpp>
#include <airssys/rt/signals.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <variant>

namespace airssys::rt {

namespace detail {
template <class... Ts>
struct TypeList {};
template <class T, class... Args>
class Cell;
}  // namespace detail

class ActorBase {
 public:
  ActorBase() = default;
  ActorBase(const ActorBase&) = delete;
  ActorBase& operator=(const ActorBase&) = delete;
  virtual ~ActorBase() = default;

  // Lifecycle hooks, all run in the actor's context. An exception from
  // pre_start terminates the actor with ExitReason::error; from post_stop it is ignored.
  virtual void pre_start() {}
  virtual void post_stop() {}
  // A handler threw. Default: escalate (terminate abnormally; links, monitors
  // and the supervisor take it from there).
  virtual Directive on_error(const Failure&) { return Directive::escalate; }
  // Only while trapping exits: a linked actor terminated or an exit signal arrived.
  virtual void on_exit(const ExitSignal&) {}
  // A monitored actor terminated.
  virtual void on_down(const Down&) {}

 protected:
  // Someone waits for this actor to have started (after_started). Default:
  // started once pre_start has returned, so ack() runs at once. An actor
  // whose start continues asynchronously (a supervisor starting its
  // children) keeps ack and calls it when done, or drops it on failure.
  virtual void when_started(std::move_only_function<void()> ack) { ack(); }

  // Run fn in this actor's context once `other` has finished starting
  // (pre_start returned, and for a supervisor: all its children started).
  // If `other` terminates first, fn never runs: watch it with a link or
  // monitor to learn that.
  template <class F>
  void after_started(const AnyRef& other, F fn) {
    if (!other.valid()) return;
    detail::IntrusivePtr<detail::CellBase> self(cell_);
    other.cell()->enqueue_system(detail::SysMsg{
        detail::SysMsg::Kind::started, 0, ExitReason::normal, [self, fn = std::move(fn)]() mutable {
          self->enqueue_system(detail::SysMsg{detail::SysMsg::Kind::invoke, 0, ExitReason::normal,
                                              [fn = std::move(fn)]() mutable { fn(); }});
        }});
  }

  // Inside the handler of an asked message m: answer later. The handler's own
  // return value is then ignored; the asker gets what the Promise delivers,
  // or ErrorCategory::broken_promise if it is destroyed undelivered (the ask's
  // timeout still applies). For a told (not asked) message the Promise is
  // empty and deliver() does nothing.
  template <class M>
    requires Askable<M>
  [[nodiscard]] Promise<typename M::reply_type> defer_reply(const M&) noexcept {
    using R = typename M::reply_type;
    detail::Envelope* e = cell_->current_envelope();
    detail::ReplySlotBase* slot = e != nullptr ? e->take_reply() : nullptr;
    if (slot == nullptr) return {};
    return Promise<R>(
        detail::IntrusivePtr<detail::ReplySlot<R>>(static_cast<detail::ReplySlot<R>*>(slot), detail::AdoptRef{}));
  }

  [[nodiscard]] ActorId id() const noexcept { return cell_->id(); }
  [[nodiscard]] ActorSystem& system() const noexcept { return detail::system_of(cell_->core()); }
  [[nodiscard]] AnyRef self_any() const noexcept { return AnyRef(detail::IntrusivePtr<detail::CellBase>(cell_)); }
  // The message being handled (sender, correlation id, timestamps); all
  // zero outside a handler. A copy (48 bytes), decoded from the envelope's
  // compact form (envelope.hpp): it stays what it was for as long as the
  // caller keeps it, whatever runs on this thread meanwhile (another
  // system's run_until_idle(), post_stop of actors a shutdown ends inline).
  [[nodiscard]] EnvelopeHeader envelope() const noexcept {
    return detail::header_of(cell_->current_envelope());
  }
  // Terminate after the current handler returns.
  void stop(ExitReason r = ExitReason::normal) noexcept { cell_->request_stop(r); }
  // Terminate with ExitReason::error after the current handler returns, with
  // `what` as the failure text (AnyRef::failure_text()), as if a handler had
  // thrown it; for failures an actor detects without an exception.
  void fail(std::string what) noexcept {
    cell_->set_failure_text(std::move(what));
    cell_->request_stop(ExitReason::error);
  }
  void trap_exit(bool on) noexcept { cell_->set_trap_exit(on); }
  void link(const AnyRef& other) noexcept {
    if (other.valid()) detail::CellBase::link(*cell_, *other.cell());
  }
  void unlink(const AnyRef& other) noexcept {
    if (other.valid()) detail::CellBase::unlink(*cell_, *other.cell());
  }
  void monitor(const AnyRef& other) noexcept {
    if (other.valid()) other.cell()->add_monitor(*cell_);
  }
  // Run fn in this actor's context after delay (a receive timeout, a tick).
  // Returns a timer id for cancel_timer().
  template <class F>
  std::uint64_t schedule(std::chrono::nanoseconds delay, F fn) {
    detail::IntrusivePtr<detail::CellBase> self(cell_);
    return detail::timer_add(cell_->core(), delay,
                             [self, fn = std::move(fn)]() mutable {
                               self->enqueue_system(detail::SysMsg{
                                   detail::SysMsg::Kind::invoke, 0, ExitReason::normal,
                                   [fn = std::move(fn)]() mutable { fn(); }});
                             });
  }
  bool cancel_timer(std::uint64_t id) noexcept { return detail::timer_cancel(cell_->core(), id); }

  // After a send to a bounded mailbox failed with ErrorCategory::mailbox_full: run fn
  // in this actor's context once that mailbox has drained to half its
  // capacity (or its actor stopped). Backpressure without retry loops.
  template <class F>
  void when_space(const AnyRef& target, F fn) {
    if (!target.valid()) return;
    target.cell()->wait_for_space(*cell_, std::move_only_function<void()>(std::move(fn)));
  }

  // Non-blocking ask: cb(std::expected<R, Error>) runs later in this actor's context.
  template <class M, class... Ms, class F>
    requires Askable<std::remove_cvref_t<M>>
  void ask(const ActorRef<Ms...>& to, M&& m, std::chrono::nanoseconds timeout, F cb) {
    using R = typename std::remove_cvref_t<M>::reply_type;
    detail::IntrusivePtr<detail::ReplySlot<R>> slot(
        new detail::ReplySlot<R>(detail::IntrusivePtr<detail::CellBase>(cell_), std::move(cb)),
        detail::AdoptRef{});
    auto e = detail::make_envelope(std::forward<M>(m), SendOptions{}, slot.get());
    if (!to.valid()) {
      slot->complete(std::unexpected(Error{ErrorCategory::actor_stopped, "empty actor reference"}));
      return;
    }
    if (auto r = to.cell()->enqueue(std::move(e)); !r) {
      slot->complete(std::unexpected(r.error()));
      return;
    }
    detail::timer_add(cell_->core(), timeout, [slot]() {
      slot->complete(std::unexpected(Error{ErrorCategory::timeout, "no reply before the timeout"}));
    });
  }

 private:
  template <class T, class... Args>
  friend class detail::Cell;
  friend class detail::CellBase;
  detail::CellBase* cell_ = nullptr;  // non-owning: the cell owns this object
};

template <class Derived, class... Msgs>
class Actor : public ActorBase {
 public:
  using ref_type = ActorRef<Msgs...>;
  using message_types = detail::TypeList<Msgs...>;

 protected:
  [[nodiscard]] ref_type self() const noexcept { return ref_type(self_any().cell()); }
};

// Actor<Self, std::variant<A, B>> is Actor<Self, A, B>.
template <class Derived, class... Msgs>
class Actor<Derived, std::variant<Msgs...>> : public Actor<Derived, Msgs...> {};

namespace detail {

template <class T, class M>
concept Handles = requires(T& t, M& m) { t.handle(m); };

// The typed cell: owns the actor object (constructed on its first run and
// again on an in-place restart) and the spawn arguments for that restart.
template <class T, class... Args>
class Cell final : public CellBase {
 public:
  template <class... A>
  Cell(SystemCore* sys, const MailboxConfig& cfg, A&&... a)
      : CellBase(sys, cfg), args_(std::forward<A>(a)...) {}

 protected:
  ActorBase* actor() noexcept override { return actor_ ? &*actor_ : nullptr; }

  void start() override {
    construct();
    actor_->pre_start();
  }

  void dispatch(Envelope& e) override { dispatch_list(e, typename T::message_types{}); }

  [[nodiscard]] bool accepts(TypeTag t) const noexcept override { return accepts_list(t, typename T::message_types{}); }

  bool recreate() override {
    if constexpr ((std::is_copy_constructible_v<Args> && ...)) {
      destroy_actor();
      construct();
      actor_->pre_start();
      return true;
    } else {
      return false;
    }
  }

  void destroy_actor() noexcept override {
    if (!actor_) return;
    try {
      actor_->post_stop();
    } catch (...) {  // NOLINT: post_stop failures are ignored by contract
    }
    actor_.reset();
  }

 private:
  void construct() {
    if constexpr ((std::is_copy_constructible_v<Args> && ...)) {
      std::apply([this](const Args&... a) { actor_.emplace(a...); }, args_);
    } else {
      std::apply([this](Args&... a) { actor_.emplace(std::move(a)...); }, args_);
    }
    actor_->cell_ = this;
  }

  template <class... Ms>
  static bool accepts_list(TypeTag t, TypeList<Ms...>) noexcept {
    return ((t == type_tag<Ms>) || ...);
  }

  template <class... Ms>
  void dispatch_list(Envelope& e, TypeList<Ms...>) {
    static_assert((Handles<T, Ms> && ...), "the actor lacks a handle(Msg&) for one of its message types");
    (void)((e.tag == type_tag<Ms> ? (dispatch_one<Ms>(e), true) : false) || ...);
  }

  template <class M>
  void dispatch_one(Envelope& e) {
    M& m = payload<M>(e);
    if constexpr (Askable<M>) {
      using R = typename M::reply_type;
      R r = actor_->handle(m);
      if (ReplySlotBase* s = e.reply_slot()) static_cast<ReplySlot<R>*>(s)->complete(std::move(r));
    } else {
      actor_->handle(m);
    }
  }

  [[no_unique_address]] std::tuple<Args...> args_;  // no byte for an actor spawned without arguments
  std::optional<T> actor_;
};

}  // namespace detail
}  // namespace airssys::rt
