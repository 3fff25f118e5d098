#pragma once
// The command-line programs' one check for an option given an empty value.
//
// `--timeout "$T"`, `--audit-log "$LOG"` or `cleanup --older-than "$AGE"`
// with the variable unset passes '' to the program, and an empty string
// used to read as "option not given": no deadline, no audit log, every
// ended task removed. A value the user typed as empty is a mistake to
// report, never a default to apply. Header-only and a template over the
// parser's App type (CLI11's CLI::App), so the osl library does not depend
// on the CLI parser; used by airssys-osl, task-watchdog, airssys-bus,
// airssys-ledger, daemoneye-cli, daemoneye-agent and procmond.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::osl::detail {

// The name (e.g. "--timeout") of the first option, in `app` or a subcommand
// that was used, which was given and has an empty value; nullopt if none.
// Flags (no value) and positionals are not looked at. `empty_allowed` names
// options for which '' is documented as "unset" (airssys-osl's
// --traceparent).
template <class App>
std::optional<std::string> first_empty_option_value(const App& app,
                                                    const std::vector<std::string_view>& empty_allowed = {}) {
  for (const auto* opt : app.get_options()) {
    if (!opt->nonpositional() || opt->get_type_size_max() == 0 || opt->count() == 0) continue;
    // Its first long name, else its first short one: get_name() is "" for
    // an option hidden from --help (procmond's --btf).
    const std::string name = !opt->get_lnames().empty()   ? "--" + opt->get_lnames().front()
                             : !opt->get_snames().empty() ? "-" + opt->get_snames().front()
                                                          : opt->get_name();
    bool allowed = false;
    for (const auto a : empty_allowed) allowed = allowed || a == name;
    if (allowed) continue;
    for (const auto& value : opt->results()) {
      if (value.empty()) return name;
    }
  }
  for (const auto* sub : app.get_subcommands()) {
    if (auto name = first_empty_option_value(*sub, empty_allowed)) return name;
  }
  return std::nullopt;
}

// What every program says after its own prefix ("airssys-bus: "), for the
// option first_empty_option_value named:
//   --queue: no value given (leave the option out for its default)
inline std::string empty_option_message(std::string_view name) {
  return std::string(name) + ": no value given (leave the option out for its default)";
}

}  // namespace airssys::osl::detail
