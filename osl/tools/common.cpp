#include "common.hpp"

#include <airssys/ledger/osl_sink.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace airssys::osl::cli {

void add_common_options(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--policy", o.policy, "policy file (YAML, see docs/osl-policy.md)")->required();
  cmd.add_option("--principal", o.principal, "who is acting, as named in the policy")->required();
  cmd.add_option("--audit-log", o.audit_log, "append activity records (JSON lines) to this file");
  cmd.add_option("--audit-ledger", o.audit_ledger,
                 "append activity records to this airssys-ledger directory (created if missing): "
                 "a tamper-evident, Merkle-tree audit trail checked with `airssys-ledger verify`");
  cmd.add_flag("--audit-stderr", o.audit_stderr, "write activity records to stderr as well");
}

namespace {

std::string_view file_type_name(mode_t mode) {
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

// The audit log must be a regular file (or not exist yet). Looked at through
// O_PATH, which neither waits for a FIFO's reader nor follows a symlink.
bool audit_log_path_ok(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return errno == ENOENT;  // created by the sink; other errors are its to report
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || S_ISREG(st.st_mode)) return true;
  fmt::print(stderr, "airssys-osl: --audit-log {}: not a regular file ({}); the audit log must be a regular file\n", path,
             file_type_name(st.st_mode));
  return false;
}

}  // namespace

std::expected<SystemOptions, int> make_system_options(const CommonOptions& o) {
  auto policy = Policy::load_file(o.policy);
  if (!policy) {
    fmt::print(stderr, "{}\n", policy.error().to_string());
    return std::unexpected(kExitUsage);
  }
  SystemOptions options;
  options.policy = std::move(*policy);
  options.audit.stall_timeout = kAuditStall;
  if (!o.audit_log.empty()) {
    if (!audit_log_path_ok(o.audit_log)) return std::unexpected(kExitUsage);
    auto sink = make_file_sink(FileSinkOptions{.path = o.audit_log, .fsync_each_batch = true});
    if (!sink) {
      fmt::print(stderr, "airssys-osl: cannot open the audit log: {}\n", sink.error().to_string());
      return std::unexpected(kExitUsage);
    }
    options.audit.sinks.push_back(make_write_through(std::move(*sink)));
  }
  if (!o.audit_ledger.empty()) {
    auto sink = ledger::make_osl_sink({.dir = o.audit_ledger});
    if (!sink) {
      fmt::print(stderr, "airssys-osl: cannot open the audit ledger: {}\n", sink.error().to_string());
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
    fmt::print(stderr, "airssys-osl: warning: {}\n", r.error().to_string());
  }
  return code;
}

void print_error(const Error& e) { fmt::print(stderr, "airssys-osl: {}\n", e.to_string()); }

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
