// Beside `task-watchdog list` (issue 13's list goal): the registry read
// whole (Registry::load: every record on the heap, as `list` did before it
// read one task at a time, tools/list_command.cpp) and the same table, in a
// program that holds nothing else (no CLI11, no iostream, no other command).
// Built and run against `list` and /bin/true by list_floor.sh; not part of
// the build.

#include <airssys/watchdog/registry.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <string>
#include <vector>

namespace wd = airssys::watchdog;

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const wd::Registry reg(argv[1]);
  auto data = reg.load();
  if (!data) return 4;
  std::vector<const wd::TaskRecord*> tasks;
  for (const auto& [id, t] : data->tasks) tasks.push_back(&t);
  std::sort(tasks.begin(), tasks.end(), [](auto* a, auto* b) { return a->created_ms < b->created_ms; });
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it, "{:<24} {:<10} {:>8} {:<12} {}\n", "ID", "STATE", "PID", "DEADLINE", "COMMAND");
  for (const auto* t : tasks) {
    fmt::format_to(it, "{:<24} {:<10} {:>8} {:<12} {}\n", t->id, wd::to_string(t->state), t->pid ? std::to_string(*t->pid) : "-",
                   "-", t->argv.front());
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}
