// container_id_from_cgroup over the cgroup paths each runtime and driver writes.

#include <airssys/daemoneye/container_id.hpp>

#include <gtest/gtest.h>

#include <string>

namespace airssys::daemoneye {
namespace {

const std::string kId = "4d5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192";
const std::string kInner = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST(ContainerId, EveryRuntimeAndDriver) {
  const struct {
    std::string path, want;
  } cases[] = {
      {"/system.slice/docker-" + kId + ".scope", kId},
      {"/docker/" + kId, kId},
      {"/machine.slice/libpod-" + kId + ".scope", kId},
      {"/machine.slice/libpod-" + kId + ".scope/container", kId},
      {"/libpod_parent/libpod-" + kId, kId},
      {"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1234_5678.slice/cri-containerd-" + kId + ".scope",
       kId},
      {"/kubepods/besteffort/pod0f1e2d3c-aaaa-bbbb-cccc-0123456789ab/" + kId, kId},
      {"/kubepods.slice/kubepods-pod1.slice/crio-" + kId + ".scope", kId},
      {"/system.slice/docker-" + kId + ".scope/init.scope", kId},
      // Nested: the innermost container.
      {"/docker/" + kId + "/docker/" + kInner, kInner},
      // Not containers.
      {"/", ""},
      {"", ""},
      {"/user.slice/user-1000.slice/session-3.scope", ""},
      {"/machine.slice/libpod-conmon-" + kId + ".scope", ""},
      {"/system.slice/docker.service", ""},
      {"/docker/" + kId.substr(0, 63), ""},                 // too short
      {"/docker/" + kId + "0", ""},                         // too long
      {"/docker/4D5A6B7C8D9E0F1A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708192", ""},  // upper case
      {"/process_api/0235c8b517d826db50c0bb620fa5b637", ""},  // 32 hex: not a container id
  };
  for (const auto& c : cases) EXPECT_EQ(container_id_from_cgroup(c.path), c.want) << c.path;
}

}  // namespace
}  // namespace airssys::daemoneye
