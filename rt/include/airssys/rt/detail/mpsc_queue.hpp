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

class MpscQueue {
 public:
  MpscQueue() noexcept : head_(&stub_), tail_(&stub_) {}
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  // Thread-safe. seq_cst so that a consumer checking for work after
  // announcing it is going idle sees either this node or the announcement.
  void push(MpscNode* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    MpscNode* prev = head_.exchange(n, std::memory_order_seq_cst);
    prev->next.store(n, std::memory_order_release);
  }

  // Consumer only.
  MpscNode* pop() noexcept {
    MpscNode* tail = tail_;
    MpscNode* next = tail->next.load(std::memory_order_acquire);
    if (tail == &stub_) {
      if (next == nullptr) return nullptr;
      tail_ = next;
      tail = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    if (tail != head_.load(std::memory_order_acquire)) return nullptr;  // producer mid-push
    push(&stub_);
    next = tail->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail_ = next;
      return tail;
    }
    return nullptr;
  }

  // Any thread; a hint only (true may be stale by the time the caller acts).
  [[nodiscard]] bool maybe_nonempty() const noexcept {
    return head_.load(std::memory_order_seq_cst) != &stub_ ||
           stub_.next.load(std::memory_order_acquire) != nullptr;
  }

 private:
  std::atomic<MpscNode*> head_;  // producers
  MpscNode* tail_;               // consumer
  MpscNode stub_;
};

}  // namespace airssys::rt::detail
