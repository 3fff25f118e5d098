#pragma once
// Chase-Lev work-stealing deque (Le, Pop, Cohen, Zappa Nardelli, PPoPP 2013),
// written with seq_cst operations instead of standalone fences so that
// ThreadSanitizer (which ignores fences) sees every happens-before edge.
// push()/pop(): the owning worker only. steal(): any thread.
// push() grows without bound (old arrays are kept until destruction, since a
// thief may still be reading one), so spawning N actors from one actor costs
// O(N); it throws std::bad_alloc only when growing finds no memory (the
// scheduler's own calls use try_push()). try_push() refuses at a caller's limit instead,
// and when growing would need memory there is none of (it never throws).
#include <atomic>
#include <cstdint>
#include <memory>
#include <new>
#include <vector>

namespace airssys::rt::detail {

template <class T>
class ChaseLevDeque {
 public:
  explicit ChaseLevDeque(std::int64_t log2cap = 8) {
    arrays_.push_back(std::make_unique<Array>(std::int64_t{1} << log2cap));
    array_.store(arrays_.back().get(), std::memory_order_relaxed);
  }

  // Throws std::bad_alloc if the deque must grow and cannot (then nothing
  // is pushed); try_push() returns false instead.
  void push(T* x) {
    if (!push_or_refuse(x)) throw std::bad_alloc();
  }

  // Owner only: pushes xs[0..n) with one publication (one seq_cst store
  // instead of n); pop() returns xs[n - 1] first, steal() xs[0] first.
  void push_many(T* const* xs, std::int64_t n) {
    if (n <= 0) return;
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    Array* a = array_.load(std::memory_order_relaxed);
    if (b + n - 1 - top_seen_ > a->mask) {
      top_seen_ = top_.load(std::memory_order_acquire);
      while (b + n - 1 - top_seen_ > a->mask) a = grow(a, top_seen_, b);
    }
    for (std::int64_t i = 0; i < n; ++i) a->put(b + i, xs[i]);
    bottom_.store(b + n, std::memory_order_seq_cst);
  }

  // Owner only: the item pop() would return next, or nullptr. A hint (to
  // prefetch): a thief may take it meanwhile.
  [[nodiscard]] T* peek() const noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    if (b <= top_.load(std::memory_order_relaxed)) return nullptr;
    return array_.load(std::memory_order_relaxed)->get(b - 1);
  }

  // Owner only: push() unless the deque already holds `limit` items or
  // more, or it must grow and there is no memory for that; then false and
  // nothing is pushed (the deque stays as it was).
  bool try_push(T* x, std::int64_t limit) noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    if (b - top_seen_ >= limit) {
      top_seen_ = top_.load(std::memory_order_acquire);
      if (b - top_seen_ >= limit) return false;
    }
    return push_or_refuse(x);
  }

  T* pop() {
    std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    Array* a = array_.load(std::memory_order_relaxed);
    bottom_.store(b, std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) {
      bottom_.store(b + 1, std::memory_order_relaxed);
      return nullptr;
    }
    T* x = a->get(b);
    if (t == b) {
      if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
        x = nullptr;
      bottom_.store(b + 1, std::memory_order_relaxed);
    }
    return x;
  }

  // nullptr if empty or if it lost a race (callers just move on).
  T* steal() {
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    std::int64_t b = bottom_.load(std::memory_order_seq_cst);
    if (t >= b) return nullptr;
    Array* a = array_.load(std::memory_order_acquire);
    T* x = a->get(t);
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed))
      return nullptr;
    return x;
  }

  [[nodiscard]] bool maybe_nonempty() const noexcept {
    return bottom_.load(std::memory_order_seq_cst) > top_.load(std::memory_order_seq_cst);
  }

 private:
  struct Array {
    explicit Array(std::int64_t n) : mask(n - 1), slots(new std::atomic<T*>[static_cast<std::size_t>(n)]) {}
    void put(std::int64_t i, T* x) { slots[static_cast<std::size_t>(i & mask)].store(x, std::memory_order_release); }
    T* get(std::int64_t i) { return slots[static_cast<std::size_t>(i & mask)].load(std::memory_order_acquire); }
    std::int64_t mask;
    std::unique_ptr<std::atomic<T*>[]> slots;
  };

  bool push_or_refuse(T* x) noexcept {
    std::int64_t b = bottom_.load(std::memory_order_relaxed);
    Array* a = array_.load(std::memory_order_relaxed);
    // top_ only grows, so a stale copy over-estimates the size: top_ (the
    // line thieves write) is read only when the array looks full, not on
    // every push (that read was a third of push's cost in the spawn profile).
    if (b - top_seen_ > a->mask) {
      top_seen_ = top_.load(std::memory_order_acquire);
      if (b - top_seen_ > a->mask) {
        a = grow_or_null(a, top_seen_, b);
        if (a == nullptr) return false;
      }
    }
    a->put(b, x);
    bottom_.store(b + 1, std::memory_order_seq_cst);
    return true;
  }

  // Out of line: the handler stays off push's path (inlined, it kept the
  // scheduler's publish_fresh from being inlined into schedule()).
  [[gnu::noinline, gnu::cold]] Array* grow_or_null(Array* a, std::int64_t t, std::int64_t b) noexcept {
    try {
      return grow(a, t, b);
    } catch (const std::bad_alloc&) {
      return nullptr;
    }
  }

  Array* grow(Array* a, std::int64_t t, std::int64_t b) {
    auto bigger = std::make_unique<Array>((a->mask + 1) * 2);
    for (std::int64_t i = t; i < b; ++i) bigger->put(i, a->get(i));
    Array* raw = bigger.get();
    arrays_.push_back(std::move(bigger));  // owner-only vector; thieves only read array_
    array_.store(raw, std::memory_order_release);
    return raw;
  }

  alignas(64) std::atomic<std::int64_t> top_{0};
  alignas(64) std::atomic<std::int64_t> bottom_{0};
  std::int64_t top_seen_ = 0;  // owner only: a value top_ had (acquired), at most top_
  std::atomic<Array*> array_{nullptr};
  std::vector<std::unique_ptr<Array>> arrays_;
};

}  // namespace airssys::rt::detail
