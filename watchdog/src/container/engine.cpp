#include "container/engine.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>

namespace airssys::watchdog::container {

using nlohmann::json;

namespace {

Error engine_error(const std::string& what, const HttpResponse& r) {
  return Error{ErrorCategory::failure, fmt::format("{}: {}", what, engine_message(r))};
}

json ulimit(const char* name, std::int64_t value) { return json{{"Name", name}, {"Soft", value}, {"Hard", value}}; }

std::string path_id(const std::string& cid) { return url_escape(cid); }

}  // namespace

std::string container_name(const std::string& task_id) { return "task-" + task_id; }

json create_body(const ContainerSpec& spec) {
  json env = json::array();
  for (const auto& e : spec.env) env.push_back(e);
  env.push_back("TASK_ID=" + spec.id);
  json host{{"Ulimits", json::array({ulimit("nofile", kContainerNofile), ulimit("nproc", kContainerNproc)})}};
  if (spec.memory_bytes) host["Memory"] = *spec.memory_bytes;
  if (spec.cpus) host["NanoCpus"] = static_cast<std::int64_t>(std::llround(*spec.cpus * 1e9));
  if (spec.pids) host["PidsLimit"] = *spec.pids;
  if (!spec.network.empty()) host["NetworkMode"] = spec.network;
  json body{{"Image", spec.image},
            {"Cmd", spec.argv},
            {"Env", env},
            {"Labels", {{"task-watchdog.id", spec.id}}},
            {"AttachStdin", false},
            {"AttachStdout", true},
            {"AttachStderr", true},
            {"Tty", false},
            {"HostConfig", host}};
  if (!spec.workdir.empty()) body["WorkingDir"] = spec.workdir;
  return body;
}

std::expected<std::string, Error> create_container(const DockerClient& c, const ContainerSpec& spec) {
  auto r = c.request("POST", "/containers/create?name=" + url_escape(container_name(spec.id)),
                     {.body = create_body(spec).dump()});
  if (!r) return std::unexpected(r.error());
  if (r->status != 201) return std::unexpected(engine_error(fmt::format("cannot create container from image '{}'", spec.image), *r));
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("Id") || !j["Id"].is_string()) {
    return std::unexpected(Error{ErrorCategory::failure, "container create: the engine's answer has no Id: " + r->body});
  }
  return j["Id"].get<std::string>();
}

std::expected<void, Error> start_container(const DockerClient& c, const std::string& cid) {
  auto r = c.request("POST", "/containers/" + path_id(cid) + "/start");
  if (!r) return std::unexpected(r.error());
  if (r->status != 204 && r->status != 304) return std::unexpected(engine_error("cannot start the container", *r));
  return {};
}

std::expected<std::optional<json>, Error> inspect_container(const DockerClient& c, const std::string& cid) {
  auto r = c.request("GET", "/containers/" + path_id(cid) + "/json");
  if (!r) return std::unexpected(r.error());
  if (r->status == 404) return std::optional<json>{};
  if (r->status != 200) return std::unexpected(engine_error("cannot inspect the container", *r));
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return std::unexpected(Error{ErrorCategory::failure, "container inspect: not a JSON object"});
  return std::optional<json>(std::move(j));
}

std::expected<void, Error> stop_container(const DockerClient& c, const std::string& cid, std::chrono::milliseconds grace) {
  const auto secs = (grace.count() + 999) / 1000;
  // The engine answers once the container is down: allow it the grace period and then some.
  auto r = c.request("POST", fmt::format("/containers/{}/stop?t={}", path_id(cid), secs),
                     {.timeout = std::chrono::milliseconds(secs * 1000 + 60'000)});
  if (!r) return std::unexpected(r.error());
  if (r->status != 204 && r->status != 304 && r->status != 404) return std::unexpected(engine_error("cannot stop the container", *r));
  return {};
}

std::expected<void, Error> kill_container(const DockerClient& c, const std::string& cid, const std::string& signal) {
  auto r = c.request("POST", fmt::format("/containers/{}/kill?signal={}", path_id(cid), url_escape(signal)));
  if (!r) return std::unexpected(r.error());
  // 409: not running; 404: gone. Either way nothing is left to signal.
  if (r->status != 204 && r->status != 409 && r->status != 404) return std::unexpected(engine_error("cannot kill the container", *r));
  return {};
}

std::expected<void, Error> remove_container(const DockerClient& c, const std::string& cid) {
  auto r = c.request("DELETE", fmt::format("/containers/{}?force=true&v=true", path_id(cid)),
                     {.timeout = std::chrono::milliseconds(120'000)});
  if (!r) return std::unexpected(r.error());
  if (r->status != 204 && r->status != 200 && r->status != 404) return std::unexpected(engine_error("cannot remove the container", *r));
  return {};
}

std::expected<int, Error> wait_container(const DockerClient& c, const std::string& cid, const std::atomic<bool>* cancel) {
  auto r = c.request("POST", "/containers/" + path_id(cid) + "/wait", {.timeout = std::chrono::milliseconds(0), .cancel = cancel});
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) return std::unexpected(engine_error("cannot wait for the container", *r));
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object() || !j.contains("StatusCode") || !j["StatusCode"].is_number_integer()) {
    return std::unexpected(Error{ErrorCategory::failure, "container wait: no StatusCode in " + r->body});
  }
  return j["StatusCode"].get<int>();
}

namespace {

struct Sample {
  std::uint64_t cpu_ns = 0;
  std::uint64_t memory = 0;
  std::optional<std::uint64_t> pids;
  std::chrono::steady_clock::time_point at;
};

std::optional<Sample> stats_sample(const DockerClient& c, const std::string& cid) {
  auto r = c.request("GET", "/containers/" + path_id(cid) + "/stats?stream=false");
  if (!r || r->status != 200) return std::nullopt;
  Sample s;
  s.at = std::chrono::steady_clock::now();
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  const auto at = [&](const char* ptr) {
    const json::json_pointer p(ptr);
    return j.contains(p) ? j.at(p) : json();
  };
  const auto cpu = at("/cpu_stats/cpu_usage/total_usage");
  const auto mem = at("/memory_stats/usage");
  const auto pids = at("/pids_stats/current");
  if (!cpu.is_number_integer() || cpu.get<std::int64_t>() < 0) return std::nullopt;
  s.cpu_ns = cpu.get<std::uint64_t>();
  if (mem.is_number_integer() && mem.get<std::int64_t>() >= 0) s.memory = mem.get<std::uint64_t>();
  if (pids.is_number_integer() && pids.get<std::int64_t>() >= 0) s.pids = pids.get<std::uint64_t>();
  return s;
}

}  // namespace

std::optional<ContainerUsage> container_usage(const DockerClient& c, const std::string& cid, std::chrono::milliseconds interval) {
  auto a = stats_sample(c, cid);
  if (!a) return std::nullopt;
  std::this_thread::sleep_for(interval);
  auto b = stats_sample(c, cid);
  if (!b) return std::nullopt;
  const double wall_ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b->at - a->at).count());
  ContainerUsage u;
  if (wall_ns > 0 && b->cpu_ns >= a->cpu_ns) u.cpu_percent = 100.0 * static_cast<double>(b->cpu_ns - a->cpu_ns) / wall_ns;
  u.memory_bytes = b->memory;
  u.pids = b->pids;
  return u;
}

void LogDemux::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (left_ > 0) {
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(left_, bytes.size()));
      out_(stream_, bytes.substr(0, take));
      bytes.remove_prefix(take);
      left_ -= take;
      continue;
    }
    const std::size_t take = std::min(sizeof header_ - header_size_, bytes.size());
    std::memcpy(header_ + header_size_, bytes.data(), take);
    header_size_ += take;
    bytes.remove_prefix(take);
    if (header_size_ < sizeof header_) continue;
    header_size_ = 0;
    stream_ = header_[0] == 2 ? 2 : 1;
    left_ = (std::uint64_t{header_[4]} << 24) | (std::uint64_t{header_[5]} << 16) | (std::uint64_t{header_[6]} << 8) | header_[7];
  }
}

std::expected<void, Error> follow_logs(const DockerClient& c, const std::string& cid, const LogDemux::Out& out,
                                       const std::atomic<bool>* cancel) {
  LogDemux demux(out);
  RequestOptions opts;
  opts.timeout = std::chrono::milliseconds(0);
  opts.cancel = cancel;
  std::string raw;  // an error answer is not a log stream: kept for the message
  opts.sink = [&](std::string_view bytes) {
    demux.feed(bytes);
    if (raw.size() < 4096) raw.append(bytes.substr(0, 4096 - raw.size()));
    return true;
  };
  auto r = c.request("GET", "/containers/" + path_id(cid) + "/logs?follow=true&stdout=true&stderr=true", opts);
  if (!r) return std::unexpected(r.error());
  if (r->status != 200) {
    return std::unexpected(Error{ErrorCategory::failure, fmt::format("container logs: HTTP {}: {}", r->status, raw)});
  }
  return {};
}

}  // namespace airssys::watchdog::container
