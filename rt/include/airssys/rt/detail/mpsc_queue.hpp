#pragma once
// Intrusive multi-producer single-consumer queue (Dmitry Vyukov's design).
// push(): wait-free, any thread. pop(): one consumer at a time (the thread
// currently running the owning actor or worker). A node may be in at most one
// queue at a time. pop() can return nullptr while a producer is between its
// exchange and its link store; callers treat that as "try again later"
// (the pending-message count tells them something is still coming).
#include <atomic>

namespace airssys::rt::detail {

struct MpscNode {
  std::atomic<MpscNode*> next{nullptr};
};

// The queue is split into its producer half (head) and consumer half
// (tail, stub) so that an owner can place them on different cache lines:
// senders then do not invalidate the line the receiver works on.
struct MpscProducer {
  std::atomic<MpscNode*> head{nullptr};
};
struct MpscConsumer {
  MpscNode* tail = nullptr;
  MpscNode stub;
};

inline void mpsc_init(MpscProducer& p, MpscConsumer& c) noexcept {
  p.head.store(&c.stub, std::memory_order_relaxed);
  c.tail = &c.stub;
}

// Thread-safe. seq_cst so that a consumer checking for work after
// announcing it is going idle sees either this node or the announcement.
inline void mpsc_push(MpscProducer& p, MpscNode* n) noexcept {
  n->next.store(nullptr, std::memory_order_relaxed);
  MpscNode* prev = p.head.exchange(n, std::memory_order_seq_cst);
  prev->next.store(n, std::memory_order_release);
}

// Thread-safe: pushes the chain first..last (linked through next by the
// caller, last->next is set here) with one exchange, as push() does one node.
inline void mpsc_push_chain(MpscProducer& p, MpscNode* first, MpscNode* last) noexcept {
  last->next.store(nullptr, std::memory_order_relaxed);
  MpscNode* prev = p.head.exchange(last, std::memory_order_seq_cst);
  prev->next.store(first, std::memory_order_release);
}

// Consumer only. Inlined: an actor's run pops every message through it, and
// g++ kept it out of line (a call per message in CellBase::run).
[[gnu::always_inline]] inline MpscNode* mpsc_pop(MpscProducer& p, MpscConsumer& c) noexcept {
  MpscNode* tail = c.tail;
  MpscNode* next = tail->next.load(std::memory_order_acquire);
  if (tail == &c.stub) {
    if (next == nullptr) return nullptr;
    c.tail = next;
    tail = next;
    next = next->next.load(std::memory_order_acquire);
  }
  if (next != nullptr) {
    c.tail = next;
    return tail;
  }
  if (tail != p.head.load(std::memory_order_acquire)) return nullptr;  // producer mid-push
  mpsc_push(p, &c.stub);
  next = tail->next.load(std::memory_order_acquire);
  if (next != nullptr) {
    c.tail = next;
    return tail;
  }
  return nullptr;
}

class MpscQueue {
 public:
  MpscQueue() noexcept { mpsc_init(p_, c_); }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  void push(MpscNode* n) noexcept { mpsc_push(p_, n); }
  void push_chain(MpscNode* first, MpscNode* last) noexcept { mpsc_push_chain(p_, first, last); }
  MpscNode* pop() noexcept { return mpsc_pop(p_, c_); }

  // No emptiness peek from other threads: after the consumer re-inserts the
  // stub while a producer pushes, head can point at the stub with an item
  // still queued. Owners that need to know keep their own counter.

 private:
  MpscProducer p_;
  MpscConsumer c_;
};

}  // namespace airssys::rt::detail
