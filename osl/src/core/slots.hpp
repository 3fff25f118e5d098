#pragma once
// SlotPool — a counting limit with a timed acquire (max open files, child
// processes, connections). A limit of 0 means unlimited: acquire then costs
// nothing and returns an empty token.

#include <airssys/osl/error.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <expected>
#include <memory>
#include <mutex>
#include <string>

namespace airssys::osl::detail {

class SlotPool;

// Holds one slot until destroyed. Thread-safe to destroy from any thread.
class SlotToken {
 public:
  SlotToken() = default;
  explicit SlotToken(std::shared_ptr<SlotPool> pool) : pool_(std::move(pool)) {}
  SlotToken(SlotToken&&) noexcept = default;
  SlotToken& operator=(SlotToken&& o) noexcept;
  SlotToken(const SlotToken&) = delete;
  SlotToken& operator=(const SlotToken&) = delete;
  ~SlotToken();
  void release() noexcept;

 private:
  std::shared_ptr<SlotPool> pool_;
};

class SlotPool : public std::enable_shared_from_this<SlotPool> {
 public:
  SlotPool(std::string what, std::size_t limit) : what_(std::move(what)), limit_(limit) {}
  [[nodiscard]] std::expected<SlotToken, Error> acquire(std::chrono::milliseconds wait);
  [[nodiscard]] std::size_t in_use() const;
  void release_one() noexcept;

 private:
  const std::string what_;
  const std::size_t limit_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t used_ = 0;
};

}  // namespace airssys::osl::detail
