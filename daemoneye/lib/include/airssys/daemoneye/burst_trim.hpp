#pragma once
// Gives memory back to the system after a burst of events (a fork storm):
// glibc keeps freed heap for reuse, so without this procmond and the agent
// stayed at their peak RSS (probe 14 finding 7: ~500 and ~630 MB after a
// 3 s storm). Call count() per event handled and quiet() when the queue
// has drained; quiet() calls malloc_trim(0) once after at least
// `after_events` events, and `extra_quiet` more times at later quiet()s
// (memory a periodic cleanup frees later, e.g. the event assembler's
// per-scan bookkeeping, is returned too).
//
// Not thread-safe: one owner thread.

#include <cstdint>

namespace airssys::daemoneye {

class BurstTrim {
 public:
  explicit BurstTrim(std::uint64_t after_events = 8192, int extra_quiet = 10) noexcept
      : after_(after_events), extra_(extra_quiet) {}
  void count(std::uint64_t n = 1) noexcept { since_ += n; }
  // True when it trimmed.
  bool quiet() noexcept;
  [[nodiscard]] std::uint64_t trims() const noexcept { return trims_; }

 private:
  std::uint64_t after_;
  int extra_;
  std::uint64_t since_ = 0;
  int left_ = 0;
  std::uint64_t trims_ = 0;
};

}  // namespace airssys::daemoneye
