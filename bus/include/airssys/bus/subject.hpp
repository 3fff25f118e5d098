#pragma once
// Subjects with NATS semantics (docs/bus.md "Subjects").
//
// A subject is one or more non-empty tokens separated by '.'. In a
// subscription, the token `*` matches exactly one token and `>` (only as the
// last token) matches one or more trailing tokens. Publishers use literal
// subjects only. Wildcard characters must be a whole token ("a*" is refused).
// Bytes <= 0x20 and 0x7f are refused; the length limit is kMaxSubjectBytes.

#include <airssys/bus/error.hpp>

#include <cstddef>
#include <expected>
#include <string_view>

namespace airssys::bus {

inline constexpr std::size_t kMaxSubjectBytes = 256;

// A literal subject a message may be published to.
[[nodiscard]] std::expected<void, Error> validate_publish_subject(std::string_view subject);
// A subscription pattern (literal tokens, `*`, and a final `>`).
[[nodiscard]] std::expected<void, Error> validate_subscribe_subject(std::string_view pattern);

// Does the (valid) pattern match the (valid, literal) subject?
[[nodiscard]] bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;
// Does pattern `outer` match every subject `inner` can match? Used for
// subscribe permissions: a client may subscribe to `inner` only if an allowed
// pattern covers it.
[[nodiscard]] bool subject_covers(std::string_view outer, std::string_view inner) noexcept;

}  // namespace airssys::bus
