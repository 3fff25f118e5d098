// Tier selection and the helpers the kernel sources share (kernel_events.hpp).

#include <airssys/daemoneye/kernel_events.hpp>

#include <fmt/format.h>

#include <ctime>

namespace airssys::daemoneye {

Result<TierRequest> tier_request_from(std::string_view s) {
  if (s == "auto") return TierRequest::automatic;
  if (s == "ebpf") return TierRequest::ebpf;
  if (s == "proc_connector") return TierRequest::proc_connector;
  if (s == "poll") return TierRequest::poll;
  return fail(ErrorCategory::invalid_input, fmt::format("unknown event source '{}' (auto, ebpf, proc_connector or poll)", s));
}

SourceChoice open_event_source(TierRequest request, const KernelSourceOptions& options) {
  SourceChoice choice;
  auto refused = [&](std::string_view tier, const std::string& why) {
    if (!choice.reason.empty()) choice.reason += "; ";
    choice.reason += fmt::format("{}: {}", tier, why);
  };
  if (request == TierRequest::poll) {
    choice.reason = "polling only, as configured";
    return choice;
  }
  if (request == TierRequest::automatic || request == TierRequest::ebpf) {
    auto s = open_ebpf_source(options);
    if (s) {
      choice.source = std::move(*s);
      choice.tier = EventSource::ebpf;
      return choice;
    }
    refused("ebpf", s.error().message);
  } else {
    refused("ebpf", "not tried (a lower tier was configured)");
  }
  auto s = open_proc_connector_source(options);
  if (s) {
    choice.source = std::move(*s);
    choice.tier = EventSource::proc_connector;
    return choice;
  }
  refused("proc_connector", s.error().message);
  return choice;
}

namespace {
std::int64_t ns_of(clockid_t clock) noexcept {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

std::int64_t unix_offset_ns(clockid_t clock) noexcept { return ns_of(CLOCK_REALTIME) - ns_of(clock); }

void split_wait_status(std::uint32_t status, std::int64_t& exit_code, std::int64_t& exit_signal) noexcept {
  if ((status & 0x7f) == 0) {
    exit_code = (status >> 8) & 0xff;
    exit_signal = -1;
  } else {
    exit_code = -1;
    exit_signal = status & 0x7f;
  }
}

}  // namespace airssys::daemoneye
