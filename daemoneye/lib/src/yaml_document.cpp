#include "yaml_document.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <fmt/format.h>

#include <sstream>
#include <vector>

namespace airssys::daemoneye::detail {

namespace {

// Deliberately crude (brackets inside quotes count too): a real config never
// comes close to the limit.
std::expected<void, YamlLoadError> check_flow_nesting(std::string_view text) {
  int depth = 0;
  int line = 1;
  for (const char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > kMaxFlowNesting) {
        return std::unexpected(
            YamlLoadError{line, fmt::format("collections nested deeper than {} levels", kMaxFlowNesting)});
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    } else if (c == '\n') {
      ++line;
    }
  }
  return {};
}

// Records where documents start; builds nothing.
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// Throws YAML::Exception for syntax errors (caught by the caller).
std::expected<void, YamlLoadError> check_single_document(const std::string& text, std::string_view what) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  for (int i = 0; i < 2 && parser.HandleNextDocument(docs); ++i) {
  }
  if (docs.starts.size() < 2) return {};
  const YAML::Mark& second = docs.starts[1];
  const int line = second.line + 1;
  if (second.pos == docs.starts[0].pos) {
    const auto at = static_cast<std::size_t>(second.pos);
    if (at < text.size()) {
      return std::unexpected(YamlLoadError{line, fmt::format("YAML syntax error: unexpected '{}'", text[at])});
    }
    return std::unexpected(YamlLoadError{line, "YAML syntax error"});
  }
  return std::unexpected(YamlLoadError{line, fmt::format("{} holds one YAML document; found another one here", what)});
}

}  // namespace

std::expected<YAML::Node, YamlLoadError> load_yaml_document(std::string_view text, std::size_t max_bytes,
                                                           std::string_view what) {
  if (text.size() > max_bytes) {
    return std::unexpected(
        YamlLoadError{0, fmt::format("{} bytes is too large for {} (at most {} bytes)", text.size(), what, max_bytes)});
  }
  if (auto nested = check_flow_nesting(text); !nested) return std::unexpected(nested.error());
  try {
    const std::string copy(text);
    if (auto single = check_single_document(copy, what); !single) return std::unexpected(single.error());
    return YAML::Load(copy);
  } catch (const YAML::DeepRecursion& e) {
    return std::unexpected(YamlLoadError{e.mark.line + 1, "YAML nesting is too deep"});
  } catch (const YAML::Exception& e) {
    return std::unexpected(YamlLoadError{e.mark.is_null() ? 0 : e.mark.line + 1, "YAML syntax error: " + e.msg});
  }
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
