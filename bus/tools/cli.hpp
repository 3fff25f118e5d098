#pragma once
// Shared pieces of the airssys-bus CLI: exit codes, error mapping, socket
// default, durations, waiting for SIGINT/SIGTERM.

#include <airssys/bus/error.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace airssys::bus::cli {

// Exit codes (also in --help and docs/bus.md).
inline constexpr int kOk = 0;
inline constexpr int kFailure = 1;  // cannot connect, connection lost, I/O error
inline constexpr int kUsage = 2;    // bad arguments or invalid subject
inline constexpr int kTimeout = 3;  // request: no reply in time
inline constexpr int kRefused = 4;  // the broker refused our uid or this subject

inline constexpr const char* kExitCodes =
    "Exit codes: 0 ok; 1 cannot connect / connection lost / I/O error; 2 usage error or invalid subject; "
    "3 request timed out; 4 refused by the broker (uid not admitted, or subject not permitted).";

int report(const Error& e);  // prints "airssys-bus: <error>" (unless just printed), returns the exit code
// ClientOptions::on_error for every command: prints each asynchronous error
// ("airssys-bus: permission_denied: …") to stderr. An error that will recur
// for every message (refused subject or uid, frame too large) is remembered
// as fatal and ends wait_for_stop(); reconnects and lost connections are only
// printed (the client keeps trying).
void on_async_error(const Error& e);
std::optional<Error> fatal_async_error();
std::string default_socket();
// Both through osl's one parser (airssys/osl/duration.hpp); the error is
// the message for a person, naming `what`.
// --timeout: "250ms", "2s", "1.5s", "1m", "1h", or a bare number of seconds:
//   --timeout: '5x' is not a duration; use e.g. 30s, 5m, 1h
std::expected<std::chrono::milliseconds, std::string> parse_timeout(std::string_view what, std::string_view text);
// A whole decimal number (digits only: no sign, hex, exponent or unit)
// within [min, max]:
//   --max-msgs: 'ten' is not a whole number; use e.g. 10
//   --count: 0 is too small (at least 1)
std::expected<std::uint64_t, std::string> parse_whole(std::string_view what, std::string_view text, std::uint64_t min,
                                                      std::uint64_t max);

// Blocks SIGINT and SIGTERM in the calling thread (call before any thread is
// started, so all threads inherit it); wait_for_stop() then returns when one
// arrives or when notify_done() is called from any thread.
void block_stop_signals();
void wait_for_stop();
void notify_done();

int run_bench(const std::string& socket, const std::string& scenario, long msgs, long rr_msgs);

}  // namespace airssys::bus::cli
