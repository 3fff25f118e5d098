#include <airssys/osl/system.hpp>

#include "core/core.hpp"

namespace airssys::osl {

System::System(SystemOptions options) : core_(std::make_shared<detail::Core>(std::move(options))) {}
System::System(System&&) noexcept = default;
System& System::operator=(System&&) noexcept = default;
System::~System() = default;

void System::set_policy(Policy policy) { core_->set_policy(std::move(policy)); }

std::expected<void, PolicyError> System::reload_policy(const std::filesystem::path& file) {
  auto p = Policy::load_file(file);
  if (!p) return std::unexpected(p.error());
  core_->set_policy(std::move(*p));
  return {};
}

Policy System::policy() const { return core_->policy(); }

std::expected<void, Error> System::flush_audit(std::chrono::milliseconds timeout) {
  if (!core_->log().flush(timeout)) {
    return std::unexpected(Error::make(ErrorCategory::timeout,
                                       "audit sinks did not catch up in time: " + core_->log().last_error()));
  }
  return {};
}

SystemStats System::stats() const { return core_->stats(); }

MetricsSnapshot System::metrics() const { return core_->metrics(); }

}  // namespace airssys::osl
