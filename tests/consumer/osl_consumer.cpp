// airssys::osl from an install: a policy parsed from YAML (yaml-cpp, a
// private dependency of the static library) decides two operations, then a
// System made with it (designated initializers, as docs/osl.md writes them)
// refuses a read the policy does not allow.
#include <airssys/osl/policy.hpp>
#include <airssys/osl/system.hpp>

#include <array>
#include <cstdio>
#include <utility>

namespace osl = airssys::osl;

int main() {
  auto policy = osl::Policy::parse(R"(version: 1
rules:
  - id: read-data
    effect: allow
    principals: [app]
    operations: [fs.read]
    resources: ["/data/**"]
)");
  if (!policy) {
    std::fprintf(stderr, "osl: %s\n", policy.error().to_string().c_str());
    return 1;
  }
  std::array allowed{osl::ResourceRef{.name = "/data/x"}};
  std::array denied{osl::ResourceRef{.name = "/etc/shadow"}};
  if (!policy->decide("app", osl::OpKind::fs_read, allowed).allowed ||
      policy->decide("app", osl::OpKind::fs_read, denied).allowed) {
    std::fprintf(stderr, "osl: wrong decision\n");
    return 1;
  }
  osl::System system(osl::SystemOptions{.policy = std::move(*policy)});
  auto read = system.run("app", osl::fs::Read{.path = "/etc/shadow"});
  if (read || read.error().category != osl::ErrorCategory::denied) {
    std::fprintf(stderr, "osl: reading /etc/shadow was not denied\n");
    return 1;
  }
  std::puts("osl ok");
  return 0;
}
