#include <airssys/osl/operation_kind.hpp>

namespace airssys::osl {

namespace {
constexpr std::array<std::string_view, kOpKindCount> kNames = {
    "fs.read",        "fs.write",       "fs.create_dir",  "fs.list",     "fs.stat",
    "fs.delete",      "fs.set_permissions", "fs.rename",  "process.spawn", "process.signal",
    "process.kill",   "net.connect",    "net.listen",     "net.socket",  "util.exec",
    "process.fork",   "cgroup.create",  "cgroup.attach",  "cgroup.kill", "cgroup.remove",
};
}  // namespace

std::string_view to_string(OpKind k) noexcept { return kNames[static_cast<std::size_t>(k)]; }

std::optional<OpKind> parse_op_kind(std::string_view name) noexcept {
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<OpKind>(i);
  }
  return std::nullopt;
}

ResourceKind resource_kind(OpKind k) noexcept {
  switch (k) {
    case OpKind::net_connect:
    case OpKind::net_listen:
    case OpKind::net_socket:
      return ResourceKind::endpoint;
    case OpKind::util_exec:
      return ResourceKind::tool;
    default:
      return ResourceKind::path;
  }
}

}  // namespace airssys::osl
