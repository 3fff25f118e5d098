#pragma once
// HTTP/1.1 over a Unix stream socket: the transport of the Docker Engine API
// client (docker_client.hpp), and nothing more.
//
// Why not a library: task-watchdog is linked fully static (docs/
// task-watchdog.md, "Start-up"), so libcurl could only come in through the
// static libc's dlopen, with a second libc in the process; Debian 12's
// cpp-httplib 0.11.4 is not header-only but a shared library
// (libcpp-httplib.so.0.11, itself linked to libssl, zlib and brotli) with no
// static archive. This client needs no host names, so nothing here reaches
// getaddrinfo or NSS.
//
// What it speaks: one request per connection (`Connection: close`), a body
// sent with Content-Length; a reply whose body comes with Content-Length,
// chunked transfer coding (trailers read and dropped), or up to the end of
// the stream. Interim 1xx replies are skipped. No TLS, no redirects, no
// keep-alive, no compression.
//
// Bounds: the status line and headers at most 64 KiB together, a chunk-size
// line at most 1 KiB, a body kept in memory at most `max_body` bytes (more
// is an error, found before reading it when the length is announced). A
// sink receives the body in pieces as they arrive and is not bounded in
// total: a container's log stream lasts as long as the container.
//
// Time: `connect_timeout` to connect, `timeout` for the whole exchange,
// connecting included (0: none). `cancel` and the deadline are looked at
// before every send and recv (at most 16 KiB each), and every 200 ms while
// waiting for the socket: a stream arriving faster than the sink takes it
// is ended as surely as an idle one (within one sink call).
//
// Thread safety: free functions without shared state; every call has its
// own socket (O_CLOEXEC).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

namespace airssys::watchdog::container {

struct HttpResponse {
  long status = 0;  // 0 when the exchange was stopped before the status line
  std::string body;
  bool cancelled = false;  // `cancel` ended the exchange (what arrived until then is here)
};

enum class HttpFailure {
  connect,       // nothing accepts on the socket (errno_value says why)
  timeout,       // connect_timeout or timeout passed
  io,            // send/recv failed (errno_value)
  closed_early,  // the peer closed before the reply's end
  malformed,     // not an HTTP/1.x reply this client can read
  too_large,     // the body (without a sink) or the header block passed its bound
};

struct HttpError {
  HttpFailure kind = HttpFailure::io;
  std::string reason;  // for people: "the reply body is larger than 16777216 bytes"
  int errno_value = 0;
};

struct UnixHttpRequest {
  std::string_view method;        // "GET", "POST", "DELETE"
  std::string_view target;        // origin form: "/v1.41/containers/x/json?size=1"
  std::string_view body;          // sent with Content-Length when not empty, or for POST/PUT
  std::string_view content_type;  // a Content-Type header when not empty
};

struct UnixHttpOptions {
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds timeout{30'000};  // the whole exchange; 0: no limit
  std::size_t max_body = std::size_t{16} << 20;
  // When set, the body goes here piece by piece instead of into
  // HttpResponse::body; returning false ends the exchange.
  std::function<bool(std::string_view)> sink;
  // When set and it becomes true, the exchange ends within ~200 ms, or
  // once the sink call under way returns.
  const std::atomic<bool>* cancel = nullptr;
};

// One request on a new connection to `socket_path`. HTTP error statuses are
// replies, not errors. A sink refusing more or `cancel` ending the exchange
// is not an error either: what arrived until then is returned (status 0 if
// the status line had not; `cancelled` set for `cancel`).
[[nodiscard]] std::expected<HttpResponse, HttpError> unix_http(const std::string& socket_path, const UnixHttpRequest& req,
                                                               const UnixHttpOptions& opts = {});

}  // namespace airssys::watchdog::container
