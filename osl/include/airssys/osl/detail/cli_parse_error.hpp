#pragma once
// For the command-line programs of this repository: CLI11's answer to a
// command line it refused (or to --help, --version), with its error text
// going to stderr the way every other message does (stderr_message.hpp).
// CLI11 writes it through std::cerr, which does not throw but whose write
// to a stderr pipe without a reader raises SIGPIPE: `task-watchdog --bogus`
// ended by it (141), not with its usage code (2). A template over the
// parser's App and error types, so the osl library does not depend on
// CLI11.

#include <airssys/osl/detail/stderr_message.hpp>

#include <iostream>
#include <sstream>

namespace airssys::osl::detail {

// app.exit(e): help and version text to std::cout as before, the error and
// its hint to stderr through write_stderr_ignoring_failure. Returns what
// app.exit returns (0 for help and version).
template <class App, class ParseError>
int exit_for_parse_error(App& app, const ParseError& e) {
  std::ostringstream err;
  const int code = app.exit(e, std::cout, err);
  write_stderr_ignoring_failure(err.view());
  return code;
}

}  // namespace airssys::osl::detail
