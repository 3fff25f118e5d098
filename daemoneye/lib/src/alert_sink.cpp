#include "alert_sink.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

namespace airssys::daemoneye::detail {

void FailureReporter::failed(std::string_view why, std::uint64_t count, std::string_view cause) {
  counters_->errors.fetch_add(count, std::memory_order_relaxed);
  const bool new_cause = !cause.empty() && std::ranges::find(logged_causes_, cause) == logged_causes_.end();
  if (failures_in_a_row_ == 0) {
    log(fmt::format("{}: {} (further failures are counted, not logged, until it works again)", name_, why));
  } else if (new_cause && logged_causes_.size() < kMaxLoggedCauses) {
    log(fmt::format("{}: still failing, now: {} (further failures of this kind are counted, not logged)", name_, why));
  }
  if (new_cause && logged_causes_.size() < kMaxLoggedCauses) logged_causes_.emplace_back(cause);
  failures_in_a_row_ += count;
}

void FailureReporter::succeeded() {
  if (failures_in_a_row_ == 0) return;
  log(fmt::format("{}: works again after {} failed alert deliveries", name_, failures_in_a_row_));
  failures_in_a_row_ = 0;
  logged_causes_.clear();
}

void FailureReporter::log(std::string_view message) const {
  if (log_) log_(message);
}

int write_fully(int fd, std::string_view data, std::size_t& written) noexcept {
  written = 0;
  while (written < data.size()) {
    const ssize_t n = ::write(fd, data.data() + written, data.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return EIO;
    written += static_cast<std::size_t>(n);
  }
  return 0;
}

std::string render(const Delivery& d, SinkFormat format) {
  return format == SinkFormat::json ? *d.json : alert_to_human(*d.alert);
}

}  // namespace airssys::daemoneye::detail
