#pragma once
// Loading one YAML document a person wrote, with the guards every airssys
// loader needs (osl's policy, DaemonEye's config and rules). For use inside
// this repository only: it exposes yaml-cpp, which a library user of
// airssys::osl never needs; a component that includes it links yaml-cpp
// itself. The caller checks the text's size first (its own limit and
// message); then, in order:
//  - a NUL byte in UTF-8 text is refused with its position ("a NUL byte:
//    a policy file is YAML text, not a binary file"); text whose first
//    bytes show UTF-16 or UTF-32 (a byte order mark, or a NUL in the first
//    two bytes, as YAML 1.2 detects them) is left to yaml-cpp, which
//    decodes it;
//  - flow collections ('[' '{') nested deeper than max_flow_nesting are
//    refused before yaml-cpp recurses into them (deep flow nesting
//    overflows its stack; its own depth guard covers block nesting only).
//    Deliberately crude (brackets inside quotes count too): a real file
//    never comes close to the limit;
//  - one document only, checked by walking at most two documents with the
//    event parser: yaml-cpp 0.7 reports some stray characters (a ',' at the
//    top level) as an endless series of empty documents, on which LoadAll
//    loops forever;
//  - at most max_nodes nodes (every key, value and list item) once aliases
//    are expanded: an alias counts again at every use, because readers
//    handle each use on its own. A 213 KB file of anchors and aliases can
//    expand to 10 M nodes; the count stops at the first node past the limit,
//    so such a file costs no more than one at the limit.
// yaml-cpp's exceptions become a LoadError with a 1-based position.

#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <expected>
#include <string>
#include <string_view>

namespace airssys::osl::yaml {

struct LoadLimits {
  std::size_t max_nodes = 200'000;
  int max_flow_nesting = 64;
};

struct LoadError {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string message;  // e.g. "a config file holds one YAML document; found another one here"
};

// The document's root node (Null for an empty text). `what` names the kind
// of document in messages ("a policy file", "a config file").
[[nodiscard]] std::expected<YAML::Node, LoadError> load_document(std::string_view text, const LoadLimits& limits,
                                                                 std::string_view what);

}  // namespace airssys::osl::yaml
