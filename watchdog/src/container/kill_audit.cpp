#include "container/kill_audit.hpp"

#include "container/engine.hpp"

#include <airssys/osl/activity.hpp>
#include <airssys/watchdog/audit.hpp>
#include <airssys/watchdog/runner.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <random>

namespace airssys::watchdog::container {

namespace {

using nlohmann::json;

// op_ids are per process in osl's records (from 1 up); these are drawn at
// random above 2^32, so they pair a start with its end without meeting the
// ids of the osl operations written to the same file.
std::uint64_t next_op_id() {
  static std::mt19937_64 rng{std::random_device{}()};
  return (rng() | (std::uint64_t{1} << 32)) & ((std::uint64_t{1} << 53) - 1);  // exact in a JSON double
}

// Writes one record to every sink; the first failure, if any.
std::optional<std::string> write_record(const std::vector<std::shared_ptr<osl::ActivitySink>>& sinks,
                                        const osl::ActivityRecord& r) {
  std::optional<std::string> failed;
  for (const auto& s : sinks) {
    if (auto w = s->write(std::span(&r, 1)); !w && !failed) failed = s->name() + ": " + w.error().to_string();
  }
  return failed;
}

Audited audited(const KillAudit& a, const DockerClient& c, const std::string& cid, osl::OpKind op,
                                   json detail, const std::function<std::expected<void, Error>()>& request) {
  detail["task"] = a.task_id;
  detail["container"] = container_name(a.task_id);
  detail["container_id"] = cid;
  detail["engine"] = c.endpoint();
  detail["reason"] = a.reason;
  std::vector<std::shared_ptr<osl::ActivitySink>> sinks;
  std::optional<std::string> audit_failed;
  if (auto opts = audit_options(a.state_dir)) {
    sinks = std::move(opts->sinks);
  } else {
    audit_failed = opts.error().message;
  }
  osl::ActivityRecord r;
  r.ts = std::chrono::system_clock::now();
  r.op_id = next_op_id();
  r.event = osl::ActivityEvent::start;
  r.op = op;
  r.principal = current_principal();
  r.resources = {container_name(a.task_id)};
  r.decision = osl::DecisionKind::allow;
  r.outcome = "started";
  r.detail_json = detail.dump();
  if (auto w = write_record(sinks, r); w && !audit_failed) audit_failed = *w;

  const auto t0 = std::chrono::steady_clock::now();
  auto done = request();
  r.ts = std::chrono::system_clock::now();
  r.duration_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  r.event = osl::ActivityEvent::end;
  r.outcome = done ? "ok" : "error";
  if (!done) r.error = osl::Error{.category = osl::ErrorCategory::io, .message = done.error().message};
  r.detail_json.clear();  // as osl's end records: the facts are on the start record
  if (auto w = write_record(sinks, r); w && !audit_failed) audit_failed = *w;

  Audited out{std::move(done), std::nullopt};
  if (audit_failed) {
    out.audit_failure = Error{ErrorCategory::failure, fmt::format("container {}: the audit record of {} was not written: {}",
                                                                  container_name(a.task_id), detail.value("request", ""), *audit_failed)};
  }
  return out;
}

}  // namespace

Audited audited_stop(const KillAudit& a, const DockerClient& c, const std::string& cid,
                                        std::chrono::milliseconds grace) {
  const auto secs = (grace.count() + 999) / 1000;
  json detail{{"request", fmt::format("POST /containers/{}/stop?t={}", cid, secs)}, {"signal", "SIGTERM"}, {"grace_ms", grace.count()}};
  return audited(a, c, cid, osl::OpKind::process_kill, std::move(detail), [&] { return stop_container(c, cid, grace); });
}

Audited audited_kill(const KillAudit& a, const DockerClient& c, const std::string& cid, const std::string& signal) {
  json detail{{"request", fmt::format("POST /containers/{}/kill?signal={}", cid, signal)}, {"signal", signal}};
  const auto op = signal == "SIGKILL" ? osl::OpKind::process_kill : osl::OpKind::process_signal;
  return audited(a, c, cid, op, std::move(detail), [&] { return kill_container(c, cid, signal); });
}

Audited audited_remove(const KillAudit& a, const DockerClient& c, const std::string& cid) {
  json detail{{"request", fmt::format("DELETE /containers/{}?force=true&v=true", cid)}, {"signal", "SIGKILL"}};
  return audited(a, c, cid, osl::OpKind::process_kill, std::move(detail), [&] { return remove_container(c, cid); });
}

}  // namespace airssys::watchdog::container
