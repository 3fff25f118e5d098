#pragma once
// Whether this process holds a capability in its effective set (capget(2);
// no libcap needed for one question).

namespace airssys::daemoneye {

[[nodiscard]] bool has_effective_capability(int capability) noexcept;

}  // namespace airssys::daemoneye
