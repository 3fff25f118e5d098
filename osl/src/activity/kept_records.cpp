#include "activity/kept_records.hpp"

#include <algorithm>
#include <numeric>
#include <utility>

namespace airssys::osl::detail {

std::size_t KeptRecords::bytes_of(const ActivityRecord& r) noexcept {
  std::size_t bytes = r.principal.capacity() + r.detail_json.capacity() + r.outcome.capacity() +
                      r.resources.capacity() * sizeof(std::string);
  for (const auto& s : r.resources) bytes += s.capacity();
  if (r.rule) bytes += r.rule->capacity();
  if (r.error) bytes += r.error->message.capacity();
  return bytes;
}

void KeptRecords::trim(std::vector<ActivityRecord>& batch, std::size_t written) {
  if (batch.size() > kMaxRecords) batch.resize(kMaxRecords);
  // Refilled records, and any this side has not measured yet (a vector met
  // for the first time), are measured; the rest are as they were.
  const std::size_t known = std::min(sizes_.size(), batch.size());
  sizes_.resize(batch.size());
  auto measure = [&](std::size_t i) {
    ActivityRecord& r = batch[i];
    std::size_t b = bytes_of(r);
    if (b > kMaxRecordBytes) {
      // Not `r = ActivityRecord{}`: moving an empty (inline) string into a
      // string copies its characters and keeps the heap buffer. Moving out
      // of `r` takes the buffers with the record that is destroyed here.
      (void)std::exchange(r, ActivityRecord{});
      b = bytes_of(r);
    }
    sizes_[i] = static_cast<std::uint32_t>(b);
  };
  for (std::size_t i = 0; i < std::min(written, known); ++i) measure(i);
  for (std::size_t i = known; i < batch.size(); ++i) measure(i);
  total_ = std::accumulate(sizes_.begin(), sizes_.end(), std::size_t{0});
  if (total_ <= kMaxBytes) return;
  // Over the budget: keep the first records up to it.
  std::size_t kept = 0;
  std::size_t n = 0;
  while (n < sizes_.size() && kept + sizes_[n] <= kMaxBytes) kept += sizes_[n++];
  batch.resize(n);
  sizes_.resize(n);
  total_ = kept;
}

}  // namespace airssys::osl::detail
