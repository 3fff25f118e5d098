// Sigma translation (sigma.hpp): the field map, Sigma's Linux
// process_creation names → process_events columns (the table is in
// docs/daemoneye.md "Sigma rules"). Names are matched exactly, as Sigma's
// field names are case-sensitive.

#include <fmt/format.h>

#include "sigma.hpp"

namespace airssys::daemoneye::sigma {

const std::vector<Field>& fields() {
  static const std::vector<Field> kFields{
      {"Image", "path", true},
      {"CommandLine", "cmdline", true},
      {"ParentImage", "parent_path", true},
      {"ParentCommandLine", "parent_cmdline", true},
      {"CurrentDirectory", "cwd", true},
      {"User", "username", true},
      {"ProcessId", "pid", false},
      {"ParentProcessId", "parent", false},
      {"LogonId", "auid", false},
      {"Hashes", "sha256", true},
      // What else process_events has, under the names Sigma's Linux
      // (auditd) rules use where there is one.
      {"ProcessName", "name", true},
      {"uid", "uid", false},
      {"euid", "euid", false},
      {"gid", "gid", false},
      {"egid", "egid", false},
      {"auid", "auid", false},
      {"CgroupId", "cgroup_id", false},
      {"EventSource", "source", true},
  };
  return kFields;
}

const Field* find_field(std::string_view name) {
  for (const auto& f : fields())
    if (f.sigma == name) return &f;
  return nullptr;
}

std::string known_fields() {
  std::string out;
  for (const auto& f : fields()) {
    if (!out.empty()) out += ", ";
    out += f.sigma;
  }
  return out;
}

}  // namespace airssys::daemoneye::sigma
