#pragma once
// References to actors. AnyRef addresses any actor for control (exit
// signals, links, monitors, stats); ActorRef<Msgs...> additionally sends the
// listed message types and nothing else: tell() of any other type does not
// compile. An ActorRef converts to one listing a subset of its types.
//
// Thread-safety: all member functions are thread-safe; a ref is a refcounted
// handle (copying it is an atomic increment) and never dangles, even after
// the actor has terminated (sends then fail with ErrorCategory::actor_stopped).
#include <airssys/rt/ask.hpp>
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/detail/core_api.hpp>
#include <airssys/rt/detail/intrusive_ptr.hpp>
#include <airssys/rt/envelope.hpp>
#include <airssys/rt/error.hpp>
#include <chrono>
#include <expected>
#include <memory>
#include <string>
#include <type_traits>

namespace airssys::rt {

namespace detail {

template <class M, class... Ms>
inline constexpr bool one_of = (std::is_same_v<M, Ms> || ...);

// A tell with no TTL, correlation id or reply slot (an ask's) gets the
// narrow envelope (envelope.hpp): 48 bytes before the payload, not 72.
template <class M>
std::unique_ptr<Envelope> make_envelope(M&& m, const SendOptions& o, ReplySlotBase* reply = nullptr) {
  using T = std::remove_cvref_t<M>;
  std::unique_ptr<Envelope> e;
  const std::int64_t now = now_ns();
  if (o.ttl.count() > 0 || o.correlation_id != 0 || reply != nullptr) [[unlikely]] {
    auto w = std::make_unique<WideTypedEnvelope<T>>(std::forward<M>(m));
    w->x.correlation_id = o.correlation_id;
    w->set_deadline(o.ttl.count() > 0 ? now + o.ttl.count() : 0);
    w->x.reply = ReplySlotPtr(reply);
    e = std::move(w);
  } else {
    e = std::make_unique<TypedEnvelope<T>>(std::forward<M>(m));
  }
  e->tag = type_tag<T>;
  e->id = next_envelope_id();
  CellBase* cur = current_cell();
  e->set_sender(cur != nullptr ? cur->id() : 0);
  e->set_priority(o.priority);
  e->timestamp_ns = now;
  return e;
}

}  // namespace detail

class AnyRef {
 public:
  AnyRef() = default;
  explicit AnyRef(detail::IntrusivePtr<detail::CellBase> c) noexcept : cell_(std::move(c)) {}

  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(cell_); }
  [[nodiscard]] ActorId id() const noexcept { return cell_ ? cell_->id() : 0; }
  // True once the actor has terminated.
  [[nodiscard]] bool stopped() const noexcept { return !cell_ || cell_->closed(); }
  [[nodiscard]] ActorStats stats() const noexcept { return cell_ ? cell_->stats() : ActorStats{}; }
  // Meaningful once stopped(). An empty ref (default-constructed, or a
  // failed lookup's) has no actor that could have failed: normal.
  [[nodiscard]] ExitReason exit_reason() const noexcept { return cell_ ? cell_->exit_reason() : ExitReason::normal; }
  // Once stopped(): what() of the exception that terminated it (failed
  // pre_start or escalated handler failure), else empty.
  [[nodiscard]] std::string failure_text() const { return cell_ ? cell_->failure_text() : std::string{}; }

  // Exit signal with system priority (Erlang's exit/2). An actor trapping
  // exits sees it in on_exit(); otherwise any reason but normal terminates it.
  void send_exit(ExitReason r) const noexcept {
    if (cell_) cell_->enqueue_system(detail::SysMsg{detail::SysMsg::Kind::exit, sender_id(), r, {}});
  }
  // Asks the actor to stop (reason shutdown).
  void stop() const noexcept { send_exit(ExitReason::shutdown); }
  // Terminates the actor with reason killed even if it traps exits (after
  // its current handler returns: a running handler is never interrupted).
  void kill() const noexcept {
    if (cell_) cell_->enqueue_system(detail::SysMsg{detail::SysMsg::Kind::kill, sender_id(), ExitReason::killed, {}});
  }

  [[nodiscard]] const detail::IntrusivePtr<detail::CellBase>& cell() const noexcept { return cell_; }
  friend bool operator==(const AnyRef& a, const AnyRef& b) noexcept { return a.cell_ == b.cell_; }

 private:
  static ActorId sender_id() noexcept {
    auto* c = detail::current_cell();
    return c != nullptr ? c->id() : 0;
  }
  detail::IntrusivePtr<detail::CellBase> cell_;
};

template <class... Msgs>
class ActorRef : public AnyRef {
 public:
  ActorRef() = default;
  explicit ActorRef(detail::IntrusivePtr<detail::CellBase> c) noexcept : AnyRef(std::move(c)) {}
  // Narrowing: a ref that may send more types converts to one that may send fewer.
  template <class... Other>
    requires(sizeof...(Other) != sizeof...(Msgs) || !(std::is_same_v<Other, Msgs> && ...)) &&
            (detail::one_of<Msgs, Other...> && ...)
  ActorRef(const ActorRef<Other...>& o) noexcept : AnyRef(o.cell()) {}  // NOLINT: implicit by design

  // Thread-safe. Errors: actor_stopped (dead letter), mailbox_full (bounded, fail/block).
  template <class M>
    requires detail::one_of<std::remove_cvref_t<M>, Msgs...>
  [[nodiscard]] std::expected<void, Error> tell(M&& m, const SendOptions& o = {}) const {
    if (!valid()) return std::unexpected(Error{ErrorCategory::actor_stopped, "empty actor reference"});
    return cell()->enqueue(detail::make_envelope(std::forward<M>(m), o));
  }

  // Blocking request/reply for plain threads (see ask.hpp).
  template <class M>
    requires detail::one_of<std::remove_cvref_t<M>, Msgs...> && Askable<std::remove_cvref_t<M>>
  [[nodiscard]] std::expected<typename std::remove_cvref_t<M>::reply_type, Error> ask(
      M&& m, std::chrono::nanoseconds timeout, SendOptions o = {}) const {
    using R = typename std::remove_cvref_t<M>::reply_type;
    if (detail::on_worker_thread())
      return std::unexpected(
          Error{ErrorCategory::invalid_argument, "blocking ask on a worker thread; use ActorBase::ask"});
    if (!valid()) return std::unexpected(Error{ErrorCategory::actor_stopped, "empty actor reference"});
    detail::IntrusivePtr<detail::ReplySlot<R>> slot(new detail::ReplySlot<R>(), detail::AdoptRef{});
    auto e = detail::make_envelope(std::forward<M>(m), o, slot.get());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    if (auto r = cell()->enqueue(std::move(e)); !r) return std::unexpected(r.error());
    return slot->wait_until(deadline);
  }
};

// Checked cast: `from` as an ActorRef<Msgs...> if its actor handles every
// one of Msgs (it may handle more), else ErrorCategory::invalid_argument; an empty
// ref gives ErrorCategory::actor_stopped. Use it where a ref arrives untyped (a
// supervisor's WhichChildren, whereis_any); constructing ActorRef from
// cell() is an unchecked downcast whose tell() of an unhandled type is
// silently dropped.
//   auto w = rt::ref_cast<Worker::ref_type>(child.ref);   // std::expected<ActorRef<...>, Error>
template <class To>
struct RefCast;

template <class... Msgs>
struct RefCast<ActorRef<Msgs...>> {
  [[nodiscard]] static std::expected<ActorRef<Msgs...>, Error> from(const AnyRef& r) {
    if (!r.valid()) return std::unexpected(Error{ErrorCategory::actor_stopped, "empty actor reference"});
    const detail::CellBase& c = *r.cell();
    if (!(c.accepts(detail::type_tag<Msgs>) && ...)) {
      return std::unexpected(Error{
          ErrorCategory::invalid_argument,
          "actor " + std::to_string(r.id()) + " does not handle every message type of the requested ref"});
    }
    return ActorRef<Msgs...>(r.cell());
  }
};

template <class To>
[[nodiscard]] std::expected<To, Error> ref_cast(const AnyRef& from) {
  return RefCast<To>::from(from);
}

}  // namespace airssys::rt
