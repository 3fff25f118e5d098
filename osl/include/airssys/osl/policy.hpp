#pragma once
// Security policy: who may do which operation on which resource.
//
// Deny by default: anything no rule allows is denied, an empty policy denies
// everything, and a matching deny rule always wins over any allow. The YAML
// format is specified in docs/osl-policy.md.
//
// A Policy is an immutable, cheaply copyable value (it shares its compiled
// rules); `decide` is thread-safe.

#include <airssys/osl/operation_kind.hpp>

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl {

namespace detail {
struct CompiledPolicy;
}

enum class EnforcementMode : std::uint8_t { enforce, audit_only };

// A problem in a policy file, reported as "FILE:LINE:COL: message" (1-based).
struct PolicyError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  [[nodiscard]] std::string to_string() const;
};

// One resource an operation touches, already canonicalised by the pipeline.
// `name` is what is matched first; `alias`, when not empty, is a second name
// for the same thing (a TCP endpoint "127.0.0.1:80" may carry the alias
// "localhost:80"). A rule pattern matches the resource if it matches either.
struct ResourceRef {
  std::string_view name{};
  std::string_view alias = {};
};

struct Decision {
  bool allowed = false;          // what the pipeline does (true for audit-only would-denials)
  bool would_deny = false;       // audit-only: the rules deny, the mode let it through
  std::optional<std::string> rule;  // the deciding rule: the deny that matched, or the first allow
  std::string reason;            // for people: "denied by rule no-secrets", "no rule allows …"
};

// Directories a sandboxed child may use, derived from the allow rules for one
// principal (the literal prefix of each path pattern, e.g. "/work/**" → /work).
// Deny rules cannot be expressed in Landlock (it only allows); they are
// enforced by the pipeline for operations that go through it.
struct SandboxPaths {
  std::vector<std::string> read;     // fs.read / fs.list / fs.stat allows
  std::vector<std::string> write;    // fs.write / create_dir / delete / rename / set_permissions allows
  std::vector<std::string> execute;  // process.spawn allows + the policy's sandbox.system_paths
};

// Optional limits a policy file may set for the process that loads it.
struct PolicyLimits {
  std::optional<std::size_t> max_open_files{};
  std::optional<std::size_t> max_processes{};
  std::optional<std::size_t> max_connections{};
};

class Policy {
 public:
  // The empty policy: denies everything.
  Policy();

  [[nodiscard]] static std::expected<Policy, PolicyError> load_file(const std::filesystem::path& file);
  // `source_name` is used as FILE in error messages.
  [[nodiscard]] static std::expected<Policy, PolicyError> parse(std::string_view yaml,
                                                                 std::string_view source_name = "<policy>");

  // Decides one operation. Every resource must be allowed by some allow rule
  // and matched by no deny rule. An operation with no resources is matched
  // only by rules that list no resources or list "*" / "**".
  [[nodiscard]] Decision decide(std::string_view principal, OpKind op,
                                std::span<const ResourceRef> resources) const;

  [[nodiscard]] EnforcementMode mode() const noexcept;

  // Whether any deny rule for `op` applies to the principal. Lets a caller
  // that would otherwise ask about many resources (every entry of a tree
  // being deleted or moved) skip the walk when nothing could object.
  [[nodiscard]] bool has_deny_rules(std::string_view principal, OpKind op) const;

  // util.exec allowlist: tool name → absolute program path; nullopt when the
  // tool is not listed.
  [[nodiscard]] std::optional<std::string> tool_path(std::string_view tool) const;

  [[nodiscard]] SandboxPaths sandbox_paths(std::string_view principal) const;
  [[nodiscard]] PolicyLimits limits() const;
  [[nodiscard]] std::size_t rule_count() const noexcept;

  // The environment variables a principal's children may inherit, as
  // patterns (NAME, PREFIX* or "*"): the built-in minimal default, then the
  // `env` lists of the principal and of every role it holds. The dynamic
  // loader's variables (LD_*, GCONV_PATH, ...) need their exact name here,
  // whether inherited or passed explicitly. docs/osl-policy.md, "Child environment".
  [[nodiscard]] std::vector<std::string> env_allowlist(std::string_view principal) const;

  // The roles a principal holds, inherited ones included (sorted).
  [[nodiscard]] std::vector<std::string> roles_of(std::string_view principal) const;

 private:
  explicit Policy(std::shared_ptr<const detail::CompiledPolicy> impl);
  std::shared_ptr<const detail::CompiledPolicy> impl_;
};

// Whether `name` is an environment variable the dynamic loader or libc acts
// on before a program's main (LD_*, MALLOC_*, GLIBC_TUNABLES, GCONV_PATH,
// LOCPATH, NLSPATH, ...): a child receives one only when the principal's
// env allowlist names it exactly.
[[nodiscard]] bool is_loader_variable(std::string_view name) noexcept;

// Pattern helpers, exposed for tests and for tools that explain decisions.
// Path globs: '*' matches within one segment, '**' across segments (also
// zero), '?' one character; "/work/**" matches "/work" and everything below.
[[nodiscard]] bool path_glob_match(std::string_view pattern, std::string_view path) noexcept;

}  // namespace airssys::osl
