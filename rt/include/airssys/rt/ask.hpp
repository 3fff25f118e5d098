#pragma once
// Request/reply. A message type M that declares `using reply_type = R;` can
// be asked: the receiver's handler `R handle(M&)` returns the reply.
//  - From a plain thread: ref.ask(m, timeout) blocks for the reply or
//    ErrorCategory::timeout (ErrorCategory::invalid_argument on a worker thread: a worker never blocks).
//  - From inside an actor: ask(ref, m, timeout, callback) returns at once; the
//    callback later runs in the asking actor's own context with the reply,
//    ErrorCategory::timeout, or ErrorCategory::broken_promise if the request was dropped.
#include <airssys/rt/detail/cell.hpp>
#include <airssys/rt/detail/intrusive_ptr.hpp>
#include <airssys/rt/error.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <expected>
#include <functional>
#include <mutex>
#include <optional>

namespace airssys::rt {

template <class M>
concept Askable = requires { typename M::reply_type; };

namespace detail {

class ReplySlotBase {
 public:
  ReplySlotBase() = default;
  ReplySlotBase(const ReplySlotBase&) = delete;
  ReplySlotBase& operator=(const ReplySlotBase&) = delete;
  void add_ref() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  virtual void abandon() noexcept = 0;

 protected:
  virtual ~ReplySlotBase() = default;

 private:
  std::atomic<std::uint32_t> refs_{1};
};

inline void add_ref(ReplySlotBase* s) noexcept { s->add_ref(); }
inline void drop_reply(ReplySlotBase* s) noexcept {
  s->abandon();
  s->release();
}

// Thread-safe: complete() may race with a timeout; the first one wins.
template <class R>
class ReplySlot final : public ReplySlotBase {
 public:
  using Result = std::expected<R, Error>;
  using Callback = std::move_only_function<void(Result)>;

  ReplySlot() = default;  // blocking mode
  ReplySlot(IntrusivePtr<CellBase> target, Callback cb)
      : target_(std::move(target)), cb_(std::move(cb)) {}

  bool complete(Result r) noexcept {
    flush_outbox();  // the replying handler's tells go before the asker can act on the reply
    std::unique_lock lk(m_);
    if (done_) return false;
    done_ = true;
    if (target_) {
      auto target = std::move(target_);
      auto cb = std::move(cb_);
      lk.unlock();
      target->enqueue_system(SysMsg{SysMsg::Kind::invoke, 0, ExitReason::normal,
                                    [cb = std::move(cb), r = std::move(r)]() mutable {
                                      cb(std::move(r));
                                    }});
      return true;
    }
    value_.emplace(std::move(r));
    lk.unlock();
    cv_.notify_all();
    return true;
  }

  Result wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lk(m_);
    cv_.wait_until(lk, deadline, [&] { return done_; });
    if (!done_) {
      done_ = true;
      return std::unexpected(Error{ErrorCategory::timeout, "no reply before the timeout"});
    }
    return std::move(*value_);
  }

  void abandon() noexcept override {
    complete(std::unexpected(Error{ErrorCategory::broken_promise, "request dropped without a reply"}));
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  bool done_ = false;
  std::optional<Result> value_;
  IntrusivePtr<CellBase> target_;
  Callback cb_;
};

}  // namespace detail

// A reply to be given later (ActorBase::defer_reply). Move-only; may be
// delivered from any thread. Destroying it undelivered answers the asker
// with ErrorCategory::broken_promise.
template <class R>
class Promise {
 public:
  Promise() = default;
  explicit Promise(detail::IntrusivePtr<detail::ReplySlot<R>> s) noexcept : slot_(std::move(s)) {}
  Promise(Promise&&) noexcept = default;
  Promise& operator=(Promise&& o) noexcept {
    if (this != &o) {
      abandon();
      slot_ = std::move(o.slot_);
    }
    return *this;
  }
  ~Promise() { abandon(); }

  // False if there is nobody to answer (told message, already delivered) or
  // the asker already gave up (timeout).
  bool deliver(std::expected<R, Error> r) noexcept {
    if (!slot_) return false;
    auto s = std::move(slot_);
    return s->complete(std::move(r));
  }
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(slot_); }

 private:
  void abandon() noexcept {
    if (slot_) std::exchange(slot_, {})->abandon();
  }
  detail::IntrusivePtr<detail::ReplySlot<R>> slot_;
};

}  // namespace airssys::rt
