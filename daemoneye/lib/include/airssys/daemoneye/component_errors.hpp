#pragma once
// The DaemonEye category of an error from a component DaemonEye builds on,
// for callers that turn one into a daemoneye::Error:
//
//   Error{category_of(e), e.errno_value, "audit log " + path + ": " + e.to_string()}
//
// airssys-osl's `permission` and `denied` both become denied, `unsupported`
// becomes unavailable, `already_exists` invalid_input; airssys-ledger's
// `invalid_proof` becomes corrupt, `out_of_range` and `crypto` (a bad key
// file) invalid_input. The other categories keep their names.

#include <airssys/daemoneye/error.hpp>

namespace airssys::osl {
struct Error;
}
namespace airssys::ledger {
struct Error;
}

namespace airssys::daemoneye {

[[nodiscard]] ErrorCategory category_of(const osl::Error& e) noexcept;
[[nodiscard]] ErrorCategory category_of(const ledger::Error& e) noexcept;

}  // namespace airssys::daemoneye
