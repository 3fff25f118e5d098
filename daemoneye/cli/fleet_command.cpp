// daemoneye-cli fleet query: a signed live query to the agents of a fleet
// over NATS (docs/daemoneye.md "Live queries"), their rows printed as one
// table per host or as JSON lines.

#include "fleet_command.hpp"
#include "output.hpp"

#include <airssys/daemoneye/live_query_client.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

namespace airssys::daemoneye::cli {

namespace {

std::string host_table(const LiveQueryReply& r, std::size_t width) {
  std::string out = fmt::format("== {} ", printable(r.host));
  if (r.status != LiveQueryStatus::ok) {
    return out + fmt::format("{}: {} ==\n", to_string(r.status), printable(r.message));
  }
  out += fmt::format("({} rows{}, {:.1f} ms) ==\n", r.rows.size(), r.truncated ? ", cut by the agent's limits" : "",
                     static_cast<double>(r.elapsed_us) / 1000.0);
  std::vector<std::vector<std::string>> rows;
  rows.reserve(r.rows.size());
  for (const auto& row : r.rows) {
    std::vector<std::string> cells;
    cells.reserve(row.size());
    for (const auto& v : row) cells.push_back(cell_text(v));
    rows.push_back(std::move(cells));
  }
  return out + format_table(r.columns, rows, width);
}

}  // namespace

int run_fleet_query(const Context& ctx, const FleetArgs& args) {
  auto key = Ed25519PrivateKey::load(args.key);
  if (!key) return fail_with(key.error(), "--key");
  LiveQueryConfig connection = ctx.config.live_query;
  if (!args.server.empty()) connection.url = args.server;
  if (connection.url.empty()) connection.url = "nats://127.0.0.1:4222";
  FleetQuery q{.query = args.sql, .all_hosts = args.all, .hosts = args.hosts, .timeout = args.timeout};
  auto result = daemoneye::run_fleet_query(connection, *key, q);
  if (!result) return fail_with(result.error());

  const std::size_t width = ::isatty(STDOUT_FILENO) ? terminal_width() : 0;
  std::string out;
  int code = kExitOk;
  int failed_code = kExitOk;
  for (const auto& r : result->replies) {
    if (args.json) {
      out += terminal_safe_json(encode_reply(r)) + "\n";
    } else {
      out += host_table(r, width) + "\n";
    }
    if (r.status == LiveQueryStatus::refused) code = kExitDenied;
    if (r.status == LiveQueryStatus::failed && failed_code == kExitOk) failed_code = exit_code(r.category);
  }
  for (const auto& h : result->missing) {
    if (args.json) {
      nlohmann::json j{{"v", kLiveQueryVersion}, {"host", h}, {"nonce", result->nonce}, {"status", "no_reply"}};
      out += json_text(j) + "\n";
    }
    say(fmt::format("no reply from {} within {} ms", printable(h), args.timeout.count()));
  }
  if (!result->cut.empty()) say(result->cut);
  if (result->replies.empty() && args.all) say(fmt::format("no agent answered within {} ms", args.timeout.count()));
  write_stdout(out);  // a failure ends the command in main, with the code below
  // Refused first (the operator's key or clock is the problem), then a
  // query that failed on an agent, then silence.
  if (code == kExitOk) code = failed_code;
  if (code == kExitOk && (!result->missing.empty() || result->replies.empty())) code = kExitTryLater;
  return code;
}

}  // namespace airssys::daemoneye::cli
