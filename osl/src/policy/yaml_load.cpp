#include <airssys/osl/detail/yaml_load.hpp>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <vector>

namespace airssys::osl::yaml {

namespace {

// YAML's encoding detection (YAML 1.2, 5.2), which yaml-cpp follows: a
// UTF-16 or UTF-32 byte order mark, or a NUL in the first two bytes (an
// ASCII first character in UTF-16BE "\0x", UTF-16LE "x\0", UTF-32BE
// "\0\0\0x" or UTF-32LE "x\0\0\0").
bool looks_utf16_or_32(std::string_view text) {
  if (text.starts_with("\xfe\xff") || text.starts_with("\xff\xfe")) return true;
  return text.size() >= 2 && (text[0] == '\0' || text[1] == '\0');
}

// UTF-8 YAML text holds no NUL byte. yaml-cpp takes one for the end of an
// escape and says "unknown escape character" on the line after it (or keeps
// it inside a plain scalar), which sends the reader of a binary file or
// /proc/self/environ looking for a backslash. UTF-16 and UTF-32 text is full
// of NULs and yaml-cpp decodes it: left to it when the first bytes say so.
std::expected<void, LoadError> check_no_nul(std::string_view text, std::string_view what) {
  const auto nul = text.find('\0');
  if (nul == std::string_view::npos || looks_utf16_or_32(text)) return {};
  const std::string_view before = text.substr(0, nul);
  const auto line_start = before.rfind('\n');  // npos + 1 == 0 on the first line
  return std::unexpected(LoadError{static_cast<int>(1 + std::count(before.begin(), before.end(), '\n')),
                                   static_cast<int>(nul - (line_start + 1) + 1),
                                   fmt::format("a NUL byte: {} is YAML text, not a binary file", what)});
}

LoadError at(const YAML::Mark& m, std::string message) {
  if (m.is_null() || m.line < 0) return LoadError{0, 0, std::move(message)};
  return LoadError{m.line + 1, m.column + 1, std::move(message)};
}

std::expected<void, LoadError> check_flow_nesting(std::string_view text, int max_depth) {
  int depth = 0;
  int line = 1;
  int column = 1;
  for (const char c : text) {
    if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return std::unexpected(LoadError{line, column, fmt::format("collections nested deeper than {} levels", max_depth)});
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    if (c == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
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
std::expected<void, LoadError> check_single_document(const std::string& text, std::string_view what) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentStarts docs;
  for (int i = 0; i < 2 && parser.HandleNextDocument(docs); ++i) {
  }
  if (docs.starts.size() < 2) return {};
  const YAML::Mark& second = docs.starts[1];
  if (second.pos == docs.starts[0].pos) {
    const auto pos = static_cast<std::size_t>(second.pos);
    return std::unexpected(at(second, pos < text.size() ? fmt::format("YAML syntax error: unexpected '{}'", text[pos])
                                                        : std::string("YAML syntax error")));
  }
  return std::unexpected(at(second, fmt::format("{} holds one YAML document; found another one here", what)));
}

std::expected<void, LoadError> check_expanded_size(const YAML::Node& root, std::size_t max_nodes, std::string_view what) {
  std::size_t count = 0;
  std::vector<YAML::Node> pending{root};
  while (!pending.empty()) {
    const YAML::Node n = pending.back();
    pending.pop_back();
    if (++count > max_nodes) {
      LoadError e = at(n.Mark(), fmt::format("{} expands to more than {} YAML nodes (keys, values and list items; an alias "
                                             "counts again at every use): the limit is {}",
                                             what, max_nodes, max_nodes));
      if (e.line == 0) e.line = e.column = 1;
      return std::unexpected(std::move(e));
    }
    if (n.IsSequence()) {
      for (const auto& item : n) pending.push_back(item);
    } else if (n.IsMap()) {
      for (const auto& entry : n) {
        pending.push_back(entry.first);
        pending.push_back(entry.second);
      }
    }
  }
  return {};
}

}  // namespace

std::expected<YAML::Node, LoadError> load_document(std::string_view text, const LoadLimits& limits, std::string_view what) {
  if (auto nul = check_no_nul(text, what); !nul) return std::unexpected(nul.error());
  if (auto nested = check_flow_nesting(text, limits.max_flow_nesting); !nested) return std::unexpected(nested.error());
  try {
    const std::string copy(text);
    if (auto single = check_single_document(copy, what); !single) return std::unexpected(single.error());
    YAML::Node root = YAML::Load(copy);
    if (auto size = check_expanded_size(root, limits.max_nodes, what); !size) return std::unexpected(size.error());
    return root;
  } catch (const YAML::DeepRecursion& e) {
    return std::unexpected(at(e.mark, "YAML nesting is too deep"));
  } catch (const YAML::Exception& e) {
    return std::unexpected(at(e.mark, "YAML syntax error: " + e.msg));
  }
}

}  // namespace airssys::osl::yaml
