#pragma once
// The message for a command line whose command is mistyped. CLI11 reports
// `daemoneye-cli stauts` (or `rules chek`, or `--frobnicate` before any
// command) as "A subcommand is required", which does not name the word the
// operator typed; this names it and lists the commands there.

#include <CLI/CLI.hpp>

#include <initializer_list>
#include <optional>
#include <string>

namespace airssys::daemoneye::cli {

// `top` and its command groups (subcommands that need a subcommand of their
// own, e.g. `rules`) after `e` stopped the parse: the message when `e` is a
// missing command and a word was left over at the innermost group given on
// the command line, else nullopt (CLI11's own message is right then).
[[nodiscard]] std::optional<std::string> unknown_command(const CLI::App& top,
                                                         std::initializer_list<const CLI::App*> groups,
                                                         const CLI::ParseError& e);

}  // namespace airssys::daemoneye::cli
