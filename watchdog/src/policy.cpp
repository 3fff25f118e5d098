// The osl policy task-watchdog runs its operations under (runner.hpp).

#include <airssys/watchdog/runner.hpp>

#include <airssys/watchdog/audit.hpp>

#include "passwd_file.hpp"

#include <pwd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace airssys::watchdog {

namespace {

// The release task-watchdog is linked static where this library is built
// with AIRSSYS_WATCHDOG_STATIC_LIBC (watchdog/CMakeLists.txt, same
// condition as its -static link). Decided at build time, not by
// getauxval(AT_BASE) == 0, which a dynamic build run through the loader
// (ld-linux-x86-64.so.2 ./task-watchdog) also shows. In such a build the
// tests linking this library read /etc/passwd too; that path is correct,
// only blind to users NSS alone knows.
constexpr bool linked_static() {
#ifdef AIRSSYS_WATCHDOG_STATIC_LIBC
  return true;
#else
  return false;
#endif
}

}  // namespace

std::string current_principal() {
  const uid_t uid = ::geteuid();
  // A static libc would dlopen the NSS modules past `files` (and a second
  // libc.so.6 with them) for a uid /etc/passwd does not know, and crash
  // there (passwd_file.hpp): read the file itself.
  if (linked_static()) return user_name_or_uid("/etc/passwd", uid);
  passwd pw{};
  passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out != nullptr && out->pw_name[0] != '\0') {
    return out->pw_name;
  }
  return fmt::format("uid-{}", uid);
}

std::string default_policy_yaml(const std::string& principal, const std::filesystem::path& state_dir) {
  std::error_code ec;
  auto dir = std::filesystem::weakly_canonical(state_dir, ec);
  if (ec) dir = state_dir;
  const auto q = [](const std::string& s) { return nlohmann::json(s).dump(); };  // a YAML double-quoted scalar
  return fmt::format(R"(version: 1
rules:
  - id: task-watchdog-processes
    description: fork the task's monitor, start the task, and signal or kill its processes
    effect: allow
    principals: [{0}]
    operations: [process.fork, process.spawn, process.signal, process.kill]
    resources: ["**"]
  - id: task-watchdog-state
    description: the task's log files and joining its cgroup
    effect: allow
    principals: [{0}]
    operations: [fs.write]
    resources: [{1}, "/sys/fs/cgroup/**"]
  - id: task-watchdog-cgroups
    description: make, fill, kill and remove the tasks' cgroups (task-watchdog/<id>-<monitor pid>), nothing else
    effect: allow
    principals: [{0}]
    operations: ["cgroup.*"]
    resources: ["/sys/fs/cgroup/**/task-watchdog/**"]
)",
                     q(principal), q(dir.string() + "/**"));
}

std::expected<osl::System, Error> make_system(const std::filesystem::path& policy_file, const std::filesystem::path& state_dir) {
  std::expected<osl::Policy, osl::PolicyError> policy =
      policy_file.empty() ? osl::Policy::parse(default_policy_yaml(current_principal(), state_dir), "<built-in policy>")
                          : osl::Policy::load_file(policy_file);
  if (!policy) return std::unexpected(Error{ErrorCategory::usage, "policy: " + policy.error().to_string()});
  // Every operation is recorded beside the registry (audit.hpp).
  auto audit = audit_options(state_dir);
  if (!audit) return std::unexpected(audit.error());
  osl::SystemOptions opts;
  opts.policy = std::move(*policy);
  opts.audit = std::move(*audit);
  return osl::System(std::move(opts));
}

}  // namespace airssys::watchdog
