#pragma once

#include <airssys/osl/activity.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace airssys::osl::detail {

// What one side of the audit queue keeps of its records after a batch was
// written, so the next batch fills strings that already have their capacity
// (see ActivityLog::push). Bounded three ways: at most kMaxRecords records,
// none that grew past kMaxRecordBytes (a long argv), and kMaxBytes in all,
// so a burst of large records leaves at most ~1 MiB of strings a side
// behind. The vector's capacity (the record slots) is not trimmed: a busy
// queue refills it at every batch (docs/osl.md counts it).
//
// Remembers what each kept record holds, so a batch measures only the
// records it refilled, not every kept one. One per vector: it must see every
// trim of that vector and no other's.
class KeptRecords {
 public:
  static constexpr std::size_t kMaxRecords = 4096;
  static constexpr std::size_t kMaxRecordBytes = 4096;
  static constexpr std::size_t kMaxBytes = std::size_t{1} << 20;

  // After `batch` was written, [0, written) having been filled since the
  // last call: lets go of what is past the bounds (records at the end, the
  // strings of a large one).
  void trim(std::vector<ActivityRecord>& batch, std::size_t written);

  // The string and vector capacity the kept records hold (an estimate that
  // counts short strings' inline room too).
  [[nodiscard]] std::size_t bytes() const noexcept { return total_; }

  // The same estimate for one record.
  [[nodiscard]] static std::size_t bytes_of(const ActivityRecord& r) noexcept;

 private:
  std::vector<std::uint32_t> sizes_;  // bytes_of each kept record, as measured
  std::size_t total_ = 0;
};

}  // namespace airssys::osl::detail
