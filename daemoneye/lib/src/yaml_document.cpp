#include "yaml_document.hpp"

#include <airssys/osl/detail/yaml_load.hpp>

#include <fmt/format.h>

#include <algorithm>

namespace airssys::daemoneye::detail {

namespace {

// YAML's encoding detection (YAML 1.2, 5.2), which yaml-cpp follows: a
// UTF-16 or UTF-32 byte order mark, or a NUL in the first two bytes (an
// ASCII first character in UTF-16BE "\0x", UTF-16LE "x\0", UTF-32BE
// "\0\0\0x" or UTF-32LE "x\0\0\0").
bool looks_utf16_or_32(std::string_view text) {
  if (text.starts_with("\xfe\xff") || text.starts_with("\xff\xfe")) return true;
  return text.size() >= 2 && (text[0] == '\0' || text[1] == '\0');
}

}  // namespace

std::expected<YAML::Node, YamlLoadError> load_yaml_document(std::string_view text, std::size_t max_bytes,
                                                           std::string_view what) {
  if (text.size() > max_bytes) {
    return std::unexpected(
        YamlLoadError{0, fmt::format("{} bytes is too large for {} (at most {} bytes)", text.size(), what, max_bytes)});
  }
  // UTF-8 YAML text holds no NUL byte; yaml-cpp reads one as the end of an
  // escape and says "unknown escape character: y" on the line after it,
  // which sent readers of /proc/self/environ looking for a backslash.
  // UTF-16 and UTF-32 text is full of them, and yaml-cpp decodes it: left
  // to it when the first bytes say so.
  if (const auto nul = text.find('\0'); nul != std::string_view::npos && !looks_utf16_or_32(text)) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    return std::unexpected(YamlLoadError{
        static_cast<int>(line), fmt::format("a NUL byte: {} is YAML text, not a binary file", what)});
  }
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
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      return s.size() <= 60 ? fmt::format("a string '{}'", s) : fmt::format("a string '{}...'", s.substr(0, 60));
    }
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
