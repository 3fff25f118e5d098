#pragma once
// daemoneye-agent's core: owns the store, the rules, the alert pipeline, the
// embedded bus broker and the supervised procmond, and runs the scan loop.
//
// One thread (the caller of run()) does all storing and rule evaluation; the
// broker, bus client and actor runtime have their own threads.

#include <airssys/daemoneye/config.hpp>
#include <airssys/daemoneye/error.hpp>

#include <expected>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace airssys::daemoneye::agent {

class Agent {
 public:
  // Opens the store, rules, ledger and sinks, starts the broker and procmond.
  // `self_exe`: the agent's own executable (procmond is looked for beside it).
  // invalid_input means the configuration names something unusable (an
  // alert sink's file is a directory, a syslog address does not resolve);
  // other categories are the host's (not_found, denied, busy, io, ...).
  [[nodiscard]] static Result<std::unique_ptr<Agent>> start(const Config& config,
                                                           const std::filesystem::path& self_exe);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Runs until SIGINT or SIGTERM arrives on `signal_fd` (a signalfd), then
  // stops procmond, flushes and returns 0; a fatal error returns 1.
  // SIGHUP on it: `reload` reads the configuration again and the agent
  // loads the rules (rules.dir) and the live queries' trusted keys anew;
  // a reload that fails keeps what is in use and logs why. Other settings
  // take effect at a restart.
  [[nodiscard]] int run(int signal_fd, std::function<Result<Config>()> reload = {});

  struct Impl;

 private:
  explicit Agent(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye::agent
