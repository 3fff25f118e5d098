#pragma once
// What a NATS sink's configured names must look like, checked when the
// config is loaded (so a typo is a FILE:LINE error, not a publish that never
// lands) and used again when the sink is built.

#include <airssys/daemoneye/error.hpp>

#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

// One or more comma-separated server URLs (a cluster's seed list), each
// nats://, tls:// (TLS required) or a bare HOST:PORT, optionally with
// user:password@ (never logged: see redact_nats_url).
[[nodiscard]] Result<void> check_nats_url(std::string_view url);
// The URL list with any user:password@ removed, for logs.
[[nodiscard]] std::string redact_nats_url(std::string_view url);

// A publish subject: dot-separated non-empty tokens of printable ASCII
// without spaces, '*' or '>' (wildcards cannot be published to); "{host}"
// may appear and is replaced by nats_subject_host() at publish time.
[[nodiscard]] Result<void> check_nats_subject(std::string_view subject);
// The host name as one subject token: '.', '*', '>' and anything outside
// printable ASCII become '_' ("web1.example.com" -> "web1_example_com").
[[nodiscard]] std::string nats_subject_host(std::string_view host);
// `subject` with every "{host}" replaced by nats_subject_host(host).
[[nodiscard]] std::string expand_nats_subject(std::string_view subject, std::string_view host);

// A JetStream stream name: 1-255 characters, none of space, '.', '*', '>',
// '/', '\' or control characters (nats-server's own rule).
[[nodiscard]] Result<void> check_nats_stream(std::string_view stream);

}  // namespace airssys::daemoneye::detail
