#pragma once
// The container operations task-watchdog needs, on top of DockerClient: the
// create request it sends, start, inspect, stop with grace, kill, remove,
// wait, stats and the log stream. Each returns the engine's own message on
// failure (e.g. "no such image"). What is sent is documented in
// docs/task-watchdog.md ("Containers").

#include "container/docker_client.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace airssys::watchdog::container {

struct ContainerSpec {
  std::string id;     // task id: the container is named task-<id> and labelled task-watchdog.id=<id>
  std::string image;
  std::vector<std::string> argv;  // Cmd (the image's entrypoint, if any, stays)
  std::vector<std::string> env;   // K=V; TASK_ID=<id> is added
  std::string workdir;            // empty: the image's
  std::optional<std::uint64_t> memory_bytes;  // HostConfig.Memory
  std::optional<double> cpus;                 // HostConfig.NanoCpus = cpus * 1e9
  std::optional<std::uint64_t> pids;          // HostConfig.PidsLimit
  std::string network;                        // HostConfig.NetworkMode; empty: the engine's default
};

// Ulimits sent with every create (soft = hard). Without explicit Ulimits
// podman asks runc for nofile 1048576, above its own hard limit here, and
// start fails with "error setting rlimit"; the caller's limits are no guide
// either (podman's service runs with nproc 32768 here, the shell with 96362:
// asking for the latter fails the same way). These values are below what
// engines normally run with.
inline constexpr std::int64_t kContainerNofile = 1024;
inline constexpr std::int64_t kContainerNproc = 4096;

// The body of POST /containers/create (docs/task-watchdog.md, "Containers").
[[nodiscard]] nlohmann::json create_body(const ContainerSpec& spec);

[[nodiscard]] std::string container_name(const std::string& task_id);

// POST /containers/create?name=task-<id>; returns the container id.
[[nodiscard]] std::expected<std::string, Error> create_container(const DockerClient& c, const ContainerSpec& spec);
[[nodiscard]] std::expected<void, Error> start_container(const DockerClient& c, const std::string& cid);
// GET /containers/{id}/json; nullopt when the engine does not know it (404).
[[nodiscard]] std::expected<std::optional<nlohmann::json>, Error> inspect_container(const DockerClient& c,
                                                                                   const std::string& cid);
// POST /containers/{id}/stop?t=SECONDS: SIGTERM (the image's stop signal),
// then SIGKILL after `grace` (rounded up to whole seconds). A container that
// is not running is not an error.
[[nodiscard]] std::expected<void, Error> stop_container(const DockerClient& c, const std::string& cid,
                                                        std::chrono::milliseconds grace);
// POST /containers/{id}/kill?signal=SIG (not running: not an error).
[[nodiscard]] std::expected<void, Error> kill_container(const DockerClient& c, const std::string& cid,
                                                        const std::string& signal = "SIGKILL");
// DELETE /containers/{id}?force=true&v=true (already gone: not an error).
[[nodiscard]] std::expected<void, Error> remove_container(const DockerClient& c, const std::string& cid);
// POST /containers/{id}/wait: blocks until the container is not running;
// returns its exit code. `cancel` aborts the wait.
[[nodiscard]] std::expected<int, Error> wait_container(const DockerClient& c, const std::string& cid,
                                                       const std::atomic<bool>* cancel = nullptr);

struct ContainerUsage {
  double cpu_percent = 0;       // 100 = one CPU busy; from two samples
  std::uint64_t memory_bytes = 0;
  std::optional<std::uint64_t> pids;
};
// Two GET /containers/{id}/stats?stream=false samples `interval` apart;
// nullopt when the engine gives no usage (e.g. the container stopped).
[[nodiscard]] std::optional<ContainerUsage> container_usage(const DockerClient& c, const std::string& cid,
                                                            std::chrono::milliseconds interval);

// Splits the engine's multiplexed log stream (8-byte frame headers: stream
// 1 = stdout, 2 = stderr, then a big-endian length) back into the two
// streams. Feed it bytes as they arrive: a frame's data is handed on as
// far as it has arrived (a frame may reach `out` in several pieces), so
// nothing but a partial 8-byte header is held, whatever length a header
// claims (up to 4 GiB).
class LogDemux {
 public:
  using Out = std::function<void(int stream, std::string_view data)>;
  explicit LogDemux(Out out) : out_(std::move(out)) {}
  void feed(std::string_view bytes);

 private:
  Out out_;
  unsigned char header_[8] = {};
  std::size_t header_size_ = 0;  // bytes of the next header already fed
  int stream_ = 1;
  std::uint64_t left_ = 0;       // bytes of the current frame not yet fed
};

// GET /containers/{id}/logs?follow=true&stdout=true&stderr=true: hands
// stdout and stderr to `out` until the container ends or `cancel`.
[[nodiscard]] std::expected<void, Error> follow_logs(const DockerClient& c, const std::string& cid,
                                                     const LogDemux::Out& out, const std::atomic<bool>* cancel);

}  // namespace airssys::watchdog::container
