#include <airssys/daemoneye/component_errors.hpp>

#include <airssys/ledger/error.hpp>
#include <airssys/osl/error.hpp>

namespace airssys::daemoneye {

ErrorCategory category_of(const osl::Error& e) noexcept {
  using C = osl::ErrorCategory;
  switch (e.category) {
    case C::denied:
    case C::permission: return ErrorCategory::denied;
    case C::not_found: return ErrorCategory::not_found;
    case C::invalid_argument:
    case C::already_exists: return ErrorCategory::invalid_input;
    case C::io: return ErrorCategory::io;
    case C::timeout: return ErrorCategory::timeout;
    case C::resource_exhausted: return ErrorCategory::resource_exhausted;
    case C::unsupported: return ErrorCategory::unavailable;
    case C::internal: return ErrorCategory::internal;
  }
  return ErrorCategory::internal;
}

ErrorCategory category_of(const ledger::Error& e) noexcept {
  using C = ledger::ErrorCategory;
  switch (e.category) {
    case C::invalid_argument:
    case C::out_of_range:
    case C::already_exists:
    case C::crypto: return ErrorCategory::invalid_input;
    case C::not_found: return ErrorCategory::not_found;
    case C::busy: return ErrorCategory::busy;
    case C::io: return ErrorCategory::io;
    case C::corrupt:
    case C::invalid_proof: return ErrorCategory::corrupt;
    case C::internal: return ErrorCategory::internal;
  }
  return ErrorCategory::internal;
}

}  // namespace airssys::daemoneye
