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

struct Envelope : MpscNode, EnvelopeHeader {
  TypeTag tag = nullptr;
  ReplySlotPtr reply;
  virtual ~Envelope() = default;
  // Envelopes are recycled through per-thread caches (pool.cpp):
  // the receiver frees what another thread allocated, which glibc malloc
  // handles with arena locks. Plain malloc in sanitizer builds.
  static void* operator new(std::size_t n);
  static void operator delete(void* p, std::size_t n) noexcept;
};

template <class T>
struct TypedEnvelope final : Envelope {
  template <class... A>
  explicit TypedEnvelope(A&&... a) : payload(std::forward<A>(a)...) {}
  T payload;
};

}  // namespace detail
}  // namespace airssys::rt
