#pragma once
// daemoneye-cli fleet query (fleet_command.cpp; docs/daemoneye.md "Live queries").

#include "commands.hpp"

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace airssys::daemoneye::cli {

struct FleetArgs {
  std::string sql;
  std::filesystem::path key;       // the operator's Ed25519 private key (PEM, 0600)
  std::vector<std::string> hosts;  // or all
  bool all = false;
  std::chrono::milliseconds timeout{5000};
  std::string server;              // NATS servers; default live_query.url, else nats://127.0.0.1:4222
  bool json = false;
};

// Exit: 0 every addressed host answered with rows; 4 an agent refused the
// request; a failed query's category code (2 invalid SQL, 4 refused by the
// SQL guard, 6 timeout); 6 a named host did not answer (or, with --all, no
// agent did) or no NATS server answers.
int run_fleet_query(const Context& ctx, const FleetArgs& args);

}  // namespace airssys::daemoneye::cli
