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
#include <charconv>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::watchdog::cli {

namespace {

// One output line: a table row with its newline, or one compact JSON
// object; its text sits in one buffer shared by all lines (no allocation
// per line).
struct Line {
  std::int64_t created_ms = 0;
  std::size_t begin = 0, size = 0;
};

// `text` left-aligned (or right-aligned) in `width` columns, as fmt's
// "{:<width}" ("{:>width}") prints it. The fields of a row are ASCII (ids,
// state spellings, pids, durations); anything else goes through fmt, which
// counts columns, not bytes.
void pad(std::string& out, std::string_view text, std::size_t width, bool right = false) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      if (right) fmt::format_to(std::back_inserter(out), "{:>{}}", text, width);
      else fmt::format_to(std::back_inserter(out), "{:<{}}", text, width);
      return;
    }
  }
  const std::size_t fill = text.size() < width ? width - text.size() : 0;
  if (right) out.append(fill, ' ');
  out += text;
  if (!right) out.append(fill, ' ');
}

// What fmt::format("{:<24} {:<10} {:>8} {:<12} {}\n", id, state, pid,
// deadline, command) prints.
void table_row(std::string& out, const TaskRecord& t) {
  pad(out, t.id, 24);
  out += ' ';
  pad(out, to_string(t.state), 10);
  out += ' ';
  char digits[24];
  const auto pid = t.pid ? std::string_view(digits, static_cast<std::size_t>(
                                                         std::to_chars(digits, digits + sizeof digits, *t.pid).ptr - digits))
                         : std::string_view("-");
  pad(out, pid, 8, true);
  out += ' ';
  pad(out, deadline_text(t), 12);
  out += ' ';
  out += command_line(t);
  out += '\n';
}

}  // namespace

int cmd_list(const Registry& reg, bool as_json) {
  std::vector<Line> lines;
  // The output as the tasks come (header or '[' first, ',' between JSON
  // objects): when they come oldest first, as they usually do, it is
  // printed as it is.
  std::string text;
  const auto start = [&](std::size_t registry_bytes) {
    lines.clear();
    text.clear();
    // A row is ~1/8 of its record's registry text; a JSON object about all of it.
    text.reserve(as_json ? registry_bytes + 16 : registry_bytes / 8 + 256);
    if (as_json) text += '[';
    else fmt::format_to(std::back_inserter(text), "{:<24} {:<10} {:>8} {:<12} {}\n", "ID", "STATE", "PID", "DEADLINE", "COMMAND");
  };
  const auto add = [&](const TaskRecord& t) {
    if (as_json && !lines.empty()) text += ',';
    const std::size_t begin = text.size();
    if (as_json) text += detail::task_to_json(t).dump();
    else table_row(text, t);
    lines.push_back({t.created_ms, begin, text.size() - begin});
  };
  start(0);
  const auto read = detail::read_registry_text(reg.path(), [&](std::string_view registry) -> std::expected<void, Error> {
    start(registry.size());
    if (detail::for_each_task_fast(registry, add)) return {};
    auto data = parse_registry(registry, reg.path().string());
    if (!data) return std::unexpected(data.error());
    start(registry.size());
    for (const auto& [id, t] : data->tasks) add(t);
    return {};
  });
  if (!read) return report(read.error());
  if (as_json) text += "]\n";
  const auto older = [](const Line& a, const Line& b) { return a.created_ms < b.created_ms; };
  if (!std::is_sorted(lines.begin(), lines.end(), older)) {
    // Both readers give the tasks in id order, so a stable sort breaks ties by id.
    std::stable_sort(lines.begin(), lines.end(), older);
    std::string sorted;
    sorted.reserve(text.size());
    const std::size_t head = as_json ? 1 : text.find('\n') + 1;
    sorted.append(text, 0, head);
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (as_json && i > 0) sorted += ',';
      sorted.append(text, lines[i].begin, lines[i].size);
    }
    if (as_json) sorted += "]\n";
    text = std::move(sorted);
  }
  // One write of the whole list (through stdout's buffer); fmt reports a
  // failed write by throwing.
  fmt::print("{}", text);
  return 0;
}

}  // namespace airssys::watchdog::cli
