#include "unknown_command.hpp"

#include <airssys/daemoneye/terminal_text.hpp>

#include <fmt/format.h>

#include <vector>

namespace airssys::daemoneye::cli {

std::optional<std::string> unknown_command(const CLI::App& top, std::initializer_list<const CLI::App*> groups,
                                           const CLI::ParseError& e) {
  if (dynamic_cast<const CLI::RequiredError*>(&e) == nullptr) return std::nullopt;
  const CLI::App* at = &top;
  for (const CLI::App* g : groups) {
    if (g->parsed()) at = g;
  }
  if (!at->get_subcommands().empty()) return std::nullopt;  // it has its command: something else is missing
  const std::vector<std::string> rest = at->remaining();
  if (rest.empty()) return std::nullopt;  // nothing typed where the command goes
  std::vector<std::string> names;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App*) { return true; })) names.push_back(sub->get_name());
  const std::string where = at == &top ? "" : at->get_name() + " ";
  const std::string word = printable(rest.front());
  const std::string known = fmt::format("{}commands: {}", where, fmt::join(names, ", "));
  if (!word.empty() && word.front() == '-') {
    return fmt::format("unknown option '{}'; a {}command is required ({}); see --help", word, where, known);
  }
  return fmt::format("'{}' is not a {}command ({}); see --help", word, where, known);
}

}  // namespace airssys::daemoneye::cli
