#pragma once

namespace airssys::osl {
// Result of operations that succeed without a value.
struct Done {
  friend bool operator==(Done, Done) = default;
};
}  // namespace airssys::osl
