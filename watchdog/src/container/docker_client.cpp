#include "container/docker_client.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdlib>

namespace airssys::watchdog::container {

namespace {

constexpr const char* kApiPrefix = "/v1.41";
constexpr const char* kDefaultHost = "unix:///var/run/docker.sock";

}  // namespace

DockerClient::DockerClient(std::string socket_path) : socket_(std::move(socket_path)) {}

std::expected<DockerClient, Error> DockerClient::from_env() {
  const char* env = std::getenv("DOCKER_HOST");
  const std::string host = env != nullptr && *env != '\0' ? env : kDefaultHost;
  constexpr std::string_view scheme = "unix://";
  if (!host.starts_with(scheme) || host.size() == scheme.size()) {
    return std::unexpected(Error{ErrorCategory::usage, fmt::format("DOCKER_HOST '{}': only unix:///PATH is supported", host)});
  }
  return DockerClient(host.substr(scheme.size()));
}

std::expected<HttpResponse, Error> DockerClient::request(std::string_view method, const std::string& path,
                                                         const RequestOptions& opts) const {
  const std::string target = kApiPrefix + path;
  const bool json_body = !opts.body.empty() || method == "POST";
  auto r = unix_http(socket_, {.method = method, .target = target, .body = opts.body, .content_type = json_body ? "application/json" : ""},
                     {.timeout = opts.timeout, .sink = opts.sink, .cancel = opts.cancel});
  if (r) return std::move(*r);
  if (r.error().kind == HttpFailure::connect) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("no container engine at {}: {}", endpoint(), r.error().reason),
                                 r.error().errno_value});
  }
  return std::unexpected(Error{ErrorCategory::failure, fmt::format("container engine at {}: {} {}: {}", endpoint(), method, path,
                                                                   r.error().reason),
                               r.error().errno_value});
}

std::expected<void, Error> DockerClient::ping() const {
  auto r = request("GET", "/_ping", {.timeout = std::chrono::milliseconds(10'000)});
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("no container engine at {}: /_ping answered HTTP {}: {}",
                                                                 endpoint(), r->status, engine_message(*r))});
  }
  return {};
}

std::string engine_message(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) return j["message"].get<std::string>();
  std::string s = r.body;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s.empty() ? fmt::format("HTTP {}", r.status) : s;
}

std::string url_escape(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += ch;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

}  // namespace airssys::watchdog::container
