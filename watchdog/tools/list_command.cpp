// `task-watchdog list`: the tasks of the registry, oldest first (ties by
// id), as a table or as one JSON array (docs/task-watchdog.md).
//
// Why it does not call Registry::load: `list` runs often (people and scripts
// polling their tasks) and, once start-up is cheap, its cost is the memory
// it touches. RegistryData for 100 tasks is ~100 KB of heap, ~27 page faults
// and a third of the command's, for a table of ~10 KB. So each task is read
// into one record at a time and turned into its output line at once
// (detail::for_each_task_fast); only the lines are kept, to be sorted. A
// registry that reader gives up on is parsed the usual way (parse_registry,
// as load() does), so what is accepted, the errors and their messages are
// load()'s.
//
// What a caller must know: this also runs before any static constructor
// (tools/list_early.cpp): what it reaches may need none.

#include "commands.hpp"

// The library's internal headers (watchdog/src): the CLI is part of task-watchdog.
#include "registry_fast.hpp"
#include "registry_json.hpp"
#include "registry_text.hpp"

#include <airssys/watchdog/registry.hpp>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::watchdog::cli {

namespace {

struct Line {
  std::int64_t created_ms = 0;
  std::string text;  // a table row with its newline, or one compact JSON object
};

}  // namespace

int cmd_list(const Registry& reg, bool as_json) {
  std::vector<Line> lines;
  const auto add = [&](const TaskRecord& t) {
    lines.push_back({t.created_ms, as_json ? detail::task_to_json(t).dump()
                                           : fmt::format("{:<24} {:<10} {:>8} {:<12} {}\n", t.id, to_string(t.state),
                                                         t.pid ? std::to_string(*t.pid) : "-", deadline_text(t),
                                                         command_line(t))});
  };
  const auto read = detail::read_registry_text(reg.path(), [&](std::string_view text) -> std::expected<void, Error> {
    if (detail::for_each_task_fast(text, add)) return {};
    lines.clear();
    auto data = parse_registry(text, reg.path().string());
    if (!data) return std::unexpected(data.error());
    for (const auto& [id, t] : data->tasks) add(t);
    return {};
  });
  if (!read) return report(read.error());
  // Both readers give the tasks in id order, so a stable sort breaks ties by id.
  std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.created_ms < b.created_ms; });
  if (as_json) {
    // What nlohmann's compact dump() of the array would print.
    fmt::print("[");
    for (std::size_t i = 0; i < lines.size(); ++i) fmt::print("{}{}", i == 0 ? "" : ",", lines[i].text);
    fmt::print("]\n");
    return 0;
  }
  fmt::print("{:<24} {:<10} {:>8} {:<12} {}\n", "ID", "STATE", "PID", "DEADLINE", "COMMAND");
  for (const auto& l : lines) fmt::print("{}", l.text);
  return 0;
}

}  // namespace airssys::watchdog::cli
