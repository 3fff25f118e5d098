#include "common.hpp"

#include <airssys/ledger/osl_sink.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include <fmt/format.h>

namespace airssys::osl::cli {

void add_common_options(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--policy", o.policy, "policy file (YAML, see docs/osl-policy.md)")->required();
  cmd.add_option("--principal", o.principal, "who is acting, as named in the policy")->required();
  cmd.add_option("--audit-log", o.audit_log, "append activity records (JSON lines) to this file");
  cmd.add_option("--audit-ledger", o.audit_ledger,
                 "append activity records to this airssys-ledger directory (created if missing): "
                 "a tamper-evident, Merkle-tree audit trail checked with `airssys-ledger verify`");
  cmd.add_option("--audit-syslog", o.audit_syslog,
                 "send each activity record to syslog as an RFC 5424 message: /dev/log (or another unix "
                 "datagram socket path), udp://HOST:PORT or tcp://HOST:PORT");
  cmd.add_option("--audit-syslog-facility", o.audit_syslog_facility, "syslog facility for --audit-syslog")
      ->capture_default_str();
  cmd.add_flag("--audit-stderr", o.audit_stderr, "write activity records to stderr as well");
  cmd.add_option("--traceparent", o.traceparent,
                 "W3C trace context (00-TRACEID-PARENTID-FLAGS) carried into every activity record; "
                 "default: $TRACEPARENT");
}

namespace {

// The trace context in force for the rest of the program (one command per
// run). A TraceScope cannot move, hence the optional.
std::optional<TraceScope>& program_trace() {
  static std::optional<TraceScope> scope;
  return scope;
}

// --traceparent wins over $TRACEPARENT; an empty value counts as unset.
// A malformed --traceparent is the caller's mistake: refused, nothing runs.
// A malformed $TRACEPARENT is only inherited (any wrapper up the process
// tree may have set it): as W3C Trace Context says of a bad traceparent
// header, it is ignored — with a warning — and the records carry no trace.
bool install_traceparent(const CommonOptions& o) {
  if (!o.traceparent.empty()) {
    auto context = TraceContext::parse(o.traceparent);
    if (!context) {
      detail::print_stderr("airssys-osl: --traceparent: {}\n", context.error().message);
      return false;
    }
    program_trace().emplace(*context);
    return true;
  }
  const char* env = std::getenv("TRACEPARENT");
  if (env == nullptr || *env == '\0') return true;
  auto context = TraceContext::parse(env);
  if (!context) {
    detail::print_stderr("airssys-osl: warning: TRACEPARENT ignored, the records carry no trace: {}\n",
                         context.error().message);
    return true;
  }
  program_trace().emplace(*context);
  return true;
}

}  // namespace

std::expected<SystemOptions, int> make_system_options(const CommonOptions& o) {
  auto policy = Policy::load_file(o.policy);
  if (!policy) {
    detail::print_stderr("{}\n", policy.error().to_string());
    return std::unexpected(kExitUsage);
  }
  if (!install_traceparent(o)) return std::unexpected(kExitUsage);
  SystemOptions options;
  options.policy = std::move(*policy);
  options.audit.stall_timeout = kAuditStall;
  if (!o.audit_log.empty()) {
    if (auto ok = check_audit_log_path(o.audit_log); !ok) {
      detail::print_stderr("airssys-osl: --audit-log {}: {}\n", o.audit_log, ok.error().message);
      return std::unexpected(kExitUsage);
    }
    auto sink = make_file_sink(FileSinkOptions{.path = o.audit_log, .fsync_each_batch = true});
    if (!sink) {
      detail::print_stderr("airssys-osl: cannot open the audit log: {}\n", sink.error().to_string());
      return std::unexpected(kExitUsage);
    }
    options.audit.sinks.push_back(make_write_through(std::move(*sink)));
  }
  if (!o.audit_ledger.empty()) {
    auto sink = ledger::make_osl_sink({.dir = o.audit_ledger});
    if (!sink) {
      detail::print_stderr("airssys-osl: cannot open the audit ledger: {}\n", sink.error().to_string());
      return std::unexpected(kExitUsage);
    }
    options.audit.sinks.push_back(make_write_through(std::move(*sink)));
  }
  if (!o.audit_syslog.empty()) {
    auto sink = make_syslog_sink({.address = o.audit_syslog, .facility = o.audit_syslog_facility});
    if (!sink) {
      detail::print_stderr("airssys-osl: --audit-syslog: {}\n", sink.error().message);
      return std::unexpected(kExitUsage);
    }
    options.audit.sinks.push_back(make_write_through(std::move(*sink)));
  }
  if (o.audit_stderr) options.audit.sinks.push_back(make_write_through(make_stderr_sink()));
  return options;
}

std::expected<System, int> make_system(const CommonOptions& o) {
  auto options = make_system_options(o);
  if (!options) return std::unexpected(options.error());
  return System(std::move(*options));
}

int finish(System& system, int code) {
  if (auto r = system.flush_audit(std::chrono::seconds(5)); !r) {
    detail::print_stderr("airssys-osl: warning: {}\n", r.error().to_string());
  }
  return code;
}

void print_error(const Error& e) { detail::print_stderr("airssys-osl: {}\n", e.to_string()); }

int fs_exit_code(const Error& e) { return e.category == ErrorCategory::denied ? kExitDenied : kExitFailed; }

bool write_stdout(std::string_view data) {
  std::fflush(stdout);  // keep anything printed through stdio in order
  while (!data.empty()) {
    const ssize_t n = ::write(STDOUT_FILENO, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace airssys::osl::cli
