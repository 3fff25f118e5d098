#pragma once
// Message envelopes. Every message travels in an envelope that carries its
// id, sender, correlation id, enqueue timestamp, optional TTL deadline and
// priority. Messages whose deadline has passed when the receiver reaches them
// are dropped and counted (ActorStats::expired); system-priority messages
// (stop, exit signals, down notices) are kept in a separate queue that the
// receiver always drains first.
#include <airssys/rt/detail/intrusive_ptr.hpp>
#include <airssys/rt/detail/mpsc_queue.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace airssys::rt {

using ActorId = std::uint64_t;  // 0: no actor (a plain thread)

enum class Priority : std::uint8_t { normal, system };

struct SendOptions {
  std::chrono::nanoseconds ttl{0};  // 0: never expires
  std::uint64_t correlation_id = 0;
  Priority priority = Priority::normal;
};

// What a handler can read about the message it is processing.
struct EnvelopeHeader {
  std::uint64_t id = 0;
  ActorId sender = 0;
  std::uint64_t correlation_id = 0;
  std::int64_t timestamp_ns = 0;  // steady_clock at enqueue
  std::int64_t deadline_ns = 0;   // steady_clock; 0: none
  Priority priority = Priority::normal;
};

namespace detail {

// Envelope clock: CLOCK_MONOTONIC_COARSE (same epoch as steady_clock, tick
// resolution of 1-10 ms by the kernel's HZ, a few ns to read). A precise
// clock read per message cost ~15% of fan-in throughput; timestamps and TTLs
// are therefore accurate to the kernel tick.
[[nodiscard]] std::int64_t now_ns() noexcept;

using TypeTag = const void*;
template <class T>
inline constexpr char type_tag_object = 0;
// A unique address per message type; ActorRefs of different (subset) type
// lists agree on it, unlike an index into one list.
template <class T>
inline constexpr TypeTag type_tag = &type_tag_object<T>;

// Reply slot of an ask (defined in ask.hpp); refcounted, shared by asker and envelope.
class ReplySlotBase;
void add_ref(ReplySlotBase*) noexcept;
// Envelope side: completes the slot with ErrorCategory::broken_promise if nobody replied, then releases.
void drop_reply(ReplySlotBase*) noexcept;
struct ReplySlotPtr {
  ReplySlotBase* p = nullptr;
  ReplySlotPtr() = default;
  explicit ReplySlotPtr(ReplySlotBase* s) noexcept : p(s) { if (p) add_ref(p); }
  ReplySlotPtr(ReplySlotPtr&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
  ReplySlotPtr& operator=(ReplySlotPtr&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~ReplySlotPtr() { if (p) drop_reply(p); }
};

// The fields most tells leave at zero: only an envelope with a TTL, a
// correlation id or a reply slot (an ask) carries them (WideEnvelope).
struct EnvelopeExt {
  std::uint64_t correlation_id = 0;
  std::int64_t deadline_ns = 0;  // 0: none
  ReplySlotPtr reply;
};

// 48 bytes before the payload (vptr, queue link, tag, id, sender and flags,
// timestamp), so that a payload of up to 16 bytes fits one 64-byte pool
// block: a tell with no options (a reply, a request, a tick) takes one
// cache line and half the memory it took with every header field stored
// (88 bytes in a 128-byte block). Why it matters: 100,000 spawned actors
// replying to their spawner queue 100,000 envelopes while its handler runs,
// memory a fresh process must fault in (docs/rt.md, Known limits). The
// fields a tell rarely sets live in an EnvelopeExt right after these
// (WideEnvelope, 72 bytes before the payload); handlers read all of them
// through header(), as the EnvelopeHeader they always were.
struct Envelope : MpscNode {
  TypeTag tag = nullptr;
  std::uint64_t id = 0;
  std::int64_t timestamp_ns = 0;

  virtual ~Envelope() = default;
  // Envelopes are recycled through per-thread caches (pool.cpp):
  // the receiver frees what another thread allocated, which glibc malloc
  // handles with arena locks. Plain malloc in sanitizer builds.
  static void* operator new(std::size_t n);
  static void operator delete(void* p, std::size_t n) noexcept;

  // The sender's actor id keeps the low 56 bits of a word whose high bits are
  // flags. Actor ids count up from 1, one per spawn: 2^56 is 228 years of
  // spawning at 10 M actors/s, so no id reaches the flags (they are masked off
  // regardless, so a flag can never be overwritten).
  static constexpr std::uint64_t kSenderMask = (std::uint64_t{1} << 56) - 1;
  static constexpr std::uint64_t kWide = std::uint64_t{1} << 63;      // an EnvelopeExt follows
  static constexpr std::uint64_t kDeadline = std::uint64_t{1} << 62;  // ext's deadline_ns != 0
  static constexpr std::uint64_t kSystem = std::uint64_t{1} << 61;    // Priority::system

  [[nodiscard]] ActorId sender() const noexcept { return bits_ & kSenderMask; }
  void set_sender(ActorId a) noexcept { bits_ = (bits_ & ~kSenderMask) | (a & kSenderMask); }
  [[nodiscard]] Priority priority() const noexcept {
    return (bits_ & kSystem) != 0 ? Priority::system : Priority::normal;
  }
  void set_priority(Priority p) noexcept { bits_ = p == Priority::system ? bits_ | kSystem : bits_ & ~kSystem; }
  [[nodiscard]] bool wide() const noexcept { return (bits_ & kWide) != 0; }
  // Read on every message (coalescing, expiry) without touching the ext.
  [[nodiscard]] bool has_deadline() const noexcept { return (bits_ & kDeadline) != 0; }
  // nullptr unless wide().
  [[nodiscard]] EnvelopeExt* ext() noexcept;
  [[nodiscard]] const EnvelopeExt* ext() const noexcept;
  [[nodiscard]] std::int64_t deadline_ns() const noexcept;
  // An ask's reply slot; nullptr for a tell (or once a deferred reply took it).
  [[nodiscard]] ReplySlotBase* reply_slot() const noexcept;
  // Takes the reply slot's reference out (a deferred reply); nullptr if none.
  [[nodiscard]] ReplySlotBase* take_reply() noexcept;
  // What the handler reads (ActorBase::envelope()).
  [[nodiscard]] EnvelopeHeader header() const noexcept;

 protected:
  explicit Envelope(std::uint64_t flags) noexcept : bits_(flags) {}

 private:
  friend struct WideEnvelope;
  std::uint64_t bits_;
};

struct WideEnvelope : Envelope {
  EnvelopeExt x;

  // The deadline flag follows deadline_ns (run() and coalescing read only the flag).
  void set_deadline(std::int64_t ns) noexcept {
    x.deadline_ns = ns;
    bits_ = ns != 0 ? bits_ | kDeadline : bits_ & ~kDeadline;
  }

 protected:
  WideEnvelope() noexcept : Envelope(kWide) {}
};

inline EnvelopeExt* Envelope::ext() noexcept { return wide() ? &static_cast<WideEnvelope*>(this)->x : nullptr; }
inline const EnvelopeExt* Envelope::ext() const noexcept {
  return wide() ? &static_cast<const WideEnvelope*>(this)->x : nullptr;
}
inline std::int64_t Envelope::deadline_ns() const noexcept { return wide() ? ext()->deadline_ns : 0; }
inline ReplySlotBase* Envelope::reply_slot() const noexcept { return wide() ? ext()->reply.p : nullptr; }
inline ReplySlotBase* Envelope::take_reply() noexcept {
  return wide() ? std::exchange(ext()->reply.p, nullptr) : nullptr;
}
inline EnvelopeHeader Envelope::header() const noexcept {
  EnvelopeHeader h;
  h.id = id;
  h.sender = sender();
  h.timestamp_ns = timestamp_ns;
  h.priority = priority();
  if (const EnvelopeExt* x = ext()) {
    h.correlation_id = x->correlation_id;
    h.deadline_ns = x->deadline_ns;
  }
  return h;
}

// A message of type T: TypedEnvelope when no EnvelopeExt field is set,
// WideTypedEnvelope otherwise; payload<T>() finds it in either.
template <class T>
struct TypedEnvelope final : Envelope {
  template <class... A>
  explicit TypedEnvelope(A&&... a) : Envelope(0), payload(std::forward<A>(a)...) {}
  T payload;
};

template <class T>
struct WideTypedEnvelope final : WideEnvelope {
  template <class... A>
  explicit WideTypedEnvelope(A&&... a) : payload(std::forward<A>(a)...) {}
  T payload;
};

template <class T>
[[nodiscard]] T& payload(Envelope& e) noexcept {
  return e.wide() ? static_cast<WideTypedEnvelope<T>&>(e).payload : static_cast<TypedEnvelope<T>&>(e).payload;
}

// The sizes the comment on Envelope promises (x86-64 and other LP64 targets).
static_assert(sizeof(void*) != 8 || sizeof(TypedEnvelope<std::uint64_t[2]>) == 64,
              "a 16-byte payload must fit one 64-byte pool block");
static_assert(sizeof(void*) != 8 || sizeof(WideTypedEnvelope<std::uint64_t[2]>) == 88);

}  // namespace detail
}  // namespace airssys::rt
