// daemoneye-cli rules exceptions: the rule exceptions the agent has in force
// and what each silenced since it started, from its status file
// (docs/daemoneye.md "Rule exceptions"), and what its last load refused.

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"

#include <airssys/daemoneye/agent_status.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace airssys::daemoneye::cli {

int run_rules_exceptions(const Context& ctx, bool json) {
  auto read = read_status_file(ctx.status_file());
  if (!read) return fail_with(read.error());
  if (!read->has_value()) {
    say(fmt::format("no status file at {}: the agent has not run with this configuration", ctx.status_file().string()));
    return kExitFailed;
  }
  const AgentStatus& s = **read;
  if (json) {
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (const ExceptionStats& e : s.exceptions)
      list.push_back(nlohmann::ordered_json{{"id", e.id},           {"rule", e.rule},       {"reason", e.reason},
                                            {"owner", e.owner},     {"ticket", e.ticket},   {"file", e.file},
                                            {"expires", e.expires}, {"expired", e.expired}, {"hits", e.hits},
                                            {"last_hit", e.last_hit},   {"weak", !e.weak.empty()},
                                            {"weak_reason", e.weak}});
    const nlohmann::ordered_json j{{"updated_at", s.updated_at},
                                   {"exceptions", std::move(list)},
                                   {"rejected", s.exceptions_rejected}};
    write_stdout(json_text(j, 2) + "\n");
    return kExitOk;
  }
  std::vector<std::vector<std::string>> rows;
  for (const ExceptionStats& e : s.exceptions) {
    rows.push_back({e.id, e.rule, std::to_string(e.hits), e.last_hit > 0 ? utc_time(e.last_hit) : "-",
                    e.expires == 0 ? "never" : (e.expired ? "EXPIRED " : "") + utc_time(e.expires), e.reason});
  }
  write_stdout(format_table({"ID", "RULE", "HITS", "LAST HIT", "EXPIRES", "REASON"}, rows, terminal_width()));
  // A weak one (nothing the kernel gives pins it) is said: any process may shape its row to match it.
  for (const ExceptionStats& e : s.exceptions)
    if (!e.weak.empty()) say(printable(fmt::format("weak: {}: {}", e.id, e.weak)));
  for (const auto& r : s.exceptions_rejected) say(printable("rejected: " + r));
  say(fmt::format("{} rule exception{} in force, {} rejected at the last load (status of {})", s.exceptions.size(),
                  s.exceptions.size() == 1 ? "" : "s", s.exceptions_rejected.size(), utc_time(s.updated_at)));
  return kExitOk;
}

}  // namespace airssys::daemoneye::cli
