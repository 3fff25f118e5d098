// daemoneye-cli rules translate FILE: the SQL a rule file runs as. For a
// Sigma rule, its translation (docs/daemoneye.md "Sigma rules"); for a
// native rule, its query. The file is loaded as `rules check` loads one
// (load_rule_file: the same file checks and messages), without compiling
// the SQL: `rules check` does that.

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <airssys/daemoneye/rule.hpp>

#include <fmt/format.h>

namespace airssys::daemoneye::cli {

int run_rules_translate(const std::string& file) {
  auto rule = load_rule_file(file);
  if (!rule) {
    say(printable(rule.error().message));
    return kExitFailed;
  }
  // Line by line through printable(): a rule's values reach the terminal
  // inert, and the SQL keeps its lines.
  std::string out = fmt::format("-- {}: {} ({}, {}{})\n", printable(rule->file.string()), printable(rule->id),
                                rule->sigma ? "Sigma" : "native", to_string(rule->severity),
                                rule->enabled ? "" : ", disabled");
  std::size_t start = 0;
  while (start <= rule->query.size()) {
    const auto nl = rule->query.find('\n', start);
    const auto line = std::string_view(rule->query).substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    out += printable(line);
    out += '\n';
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  write_stdout(out);  // a failure ends the command in main
  return kExitOk;
}

}  // namespace airssys::daemoneye::cli
