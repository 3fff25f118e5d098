#pragma once
// ByteBuffer: a growable byte array with a consumed-front offset, for frame
// input and output. Unlike std::vector<char> it never zero-fills on growth,
// and consuming the front is O(1) (compact() moves the rest down when asked).
// Not thread-safe.

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace airssys::bus::detail {

class ByteBuffer {
 public:
  [[nodiscard]] const char* data() const noexcept { return buf_.get() + begin_; }
  [[nodiscard]] char* data() noexcept { return buf_.get() + begin_; }
  [[nodiscard]] std::size_t size() const noexcept { return end_ - begin_; }
  [[nodiscard]] bool empty() const noexcept { return end_ == begin_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
  [[nodiscard]] std::string_view view() const noexcept { return {data(), size()}; }

  // Space for at least n more bytes at the end; returns where they go.
  // Call commit(k) after writing k <= n of them.
  char* prepare(std::size_t n) {
    if (cap_ - end_ < n) grow(n);
    return buf_.get() + end_;
  }
  void commit(std::size_t n) noexcept { end_ += n; }
  void append(const void* p, std::size_t n) {
    if (n == 0) return;
    std::memcpy(prepare(n), p, n);
    commit(n);
  }
  void append(std::string_view s) { append(s.data(), s.size()); }

  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  void clear() noexcept { begin_ = end_ = 0; }
  // Drops the buffer's memory when it grew beyond `keep` (after bursts).
  void shrink_if_above(std::size_t keep) {
    if (empty() && cap_ > keep) {
      buf_.reset();
      cap_ = 0;
      begin_ = end_ = 0;
    }
  }
  void swap(ByteBuffer& o) noexcept {
    buf_.swap(o.buf_);
    std::swap(cap_, o.cap_);
    std::swap(begin_, o.begin_);
    std::swap(end_, o.end_);
  }

 private:
  void grow(std::size_t n) {
    const std::size_t live = size();
    if (begin_ > 0 && cap_ - live >= n && live <= cap_ / 2) {  // room after compacting
      std::memmove(buf_.get(), buf_.get() + begin_, live);
    } else {
      std::size_t cap = cap_ < 4096 ? 4096 : cap_;
      while (cap - live < n) cap *= 2;
      auto nb = std::make_unique_for_overwrite<char[]>(cap);
      if (live > 0) std::memcpy(nb.get(), buf_.get() + begin_, live);
      buf_ = std::move(nb);
      cap_ = cap;
    }
    begin_ = 0;
    end_ = live;
  }

  std::unique_ptr<char[]> buf_;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace airssys::bus::detail
