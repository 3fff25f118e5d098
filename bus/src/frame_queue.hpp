#pragma once
// FrameQueue: a FIFO of encoded frames (length prefix + body) for one
// subscription's backlog in the broker.
//
// Bytes live in fixed chunks of ~64 KiB and a frame may straddle chunks, so
// memory is the queued bytes plus at most three chunks (the partly consumed
// head, the partly filled tail, one spare), whatever the frame sizes. push,
// pop_front and move_front cost O(bytes moved): dropping the oldest frame
// under drop-oldest is O(1) and never copies the rest of the queue (a single
// growable buffer reallocated and copied the whole queue per message once it
// was full, which made a full drop-oldest subscription quadratic).
// The spare chunk is reused before allocating, so a queue at its budget
// (drop one, push one) does not allocate at all.
// Not thread-safe (the broker thread owns it).

#include "byte_buffer.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string_view>

namespace airssys::bus::detail {

class FrameQueue {
 public:
  // A little under 64 KiB, so a chunk with an allocator header (malloc's,
  // or ASan's redzone) still fits a 64 KiB allocation class.
  static constexpr std::size_t kChunk = 63 * 1024;

  [[nodiscard]] std::size_t frames() const noexcept { return lens_.size(); }
  [[nodiscard]] bool empty() const noexcept { return lens_.empty(); }
  [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
  // Size of the i-th oldest frame (0 = front); i < frames().
  [[nodiscard]] std::uint32_t frame_size(std::size_t i) const noexcept { return lens_[i]; }

  // Chunks held, the spare included (memory is chunks() * kChunk).
  [[nodiscard]] std::size_t chunks() const noexcept { return chunks_.size() + (spare_ ? 1 : 0); }

  // Appends one encoded frame.
  void push(std::string_view frame) {
    const char* p = frame.data();
    std::size_t n = frame.size();
    while (n > 0) {
      if (tail_ == kChunk) add_chunk();
      const std::size_t k = std::min(n, kChunk - tail_);
      std::memcpy(chunks_.back().get() + tail_, p, k);
      tail_ += k;
      p += k;
      n -= k;
    }
    lens_.push_back(static_cast<std::uint32_t>(frame.size()));
    bytes_ += frame.size();
  }

  // Drops the oldest frame; returns its size. Requires !empty().
  std::uint32_t pop_front() {
    const std::uint32_t n = lens_.front();
    lens_.pop_front();
    skip(n);
    return n;
  }

  // Appends the oldest k frames to out and removes them; returns their bytes.
  std::uint64_t move_front(ByteBuffer& out, std::size_t k) {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < k; ++i) total += lens_[i];
    char* dst = out.prepare(total);
    std::size_t left = total, off = head_;
    for (std::size_t c = 0; left > 0; ++c) {
      const std::size_t n = std::min(left, kChunk - off);
      std::memcpy(dst, chunks_[c].get() + off, n);
      dst += n;
      left -= n;
      off = 0;
    }
    out.commit(total);
    lens_.erase(lens_.begin(), lens_.begin() + static_cast<std::ptrdiff_t>(k));
    skip(total);
    return total;
  }

  // Frees every chunk, queued frames included.
  void clear() noexcept {
    chunks_.clear();
    spare_.reset();
    lens_.clear();
    head_ = 0;
    tail_ = kChunk;
    bytes_ = 0;
  }

 private:
  void add_chunk() {
    chunks_.push_back(spare_ ? std::move(spare_) : std::make_unique_for_overwrite<char[]>(kChunk));
    tail_ = 0;
  }

  // Advances the head by n bytes, retiring chunks it leaves behind.
  void skip(std::size_t n) noexcept {
    bytes_ -= n;
    head_ += n;
    while (head_ >= kChunk || (bytes_ == 0 && !chunks_.empty())) {
      if (bytes_ == 0 && chunks_.size() == 1) {  // empty: keep the chunk for the next push
        head_ = tail_ = 0;
        lens_.shrink_to_fit();
        return;
      }
      retire_front();
      head_ -= std::min(head_, kChunk);
    }
  }

  void retire_front() noexcept {
    if (!spare_) spare_ = std::move(chunks_.front());
    chunks_.pop_front();
  }

  std::deque<std::unique_ptr<char[]>> chunks_;
  std::size_t head_ = 0;       // offset of the oldest byte in chunks_.front()
  std::size_t tail_ = kChunk;  // bytes used in chunks_.back() (kChunk: none or full)
  std::deque<std::uint32_t> lens_;
  std::uint64_t bytes_ = 0;
  std::unique_ptr<char[]> spare_;
};

}  // namespace airssys::bus::detail
