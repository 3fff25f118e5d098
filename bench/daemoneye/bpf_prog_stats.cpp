#include "bpf_prog_stats.hpp"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace airssys::daemoneye::bench {

namespace {

long bpf(int cmd, bpf_attr& attr) { return ::syscall(__NR_bpf, cmd, &attr, sizeof attr); }

}  // namespace

std::expected<BpfStatsOn, std::string> BpfStatsOn::enable() {
  bpf_attr attr{};
  attr.enable_stats.type = BPF_STATS_RUN_TIME;
  const long fd = bpf(BPF_ENABLE_STATS, attr);
  if (fd < 0) return std::unexpected(std::string("bpf(BPF_ENABLE_STATS): ") + std::strerror(errno));
  BpfStatsOn on;
  on.fd_ = osl::UniqueFd(static_cast<int>(fd));
  return on;
}

std::expected<std::map<std::uint32_t, BpfProgCounters>, std::string> bpf_programs(const std::string& prefix) {
  std::map<std::uint32_t, BpfProgCounters> out;
  std::uint32_t id = 0;
  for (;;) {
    bpf_attr next{};
    next.start_id = id;
    if (bpf(BPF_PROG_GET_NEXT_ID, next) != 0) {
      if (errno == ENOENT) return out;
      return std::unexpected(std::string("bpf(BPF_PROG_GET_NEXT_ID): ") + std::strerror(errno));
    }
    id = next.next_id;
    bpf_attr by_id{};
    by_id.prog_id = id;
    const long raw = bpf(BPF_PROG_GET_FD_BY_ID, by_id);
    if (raw < 0) {
      if (errno == ENOENT) continue;  // unloaded meanwhile
      return std::unexpected("bpf(BPF_PROG_GET_FD_BY_ID " + std::to_string(id) + "): " + std::strerror(errno));
    }
    const osl::UniqueFd fd(static_cast<int>(raw));
    bpf_prog_info info{};
    bpf_attr get{};
    get.info.bpf_fd = static_cast<std::uint32_t>(fd.get());
    get.info.info_len = sizeof info;
    get.info.info = reinterpret_cast<std::uintptr_t>(&info);
    if (bpf(BPF_OBJ_GET_INFO_BY_FD, get) != 0)
      return std::unexpected("bpf(BPF_OBJ_GET_INFO_BY_FD " + std::to_string(id) + "): " + std::strerror(errno));
    const std::string name(info.name, ::strnlen(info.name, sizeof info.name));
    if (name.starts_with(prefix)) out[id] = {name, info.run_time_ns, info.run_cnt};
  }
}

}  // namespace airssys::daemoneye::bench
