// libFuzzer target: arbitrary bytes as a policy file. Parsing must never
// crash, hang or throw; when a policy is accepted, a few decisions over
// assorted resources must not either.

#include <airssys/osl/policy.hpp>

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using airssys::osl::OpKind;
  using airssys::osl::ResourceRef;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto policy = airssys::osl::Policy::parse(text, "fuzz.yaml");
  if (!policy) {
    (void)policy.error().to_string();
    return 0;
  }
  static constexpr ResourceRef kPaths[] = {{"/work/a/b.txt"}, {"/"}, {"/tmp/airssys-demo/secret/x"}, {"relative"}};
  static constexpr ResourceRef kEndpoints[] = {
      {"127.0.0.1:80", "localhost:80"}, {"[::1]:443"}, {"[::ffff:10.0.0.1]:22"}, {"/run/x.sock"}, {"junk"}};
  static constexpr ResourceRef kTools[] = {{"git"}, {""}};
  for (const auto* who : {"alice", "demo", "", "role:x", "*"}) {
    for (const OpKind k : airssys::osl::kAllOpKinds) {
      switch (airssys::osl::resource_kind(k)) {
        case airssys::osl::ResourceKind::path: (void)policy->decide(who, k, kPaths); break;
        case airssys::osl::ResourceKind::endpoint: (void)policy->decide(who, k, kEndpoints); break;
        case airssys::osl::ResourceKind::tool: (void)policy->decide(who, k, kTools); break;
      }
      (void)policy->decide(who, k, {});
    }
    (void)policy->sandbox_paths(who);
    (void)policy->roles_of(who);
  }
  (void)policy->tool_path("git");
  return 0;
}
