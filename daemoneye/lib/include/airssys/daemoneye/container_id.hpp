#pragma once
// The container a process runs in, from its cgroup path.
//
// Recognised (the id is always 64 lowercase hex digits):
//   systemd driver:  …/docker-<id>.scope, …/libpod-<id>.scope,
//                    …/cri-containerd-<id>.scope, …/crio-<id>.scope
//   cgroupfs driver: /docker/<id>, /libpod_parent/libpod-<id>,
//                    /kubepods/…/pod<uid>/<id>, /system.slice/containerd…/<id>
// The last matching path component wins (nested containers: the innermost).
// podman's conmon (libpod-conmon-<id>.scope) is not in the container: "".

#include <string>
#include <string_view>

namespace airssys::daemoneye {

[[nodiscard]] std::string container_id_from_cgroup(std::string_view cgroup_path);

}  // namespace airssys::daemoneye
