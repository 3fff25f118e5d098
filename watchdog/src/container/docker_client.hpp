#pragma once
// A Docker Engine API client over a Unix socket (HTTP/1.1 by unix_http.hpp:
// no libcurl, nothing loaded at run time). podman's `podman system service`
// serves the same API, which is what the tests run against.
//
// The engine is found from DOCKER_HOST ("unix:///path"), default
// unix:///var/run/docker.sock; other schemes (tcp://, ssh://) are refused.
//
// Thread safety: a DockerClient is immutable after construction; each call
// opens its own connection, so calls may run concurrently from several
// threads (the container monitor waits and copies logs at the same time).
//
// Bounds: a reply kept in memory is at most 16 MiB (unix_http.hpp); a
// streamed one (RequestOptions::sink, the logs) is not.

#include "container/unix_http.hpp"

#include <airssys/watchdog/error.hpp>

#include <atomic>
#include <chrono>
#include <expected>
#include <functional>
#include <string>
#include <string_view>

namespace airssys::watchdog::container {

// Optional per-request behaviour.
struct RequestOptions {
  std::string body;  // sent as application/json when not empty (and for POST)
  // 0: no limit (e.g. /wait, which returns when the container ends).
  std::chrono::milliseconds timeout{30'000};
  // When set, the response body is handed here as it arrives (not kept in
  // HttpResponse::body); returning false aborts the transfer.
  std::function<bool(std::string_view)> sink;
  // When set and it becomes true, the transfer is aborted within ~200 ms,
  // or once the sink call under way returns, even while the engine sends
  // without pause (HttpResponse::cancelled then says so).
  const std::atomic<bool>* cancel = nullptr;
};

class DockerClient {
 public:
  // `socket_path`: the engine's Unix socket.
  explicit DockerClient(std::string socket_path);

  // From DOCKER_HOST (default unix:///var/run/docker.sock). Fails with a
  // usage error for a DOCKER_HOST that is not unix://.
  [[nodiscard]] static std::expected<DockerClient, Error> from_env();

  // "unix:///path", for messages.
  [[nodiscard]] std::string endpoint() const { return "unix://" + socket_; }
  [[nodiscard]] const std::string& socket_path() const noexcept { return socket_; }

  // One HTTP request; `path` starts with "/" and is sent under the API
  // version prefix (/v1.41). Transport failures become an Error whose
  // message reads "no container engine at unix:///…: REASON" when nothing
  // accepts on the socket, else "container engine at unix:///…: METHOD
  // PATH: REASON"; HTTP error statuses are returned, not errors. A sink
  // refusing more or `cancel` ends the request early without an error.
  [[nodiscard]] std::expected<HttpResponse, Error> request(std::string_view method, const std::string& path,
                                                           const RequestOptions& opts = {}) const;

  // GET /_ping: the engine answers.
  [[nodiscard]] std::expected<void, Error> ping() const;

 private:
  std::string socket_;
};

// The engine's message from an error response body ({"message": "..."}),
// else the body itself, trimmed.
[[nodiscard]] std::string engine_message(const HttpResponse& r);

// Percent-encodes a query value.
[[nodiscard]] std::string url_escape(std::string_view s);

}  // namespace airssys::watchdog::container
