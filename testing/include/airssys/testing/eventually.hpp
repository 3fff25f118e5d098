#pragma once
// eventually(): waits, bounded, for something another thread or process
// does. The limit only ends a hung test; it is never a timing assertion, so
// it is generous. Polling starts at 1 ms and backs off to 50 ms, cheap for a
// flag and gentle for a predicate that runs a program.

#include <chrono>
#include <functional>

namespace airssys::testing {

// True as soon as `pred` holds; false if it still does not after `limit`
// (checked once more at the end). Not [[nodiscard]]: a predicate that
// captures what it found is a fine use, the caller checking that instead.
bool eventually(const std::function<bool()>& pred,
                              std::chrono::milliseconds limit = std::chrono::seconds(60));

}  // namespace airssys::testing
