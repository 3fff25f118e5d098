#pragma once
// Webhook URLs: checked with libcurl's own URL parser (so what the config
// accepts is what the sender can use), and shown in messages without their
// secrets.

#include <airssys/daemoneye/error.hpp>

#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

// ok for an http:// or https:// URL with a host; else invalid_input. Messages never repeat the
// URL (it may carry a password or a token).
[[nodiscard]] Result<void> check_webhook_url(std::string_view url);

// The URL without user:password, query and fragment, for logs:
// "https://u:p@h.example/x?token=s" → "https://h.example/x". "(invalid URL)"
// when it cannot be parsed.
[[nodiscard]] std::string redact_url(std::string_view url);

}  // namespace airssys::daemoneye::detail
