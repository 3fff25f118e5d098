#pragma once
// The kernel's own run-time counters of loaded BPF programs (run_time_ns,
// run_cnt of bpf_prog_info), read through the bpf(2) system call, for the
// benchmark that measures what procmond's eBPF programs cost per exec.
//
// The counters only move while run-time statistics are on. BpfStatsOn turns
// them on with BPF_ENABLE_STATS: the kernel keeps them on while the fd it
// returns is open and turns them back off when it is closed — by the
// destructor, or by the kernel at the process's exit however it ends — so
// the sysctl kernel.bpf_stats_enabled is never left changed (it is not
// written at all). Root only (CAP_SYS_ADMIN).
//
// Not thread-safe; one thread reads.

#include <airssys/osl/unique_fd.hpp>

#include <cstdint>
#include <expected>
#include <map>
#include <string>

namespace airssys::daemoneye::bench {

class BpfStatsOn {
 public:
  [[nodiscard]] static std::expected<BpfStatsOn, std::string> enable();

 private:
  osl::UniqueFd fd_;
};

struct BpfProgCounters {
  std::string name;  // as the kernel keeps it: at most 15 bytes ("procmon_exec_gi")
  std::uint64_t run_time_ns = 0, run_cnt = 0;
};

// Every loaded program whose name starts with `prefix`, by program id.
[[nodiscard]] std::expected<std::map<std::uint32_t, BpfProgCounters>, std::string> bpf_programs(
    const std::string& prefix);

}  // namespace airssys::daemoneye::bench
