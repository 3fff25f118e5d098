#pragma once
// The closed set of operation kinds the policy and the activity log speak of.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace airssys::osl {

enum class OpKind : std::uint8_t {
  fs_read,
  fs_write,
  fs_create_dir,
  fs_list,
  fs_stat,
  fs_delete,
  fs_set_permissions,
  fs_rename,
  process_spawn,
  process_signal,
  process_kill,
  net_connect,
  net_listen,
  net_socket,
  util_exec,
  // Appended after the first fifteen so their numbering (metrics cells,
  // policy bitmasks) stays as it was.
  process_fork,   // ForkMonitor: a detached process running a function of ours
  cgroup_create,  // cgroup.hpp: make a cgroup (v2, v1 fallbacks) and write its limits
  cgroup_attach,  // move a process into it
  cgroup_kill,    // kill everything in it (cgroup.kill, or freeze + SIGKILL on v1)
  cgroup_remove,  // rmdir it
};

inline constexpr std::size_t kOpKindCount = 20;

inline constexpr std::array<OpKind, kOpKindCount> kAllOpKinds = {
    OpKind::fs_read,        OpKind::fs_write,       OpKind::fs_create_dir,  OpKind::fs_list,
    OpKind::fs_stat,        OpKind::fs_delete,      OpKind::fs_set_permissions,
    OpKind::fs_rename,      OpKind::process_spawn,  OpKind::process_signal, OpKind::process_kill,
    OpKind::net_connect,    OpKind::net_listen,     OpKind::net_socket,     OpKind::util_exec,
    OpKind::process_fork,   OpKind::cgroup_create,  OpKind::cgroup_attach,  OpKind::cgroup_kill,
    OpKind::cgroup_remove,
};

// "fs.read", "process.spawn", …
[[nodiscard]] std::string_view to_string(OpKind k) noexcept;
[[nodiscard]] std::optional<OpKind> parse_op_kind(std::string_view name) noexcept;

// How a kind's resources are matched by policy rules.
enum class ResourceKind : std::uint8_t {
  path,      // fs.*, process.spawn (program path), process.signal/kill (target's executable),
             // process.fork (this program's executable), cgroup.* (the cgroup directory)
  endpoint,  // net.*: "IP:PORT" (alias "HOST:PORT"), or a Unix socket path
  tool,      // util.exec: the tool name from the policy's allowlist
};
[[nodiscard]] ResourceKind resource_kind(OpKind k) noexcept;

}  // namespace airssys::osl
