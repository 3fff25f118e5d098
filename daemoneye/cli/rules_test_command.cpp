// daemoneye-cli rules test FILE: a rule tried on the live store before it
// is deployed. The file is loaded as the agent loads a rule (load_rule_file,
// its query compiled by the guarded engine on the agent's store: the same
// message as the agent's log at load), its query runs once read-only under
// the rules' limits, and each row is made the candidate alert the agent
// would make (alerts_of) and put to the agent's dedup (dedup_check.hpp):
// `new` (the agent would raise it), `raised` (an alert with its dedup key
// was raised within alerts.dedup_window), `repeat` (an earlier row has its
// key; one alert for both). A Sigma rule's window parameters are left
// unbound: it reads every stored event, as `query "$(rules translate F)"`;
// but deployed now it would start at the last scan's events
// (sigma_first_scan_after), so a row of an older event is `unread`: never
// raised, whatever dedup says. A row a rule exception in force matches
// (rules.exceptions) is `excepted by ID`: the agent drops it before dedup,
// so it takes no part in the dedup verdicts of the others.
//
// Exit codes, grep's: 0 a row matched, 1 none did, 2.. as elsewhere
// (exit_codes.hpp) — except a failure that has no more specific code than
// 1, which is 2 here, so that 1 always means "nothing matched".

#include "commands.hpp"
#include "exit_codes.hpp"
#include "output.hpp"
#include "rule_exception_marks.hpp"
#include "store_access.hpp"

#include <airssys/daemoneye/dedup_check.hpp>
#include <airssys/daemoneye/rule.hpp>
#include <airssys/daemoneye/rule_runner.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <variant>

namespace airssys::daemoneye::cli {

namespace {

// 1 is "nothing matched" here: a failure without a more specific code is 2.
int error_code(ErrorCategory c) {
  const int code = exit_code(c);
  return code == kExitFailed ? kExitUsage : code;
}

int fail_here(const Error& e, std::string_view context = {}) {
  say(context.empty() ? printable(e.message) : fmt::format("{}: {}", context, printable(e.message)));
  return error_code(e.category);
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
  return buf;
}

// A Sigma row of an event the rule, deployed now, would never read.
constexpr std::string_view kUnread = "unread";

std::string_view verdict_name(DedupVerdict::Kind k) {
  switch (k) {
    case DedupVerdict::Kind::raise: return "new";
    case DedupVerdict::Kind::raised: return "raised";
    case DedupVerdict::Kind::repeat: return "repeat";
  }
  return "?";
}

std::string verdict_text(const DedupVerdict& v) {
  switch (v.kind) {
    case DedupVerdict::Kind::raise: return "new";
    case DedupVerdict::Kind::raised: return "raised " + utc_time(v.raised_at);
    case DedupVerdict::Kind::repeat: return fmt::format("repeat of row {}", v.first + 1);
  }
  return "?";
}

}  // namespace

int run_rules_test(const Context& ctx, const RulesTestArgs& args) {
  const auto& limits = ctx.config.rules;
  auto engine = open_engine(ctx, limits.max_rows, limits.timeout, limits.max_bytes);
  if (!engine) return fail_here(engine.error());
  auto rule = load_rule_file(args.file, engine->get());
  if (!rule) {
    say(printable(rule.error().message));
    return error_code(rule.error().category);
  }
  for (const auto& w : rule->warnings) say(printable(w));
  auto result = (*engine)->run(rule->query);
  if (!result) return fail_here(result.error(), fmt::format("rule {}: query refused", rule->id));

  const std::int64_t now = unix_now();
  const std::vector<Alert> candidates = alerts_of(*rule, *result, host_name(), now);
  const std::vector<std::string> excepted_by = excepted_rows(ctx, *rule, **engine, candidates, now);
  // Dedup sees what the exceptions leave, as in the agent.
  std::vector<Alert> kept;
  std::vector<std::size_t> kept_at;  // kept[k] is candidates[kept_at[k]]
  for (std::size_t i = 0; i < candidates.size(); ++i)
    if (excepted_by[i].empty()) {
      kept.push_back(candidates[i]);
      kept_at.push_back(i);
    }
  // The candidates' own keys, however many others the window holds (all
  // of them under rules.max_rows would cut the newest).
  auto recent = raised_keys_of(**engine, ctx.config.alerts.dedup_window, now, kept);
  if (!recent) return fail_here(recent.error(), "reading the alerts raised within alerts.dedup_window");
  std::vector<DedupVerdict> verdicts(candidates.size());
  const std::vector<DedupVerdict> kept_verdicts = dedup_verdicts(kept, *recent, ctx.config.alerts.dedup_window, now);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    DedupVerdict v = kept_verdicts[k];
    if (v.kind == DedupVerdict::Kind::repeat) v.first = kept_at[v.first];
    verdicts[kept_at[k]] = v;
  }
  // Rows of events before where a newly deployed Sigma rule starts.
  std::vector<bool> unread(candidates.size(), false);
  if (rule->sigma) {
    const auto col = std::ranges::find(result->columns, "event_id");
    if (col != result->columns.end()) {
      auto after = sigma_first_scan_after(**engine, now);
      if (!after) return fail_here(after.error(), "reading where a new Sigma rule starts");
      const auto at = static_cast<std::size_t>(col - result->columns.begin());
      for (std::size_t i = 0; i < result->rows.size() && i < unread.size(); ++i)
        if (const auto* id = std::get_if<std::int64_t>(&result->rows[i][at])) unread[i] = *id <= *after;
    }
  }

  std::size_t fresh = 0, raised = 0, repeats = 0, old = 0, excepted = 0;
  for (std::size_t i = 0; i < verdicts.size(); ++i) {
    if (!excepted_by[i].empty()) ++excepted;
    else if (unread[i]) ++old;
    else if (verdicts[i].kind == DedupVerdict::Kind::raise) ++fresh;
    else if (verdicts[i].kind == DedupVerdict::Kind::raised) ++raised;
    else ++repeats;
  }

  if (args.json) {
    Printer out;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const DedupVerdict& v = verdicts[i];
      const bool ex = !excepted_by[i].empty();
      nlohmann::ordered_json j{{"alert", ex ? std::string_view("excepted") : unread[i] ? kUnread : verdict_name(v.kind)},
                               {"raised_at", !ex && v.kind == DedupVerdict::Kind::raised ? nlohmann::ordered_json(v.raised_at)
                                                                                   : nlohmann::ordered_json(nullptr)},
                               {"dedup_key", candidates[i].dedup_key},
                               {"row", nlohmann::ordered_json::parse(candidates[i].row_json, nullptr, false)}};
      if (ex) j["exception"] = excepted_by[i];
      if (!out.add((i ? ",\n " : "[\n ") + json_text(j))) break;
    }
    if (!stdout_write_failure() && out.add(candidates.empty() ? "[]\n" : "\n]\n")) out.flush();
  } else {
    std::vector<std::string> header{"ALERT"};
    header.insert(header.end(), result->columns.begin(), result->columns.end());
    std::vector<std::vector<std::string>> rows;
    rows.reserve(result->rows.size());
    for (std::size_t i = 0; i < result->rows.size(); ++i) {
      auto& row = rows.emplace_back();
      row.push_back(!excepted_by[i].empty() ? "excepted by " + excepted_by[i]
                    : unread[i]            ? "unread (older event)"
                                           : verdict_text(verdicts[i]));
      for (const auto& v : result->rows[i]) row.push_back(cell_text(v));
    }
    write_stdout(format_table(header, rows, terminal_width()));
  }
  tell_truncated(*result, limits.max_rows, limits.max_bytes);
  say(fmt::format("rule {} ({}{}): {} matched, {} new, {} already raised{}{}{}", printable(rule->id),
                  rule->sigma ? "Sigma, every stored event read" : "native",
                  rule->enabled ? "" : ", disabled: the agent does not run it", candidates.size(), fresh, raised,
                  repeats > 0 ? fmt::format(", {} repeating an earlier row's dedup key", repeats) : std::string(),
                  old > 0 ? fmt::format(", {} of events older than a newly deployed Sigma rule reads (it starts at "
                                        "the last scan's events: never raised)",
                                        old)
                          : std::string(),
                  excepted > 0 ? fmt::format(", {} excepted by rule exceptions (the agent raises none of them)", excepted)
                               : std::string()));
  return candidates.empty() ? kExitFailed : kExitOk;
}

}  // namespace airssys::daemoneye::cli
