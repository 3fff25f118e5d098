#pragma once
// Loading one YAML document written by a person (the agent's config), with
// yaml-cpp's failure modes turned into a line and a message. The only place
// config parsing meets yaml-cpp's exceptions (rule.cpp has its own).
//
// Guards, each found necessary elsewhere in the project:
//  - a size limit before parsing;
//  - flow collections ('[' '{') nested deeper than kMaxFlowNesting are
//    refused before yaml-cpp recurses into them (deep flow nesting overflows
//    its stack; its own depth guard covers block nesting only);
//  - one document only, checked by walking at most two documents with the
//    event parser: yaml-cpp 0.7 reports some stray characters (a ',' at the
//    top level) as an endless series of empty documents, on which LoadAll
//    loops forever.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::daemoneye::detail {

inline constexpr int kMaxFlowNesting = 64;

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

// "a list", "a mapping", "nothing (null)", "a string 'x'": for "got ..." in messages.
[[nodiscard]] std::string describe(const YAML::Node& node);

}  // namespace airssys::daemoneye::detail
