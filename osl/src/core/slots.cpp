#include "core/slots.hpp"

#include <fmt/format.h>

namespace airssys::osl::detail {

SlotToken& SlotToken::operator=(SlotToken&& o) noexcept {
  if (this != &o) {
    release();
    pool_ = std::move(o.pool_);
  }
  return *this;
}

SlotToken::~SlotToken() { release(); }

void SlotToken::release() noexcept {
  if (pool_) {
    pool_->release_one();
    pool_.reset();
  }
}

std::expected<SlotToken, Error> SlotPool::acquire(std::chrono::milliseconds wait) {
  if (limit_ == 0) return SlotToken{};
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, wait, [this] { return used_ < limit_; })) {
    return std::unexpected(Error::make(
        ErrorCategory::resource_exhausted,
        fmt::format("limit of {} concurrent {} reached; waited {} ms for a free slot", limit_, what_, wait.count())));
  }
  ++used_;
  return SlotToken{shared_from_this()};
}

std::size_t SlotPool::in_use() const {
  std::lock_guard lock(mu_);
  return used_;
}

void SlotPool::release_one() noexcept {
  {
    std::lock_guard lock(mu_);
    --used_;
  }
  cv_.notify_one();
}

}  // namespace airssys::osl::detail
