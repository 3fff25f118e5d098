#include "yaml_document.hpp"

#include <airssys/osl/detail/shown_text.hpp>
#include <airssys/osl/detail/yaml_load.hpp>

#include <fmt/format.h>

namespace airssys::daemoneye::detail {

std::expected<YAML::Node, YamlLoadError> load_yaml_document(std::string_view text, std::size_t max_bytes,
                                                           std::string_view what) {
  if (text.size() > max_bytes) {
    return std::unexpected(
        YamlLoadError{0, fmt::format("{} bytes is too large for {} (at most {} bytes)", text.size(), what, max_bytes)});
  }
  // A NUL byte in UTF-8 text ("a NUL byte: ... is YAML text, not a binary
  // file", with its line) and UTF-16/32 text are osl::yaml's to handle.
  auto root = osl::yaml::load_document(text, {.max_nodes = kMaxYamlNodes, .max_flow_nesting = kMaxFlowNesting}, what);
  if (!root) return std::unexpected(YamlLoadError{root.error().line, std::move(root.error().message)});
  return std::move(*root);
}

int line_of(const YAML::Node& node, int fallback) {
  const YAML::Mark m = node.Mark();
  if (m.is_null() || m.line < 0) return fallback;
  return m.line + 1;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return fmt::format("a string '{}'", osl::detail::shown_text(node.Scalar()));
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined node";
}

}  // namespace airssys::daemoneye::detail
