// The child's environment is under policy: a minimal default, a per-principal
// (and per-role) allowlist, and the dynamic loader's variables kept out unless
// named exactly. Real children print the environment they received.

#include <cstdlib>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "test_support.hpp"

namespace airssys::osl {
namespace {

using namespace std::chrono_literals;

// Set in this test process, so children would inherit them if nothing filtered.
struct ParentEnv {
  ParentEnv() {
    for (const auto& [k, v] : kVars) ::setenv(k, v, 1);
  }
  ~ParentEnv() {
    for (const auto& [k, v] : kVars) ::unsetenv(k);
  }
  static constexpr std::pair<const char*, const char*> kVars[] = {
      {"AIRSSYS_KEEP", "kept"},
      {"AIRSSYS_PFX_A", "prefixed"},
      {"AIRSSYS_SECRET", "s3cret"},
      {"LD_PRELOAD", "/nonexistent/airssys-preload.so"},
      {"LD_LIBRARY_PATH", "/nonexistent/lib"},
      {"LD_AUDIT", "/nonexistent/audit.so"},
      {"GCONV_PATH", "/nonexistent/gconv"},
      {"MALLOC_CHECK_", "3"},
      {"LANG", "C"},
  };
};

class ChildEnv : public ::testing::Test {
 protected:
  void SetUp() override {
    sink = std::make_shared<test::RecordingSink>();
    sys = test::system_with(R"(
version: 1
roles:
  i18n: { env: [GCONV_PATH] }
principals:
  alice: { env: [AIRSSYS_KEEP, "AIRSSYS_PFX_*", LD_LIBRARY_PATH] }
  bob: { roles: [i18n] }
  wide: { env: ["*", "LD_*"] }
rules:
  - id: spawn
    effect: allow
    principals: ["*"]
    operations: [process.spawn]
    resources: ["/usr/bin/**", "/bin/**"]
)", sink);
  }

  // NAME → VALUE as the child `env` printed them.
  std::map<std::string, std::string> child_env(const std::string& who, process::Options opts = {}) {
    process::Spawn s;
    s.argv = {"/usr/bin/env"};
    s.options = std::move(opts);
    s.options.stdout_ = process::Stdio::pipe();
    s.options.stderr_ = process::Stdio::pipe();
    const auto out = test::run_to_end(*sys, who, std::move(s));
    if (!out) return {};
    EXPECT_EQ(out->err, "") << "the loader complains only if a bogus LD_* reached it";
    std::map<std::string, std::string> env;
    std::istringstream in(out->out);
    for (std::string line; std::getline(in, line);) {
      const auto eq = line.find('=');
      env[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return env;
  }

  // env_removed of the last process.spawn start record.
  std::set<std::string> removed() {
    EXPECT_TRUE(sys->flush_audit(10s));
    std::set<std::string> out;
    for (const auto& r : sink->records()) {
      if (r.op != OpKind::process_spawn || r.event != ActivityEvent::start) continue;
      out.clear();
      const auto detail = nlohmann::json::parse(r.detail_json);
      if (detail.contains("env_removed")) {
        for (const auto& n : detail["env_removed"]) out.insert(n.get<std::string>());
      }
    }
    return out;
  }

  ParentEnv parent;
  std::shared_ptr<test::RecordingSink> sink;
  std::unique_ptr<System> sys;
};

TEST_F(ChildEnv, DefaultIsMinimal) {
  const auto env = child_env("nobody-in-particular");
  EXPECT_TRUE(env.contains("PATH"));
  EXPECT_EQ(env.at("LANG"), "C");
  for (const char* gone : {"AIRSSYS_KEEP", "AIRSSYS_PFX_A", "AIRSSYS_SECRET", "LD_PRELOAD", "LD_LIBRARY_PATH",
                           "LD_AUDIT", "GCONV_PATH", "MALLOC_CHECK_"}) {
    EXPECT_FALSE(env.contains(gone)) << gone;
  }
  for (const auto& [k, v] : env) {
    EXPECT_TRUE(k == "PATH" || k == "HOME" || k == "USER" || k == "LOGNAME" || k == "SHELL" || k == "LANG" ||
                k == "LANGUAGE" || k.starts_with("LC_") || k == "TZ" || k == "TERM" || k == "TMPDIR")
        << k << " is not in the default allowlist";
  }
  // Loader variables dropped from the inherited environment are recorded by name.
  const auto r = removed();
  for (const char* n : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "MALLOC_CHECK_"}) {
    EXPECT_TRUE(r.contains(n)) << n;
  }
  EXPECT_FALSE(r.contains("AIRSSYS_SECRET")) << "ordinary variables not inherited are not listed";
}

TEST_F(ChildEnv, PrincipalAllowlistAddsNamesAndPrefixes) {
  const auto env = child_env("alice");
  EXPECT_EQ(env.at("AIRSSYS_KEEP"), "kept");
  EXPECT_EQ(env.at("AIRSSYS_PFX_A"), "prefixed");
  EXPECT_EQ(env.at("LD_LIBRARY_PATH"), "/nonexistent/lib") << "named exactly: passes";
  EXPECT_FALSE(env.contains("AIRSSYS_SECRET"));
  EXPECT_FALSE(env.contains("LD_PRELOAD"));
  EXPECT_FALSE(env.contains("LD_AUDIT"));
}

TEST_F(ChildEnv, RoleAllowlistIsInherited) {
  const auto env = child_env("bob");
  EXPECT_EQ(env.at("GCONV_PATH"), "/nonexistent/gconv");
  EXPECT_FALSE(env.contains("AIRSSYS_KEEP"));
}

TEST_F(ChildEnv, PatternsNeverAdmitLoaderVariables) {
  const auto env = child_env("wide");
  EXPECT_EQ(env.at("AIRSSYS_SECRET"), "s3cret") << "\"*\" inherits every ordinary variable";
  for (const char* gone : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "GCONV_PATH", "MALLOC_CHECK_"}) {
    EXPECT_FALSE(env.contains(gone)) << gone << ": \"*\" and \"LD_*\" do not name it";
  }
}

TEST_F(ChildEnv, ExplicitVariablesPassExceptLoaderOnes) {
  process::Options o;
  o.extra_env = {"TASK_ID=t1", "LD_PRELOAD=/nonexistent/x.so", "GLIBC_TUNABLES=glibc.malloc.check=3"};
  const auto env = child_env("nobody-in-particular", o);
  EXPECT_EQ(env.at("TASK_ID"), "t1");
  EXPECT_FALSE(env.contains("LD_PRELOAD"));
  EXPECT_FALSE(env.contains("GLIBC_TUNABLES"));
  EXPECT_TRUE(removed().contains("GLIBC_TUNABLES"));

  process::Options exact;
  exact.env = std::vector<std::string>{"PATH=/usr/bin", "A=1", "LD_AUDIT=/nonexistent/a.so"};
  exact.extra_env = {"LD_LIBRARY_PATH=/given"};
  const auto env2 = child_env("alice", exact);
  EXPECT_EQ(env2, (std::map<std::string, std::string>{{"PATH", "/usr/bin"}, {"A", "1"}, {"LD_LIBRARY_PATH", "/given"}}))
      << "an explicit environment is used as given, minus unnamed loader variables";
}

TEST(EnvPolicy, LoaderVariablesAreRecognised) {
  for (const char* n : {"LD_PRELOAD", "LD_LIBRARY_PATH", "LD_AUDIT", "LD_DEBUG_OUTPUT", "LD_BIND_NOW", "MALLOC_TRACE",
                        "MALLOC_ARENA_MAX", "GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES",
                        "RES_OPTIONS", "LOCALDOMAIN", "TZDIR", "GETCONF_DIR", "NIS_PATH", "RESOLV_HOST_CONF"}) {
    EXPECT_TRUE(is_loader_variable(n)) << n;
  }
  for (const char* n : {"PATH", "HOME", "LANG", "TMPDIR", "OLD_PRELOAD", "XLD_PRELOAD", "TZ"}) {
    EXPECT_FALSE(is_loader_variable(n)) << n;
  }
}

TEST(EnvPolicy, BadEntriesAreLoadErrors) {
  auto p = Policy::parse("version: 1\nprincipals:\n  a: { env: [OK, \"BAD-NAME\"] }\n", "p.yaml");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().to_string(),
            "p.yaml:3:18: principal 'a': env entry 'BAD-NAME' must be a variable name (letters, digits, '_'), a "
            "prefix ending in '*', or \"*\"");
  auto r = Policy::parse("version: 1\nroles:\n  r: { env: [\"1X\"] }\n", "p.yaml");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("role 'r': env entry '1X'"), std::string::npos) << r.error().to_string();
  auto s = Policy::parse("version: 1\nprincipals:\n  a: { env: [\"A*B\"] }\n", "p.yaml");
  EXPECT_FALSE(s) << "'*' only at the end";
}

TEST(EnvPolicy, AllowlistIsDefaultPlusPrincipalPlusRoles) {
  auto p = Policy::parse(R"(
version: 1
roles:
  base: { env: [FROM_BASE] }
  dev: { inherits: [base], env: [FROM_DEV] }
principals:
  a: { roles: [dev], env: [OWN] }
)");
  ASSERT_TRUE(p) << p.error().to_string();
  const auto list = p->env_allowlist("a");
  for (const char* n : {"PATH", "LC_*", "OWN", "FROM_DEV", "FROM_BASE"}) {
    EXPECT_NE(std::find(list.begin(), list.end(), n), list.end()) << n;
  }
  const auto other = p->env_allowlist("stranger");
  EXPECT_EQ(std::find(other.begin(), other.end(), "OWN"), other.end());
  EXPECT_NE(std::find(other.begin(), other.end(), "PATH"), other.end());
}

}  // namespace
}  // namespace airssys::osl
