#include <airssys/rt/circuit_breaker.hpp>

#include <mutex>

namespace airssys::rt {

const char* to_string(BreakerState s) noexcept {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "unknown";
}

namespace detail {

// All state under one mutex: a breaker guards calls that take at least a
// message round trip, so the lock is never the bottleneck.
struct BreakerCore {
  using Clock = std::chrono::steady_clock;
  explicit BreakerCore(BreakerConfig c) : cfg(std::move(c)) {
    if (cfg.failure_threshold == 0) cfg.failure_threshold = 1;
    if (cfg.half_open_trials == 0) cfg.half_open_trials = 1;
  }

  Clock::time_point now() const { return cfg.clock ? cfg.clock() : Clock::now(); }

  // Open -> half-open once the timeout has passed. Caller holds m.
  void refresh() {
    if (stats.state == BreakerState::open && now() - opened_at >= cfg.open_timeout) {
      stats.state = BreakerState::half_open;
      ++gen;
      in_flight = 0;
      successes = 0;
    }
  }
  void open() {
    stats.state = BreakerState::open;
    ++stats.opened;
    ++gen;
    opened_at = now();
    consecutive_failures = 0;
    in_flight = 0;
    successes = 0;
  }

  std::mutex m;
  BreakerConfig cfg;
  BreakerStats stats;
  std::uint64_t gen = 1;  // bumped on every transition: results of older permits are ignored
  Clock::time_point opened_at{};
  std::uint32_t consecutive_failures = 0;
  std::uint32_t in_flight = 0;  // half-open trials granted and not yet recorded
  std::uint32_t successes = 0;  // half-open successes
};

}  // namespace detail

CircuitBreaker::CircuitBreaker(BreakerConfig cfg) : core_(std::make_shared<detail::BreakerCore>(std::move(cfg))) {}

std::expected<CircuitBreaker::Permit, Error> CircuitBreaker::try_acquire() {
  std::lock_guard lk(core_->m);
  core_->refresh();
  auto& c = *core_;
  const bool refuse = c.stats.state == BreakerState::open ||
                      (c.stats.state == BreakerState::half_open && c.in_flight >= c.cfg.half_open_trials);
  if (refuse) {
    ++c.stats.rejected;
    return std::unexpected(
        Error{ErrorCategory::circuit_open, std::string("circuit breaker is ") + to_string(c.stats.state)});
  }
  if (c.stats.state == BreakerState::half_open) ++c.in_flight;
  ++c.stats.calls;
  return Permit(core_, c.gen);
}

void CircuitBreaker::Permit::finish(bool success) noexcept {
  if (!core_) return;
  auto core = std::move(core_);
  std::lock_guard lk(core->m);
  auto& c = *core;
  if (!success) ++c.stats.failures;
  if (gen_ != c.gen) return;  // the breaker changed state since this call began
  switch (c.stats.state) {
    case BreakerState::closed:
      if (success) {
        c.consecutive_failures = 0;
      } else if (++c.consecutive_failures >= c.cfg.failure_threshold) {
        c.open();
      }
      break;
    case BreakerState::half_open:
      if (c.in_flight > 0) --c.in_flight;
      if (!success) {
        c.open();
      } else if (++c.successes >= c.cfg.half_open_trials) {
        c.stats.state = BreakerState::closed;
        ++c.gen;
        c.consecutive_failures = 0;
      }
      break;
    case BreakerState::open:
      break;
  }
}

BreakerState CircuitBreaker::state() const {
  std::lock_guard lk(core_->m);
  core_->refresh();
  return core_->stats.state;
}

BreakerStats CircuitBreaker::stats() const {
  std::lock_guard lk(core_->m);
  core_->refresh();
  return core_->stats;
}

}  // namespace airssys::rt
