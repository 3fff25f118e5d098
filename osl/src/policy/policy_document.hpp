#pragma once
// The policy file as written, before any meaning is checked: the YAML reader
// fills it (shape: types, known keys, no duplicates), the compiler turns it
// into a CompiledPolicy (meaning: roles exist, patterns parse, ...). Every
// value keeps its source position so the compiler can point at it.

#include <optional>
#include <string>
#include <vector>

namespace airssys::osl::detail {

struct SourcePos {
  int line = 0;    // 1-based; 0 = the file as a whole
  int column = 0;  // 1-based
};

struct Located {
  std::string value;
  SourcePos pos;
};

struct RoleDef {
  Located name;
  std::vector<Located> inherits;
  std::vector<Located> env;  // environment variable patterns its holders' children may receive
};

struct PrincipalDef {
  Located name;
  std::vector<Located> roles;
  std::vector<Located> env;
};

struct RuleDef {
  SourcePos pos;  // the rule's mapping
  int index = 0;  // 1-based position in `rules`, for messages about rules without an id
  Located id;
  Located effect;
  std::vector<Located> principals;
  std::vector<Located> operations;
  std::optional<std::vector<Located>> resources;  // absent = any resource
};

struct ToolDef {
  Located name;
  Located path;
};

struct PolicyDocument {
  bool empty = true;  // the file holds no document (or only null)
  SourcePos pos;      // the top-level mapping
  std::optional<Located> version;
  std::optional<Located> mode;
  std::vector<RoleDef> roles;
  std::vector<PrincipalDef> principals;
  std::vector<RuleDef> rules;
  std::vector<ToolDef> tools;
  std::optional<std::vector<Located>> system_paths;
  std::optional<Located> max_open_files;
  std::optional<Located> max_processes;
  std::optional<Located> max_connections;
};

}  // namespace airssys::osl::detail
