#pragma once
// Loading one YAML document written by a person (the agent's config), with
// yaml-cpp's failure modes turned into a line and a message. The only place
// config parsing meets yaml-cpp's exceptions (rule.cpp has its own).
//
// The guards (flow nesting, one document, a bound on the nodes once aliases
// are expanded) are osl's, shared with its policy loader
// (airssys/osl/detail/yaml_load.hpp); the size limit is checked here.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

inline constexpr int kMaxFlowNesting = 64;
// Keys, values and list items once aliases are expanded (an alias counts at
// every use): a config or rule file has hundreds; a file of anchors and
// aliases that expands to millions is refused before anything reads it.
inline constexpr std::size_t kMaxYamlNodes = 200'000;

struct YamlLoadError {
  int line = 0;  // 1-based; 0 when unknown
  std::string message;
};

// The document's root node (Null for an empty text). `what` names the kind
// of document in messages ("a config file").
[[nodiscard]] std::expected<YAML::Node, YamlLoadError> load_yaml_document(std::string_view text, std::size_t max_bytes,
                                                                         std::string_view what);

// 1-based line of `node`, or `fallback` when yaml-cpp has no mark for it
// (a null value written as nothing after "key:").
[[nodiscard]] int line_of(const YAML::Node& node, int fallback);

// "a list", "a mapping", "nothing (null)", "a string 'x'": for "got ..." in
// messages. The string is shown as every echoed value is
// (osl::detail::shown_text: control bytes as \xNN, past 64 bytes its first
// 64 and "… (N bytes)"): a rule file may come from a public repository.
[[nodiscard]] std::string describe(const YAML::Node& node);

}  // namespace airssys::daemoneye::detail
