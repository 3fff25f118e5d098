#pragma once
// libcrypto is loaded on first use, not at start-up (crypto_lazy.cpp says
// why). --audit-ledger, the one thing that needs it, loads it up front so
// a missing library is an error naming it, not a failed hash later.

#include <expected>
#include <string>

namespace airssys::watchdog::cli {

// Loads libcrypto.so.3 and its digest functions (once); the loader's
// message if it cannot.
[[nodiscard]] std::expected<void, std::string> crypto_lazy_load();

}  // namespace airssys::watchdog::cli
