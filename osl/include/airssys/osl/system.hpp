#pragma once
// osl::System — the only way to run an airssys-osl operation.
//
// Every run() goes through one pipeline:
//   canonicalise resources → policy decision → activity record (start, or
//   denied) → platform executor → activity record (end).
// There is no public executor: an operation value can only be executed here.
//
// Thread safety: all member functions are thread-safe. Handles returned by
// operations (Process, Connection, Listener, DatagramSocket) keep the
// System's internals alive and may outlive the System object.

#include <airssys/osl/activity.hpp>
#include <airssys/osl/cgroup.hpp>
#include <airssys/osl/error.hpp>
#include <airssys/osl/exec.hpp>
#include <airssys/osl/external.hpp>
#include <airssys/osl/fork.hpp>
#include <airssys/osl/fs.hpp>
#include <airssys/osl/metrics.hpp>
#include <airssys/osl/net.hpp>
#include <airssys/osl/policy.hpp>
#include <airssys/osl/process.hpp>

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl {

// 0 means unlimited. An operation that finds its limit full waits up to
// `wait` for a slot, then fails with resource_exhausted. Slots are held while
// an fs operation runs, while a Process handle owns a live child, and while a
// Connection / Listener / DatagramSocket exists.
struct ResourceLimits {
  std::size_t max_open_files = 0;
  std::size_t max_processes = 0;
  std::size_t max_connections = 0;
  std::chrono::milliseconds wait{1000};
};

struct AuditOptions {
  // No sinks = no records are kept. Enforcement is unaffected: logging and
  // enforcement are independent switches.
  std::vector<std::shared_ptr<ActivitySink>> sinks{};
  // Records wait in a bounded queue for the writer thread. When it is full
  // the operation waits; records are never dropped.
  std::size_t queue_capacity = 8192;
  // If a start record cannot be queued within this time (a sink keeps
  // failing, e.g. a full disk), the operation is not executed and fails with
  // category io ("audit log stalled"): nothing runs unaudited.
  std::chrono::milliseconds stall_timeout{5000};
};

struct SystemOptions {
  Policy policy{};  // default: the empty policy, which denies everything
  AuditOptions audit{};
  ResourceLimits limits{};  // fields left 0 take the policy's `limits:` values
};

struct SystemStats {
  std::uint64_t operations = 0;       // allowed and executed
  std::uint64_t denied = 0;           // refused by policy or validation
  std::uint64_t failed = 0;           // executed and returned an error
  std::uint64_t audit_written = 0;    // records accepted by all sinks
  std::uint64_t audit_sink_errors = 0;  // failed sink writes (each retried)
};

namespace detail {
class Core;
}

class System {
 public:
  explicit System(SystemOptions options = {});
  System(System&&) noexcept;
  System& operator=(System&&) noexcept;
  ~System();  // drains the audit queue (records are not lost on shutdown)

  // Replaces the policy atomically; operations already decided keep their decision.
  void set_policy(Policy policy);
  // Loads FILE and installs it; on error the old policy stays in force.
  [[nodiscard]] std::expected<void, PolicyError> reload_policy(const std::filesystem::path& file);
  [[nodiscard]] Policy policy() const;

  [[nodiscard]] std::expected<fs::Read::Result, Error> run(std::string_view principal, const fs::Read& op);
  [[nodiscard]] std::expected<fs::Write::Result, Error> run(std::string_view principal, const fs::Write& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const fs::CreateDir& op);
  [[nodiscard]] std::expected<fs::List::Result, Error> run(std::string_view principal, const fs::List& op);
  [[nodiscard]] std::expected<fs::FileInfo, Error> run(std::string_view principal, const fs::Stat& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const fs::Delete& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const fs::SetPermissions& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const fs::Rename& op);
  [[nodiscard]] std::expected<process::Process, Error> run(std::string_view principal, const process::Spawn& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const process::Signal& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const process::Kill& op);
  [[nodiscard]] std::expected<net::Connection, Error> run(std::string_view principal, const net::Connect& op);
  [[nodiscard]] std::expected<net::Listener, Error> run(std::string_view principal, const net::Listen& op);
  [[nodiscard]] std::expected<net::DatagramSocket, Error> run(std::string_view principal, const net::Socket& op);
  [[nodiscard]] std::expected<process::Process, Error> run(std::string_view principal, const util::Exec& op);
  [[nodiscard]] std::expected<process::ForkedMonitor, Error> run(std::string_view principal, const process::ForkMonitor& op);
  [[nodiscard]] std::expected<cgroup::Group, Error> run(std::string_view principal, const cgroup::Create& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const cgroup::Attach& op);
  [[nodiscard]] std::expected<cgroup::KillResult, Error> run(std::string_view principal, const cgroup::Kill& op);
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const cgroup::Remove& op);
  // Runs `action` as one audited operation osl does not carry out itself
  // (external.hpp): policy, a start record made durable first, the action,
  // an end record with its outcome.
  [[nodiscard]] std::expected<Done, Error> run(std::string_view principal, const External& op, const ExternalAction& action);

  // Blocks until every record queued so far has been written by every sink.
  // Fails with timeout if the sinks do not catch up in time.
  [[nodiscard]] std::expected<void, Error> flush_audit(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  [[nodiscard]] SystemStats stats() const;
  // Per-operation counts and latency histograms (see metrics.hpp); cheap
  // enough to call on every scrape, from any thread.
  [[nodiscard]] MetricsSnapshot metrics() const;

 private:
  std::shared_ptr<detail::Core> core_;
};

// A principal bound to a System, for code that acts as one principal.
class Session {
 public:
  Session(System& system, std::string principal) : system_(&system), principal_(std::move(principal)) {}
  template <class Op>
  [[nodiscard]] auto run(const Op& op) {
    return system_->run(principal_, op);
  }
  [[nodiscard]] std::expected<Done, Error> run(const External& op, const ExternalAction& action) {
    return system_->run(principal_, op, action);
  }
  [[nodiscard]] const std::string& principal() const noexcept { return principal_; }

 private:
  System* system_;  // not owned; must outlive the Session
  std::string principal_;
};

}  // namespace airssys::osl
