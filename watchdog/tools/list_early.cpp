// `task-watchdog list` before the C++ runtime starts.
//
// Why: `list` is run often (by people and scripts polling their tasks) and
// its cost was almost all start-up: the static constructors of the full
// program (iostream's eight streams and the classic locale's facets, pulled
// in by CLI11 and yaml-cpp; CLI11's validators) touch code all over the 3.5 MB
// binary, and CLI11 then builds the option tree of every subcommand. That is
// ~1.3 MB of resident pages and ~50 page faults before `list` reads a byte
// (docs/BENCHMARKS.md, task-watchdog).
//
// How: a function in the executable's DT_PREINIT_ARRAY, which glibc's loader
// calls once libc is relocated and before any initialiser of libc or of this
// program (the sanitizers put their own start-up there too, ahead of it). If
// the command line is a plain `list` — only `list`, `--json` after it, and
// at most one `--registry FILE` / `--registry=FILE` anywhere — it runs
// cmd_list itself, the same function the full program calls, so the output,
// the error messages and the exit status are the same by construction; then
// it flushes stdio and ends the process with _exit. Any other command line
// returns, and the program starts as usual (CLI11 parses it, --help
// included).
//
// What a caller must know: the code reachable from here runs before every
// static constructor, so it may only use objects that need none (constants,
// function-local statics, the heap, libc's stdio). watchdog/src, osl,
// commands.cpp and list_command.cpp have no namespace-scope objects with
// dynamic initialisation; keep it so for what cmd_list calls (the registry
// reader and the table). main.cpp (CLI11, iostream) is never reached from
// here. Exceptions thrown here are caught only because the static release
// binary is linked with -Wl,--eh-frame-hdr (watchdog/CMakeLists.txt).

#include "commands.hpp"

#include <airssys/osl/detail/standard_fds.hpp>
#include <airssys/osl/detail/stderr_message.hpp>
#include <airssys/watchdog/registry.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

extern char** environ;

namespace {

struct ListArgs {
  std::string registry;
  bool json = false;
};

// The command lines CLI11 would read as a plain `list`; nullopt for every
// other one (which the full parser then handles, errors included).
std::optional<ListArgs> plain_list(int argc, char** argv) {
  ListArgs a;
  bool seen_list = false, seen_registry = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string_view value;
    if (arg == "list" && !seen_list) {
      seen_list = true;
      continue;
    }
    if (arg == "--json" && seen_list && !a.json) {
      a.json = true;
      continue;
    }
    if (arg == "--registry" && i + 1 < argc) {
      value = argv[++i];
    } else if (arg.starts_with("--registry=")) {
      value = arg.substr(std::strlen("--registry="));
    } else {
      return std::nullopt;
    }
    // An empty or option-like value, one that names the subcommand, or a
    // second --registry: CLI11 decides.
    if (seen_registry || value.empty() || value.front() == '-' || value == "list") return std::nullopt;
    seen_registry = true;
    a.registry = value;
  }
  if (!seen_list) return std::nullopt;
  return a;
}

void early_list(int argc, char** argv, char** envp) {
  namespace wd = airssys::watchdog;
  // libc's own initialiser, which sets environ, runs after this one; the
  // registry's default path reads $TASK_WATCHDOG_REGISTRY.
  if (environ == nullptr) environ = envp;
  // Before anything opens a file (`list >&-`: the registry must not become
  // fd 1); main does it again for the other commands.
  if (!airssys::osl::detail::open_closed_standard_fds()) ::_exit(1);
  const auto args = plain_list(argc, argv);
  if (!args) return;
  std::optional<wd::Registry> reg;
  try {
    reg.emplace(wd::Registry::default_path(args->registry));
  } catch (...) {
    return;  // e.g. no working directory: the full path reports it
  }
  // One write(2) for the whole list when stdout is a file or a pipe (a
  // terminal stays line-buffered). stdio needs no initialiser of its own.
  static char buffer[1 << 16];
  if (::isatty(STDOUT_FILENO) == 0) std::setvbuf(stdout, buffer, _IOFBF, sizeof buffer);
  // From here on what the full program does for `list`, errors included:
  // cmd_list prints (or reports) and returns the exit status. Unlike exit(),
  // a list that could not be written (a full disk, a closed stdout) is not
  // a success: the whole list sits in the buffer until this flush.
  // A list longer than the buffer is written while it is printed, and fmt
  // reports that write's failure by throwing (fmt::system_error).
  int status = 0;
  std::string failure;
  try {
    status = wd::cli::cmd_list(*reg, args->json);
    if (std::fflush(stdout) != 0 && status == 0) failure = std::strerror(errno);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    airssys::osl::detail::write_stderr_ignoring_failure("task-watchdog: writing the task list: " + failure + "\n");
    status = 1;
  }
  std::fflush(stderr);
  ::_exit(status);
}

}  // namespace

// glibc calls DT_PREINIT_ARRAY entries with (argc, argv, envp) in executables
// only; `used` keeps the entry through LTO and --gc-sections.
[[gnu::section(".preinit_array"), gnu::used]] static void (*const early_list_entry)(int, char**, char**) = early_list;
