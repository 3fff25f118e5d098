#pragma once
// Resource use of a whole task, for `status`: CPU % from two samples and
// memory. With a v2 cgroup, CPU comes from cpu.stat (usage_usec: it also
// counts processes that exit between the samples) and memory from
// memory.current when the memory controller is enabled, or from the v1
// memory cgroup's memory.usage_in_bytes (hybrid layouts); otherwise both are
// summed over the task's processes from /proc (memory = sum of RSS, which
// counts shared pages once per process).

#include "kill_tree.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace airssys::watchdog {

struct Usage {
  double cpu_percent = 0;  // of one CPU: 200 = two CPUs busy
  std::uint64_t memory_bytes = 0;
  std::string memory_source;  // "memory.current" | "memory.usage_in_bytes" | "rss-sum"
  std::size_t processes = 0;
};

// Samples twice, `interval` apart (blocks that long). nullopt when nothing
// of the task runs.
[[nodiscard]] std::optional<Usage> sample_usage(const TaskProcesses& t,
                                                std::chrono::milliseconds interval = std::chrono::milliseconds(250));

}  // namespace airssys::watchdog
