#pragma once
// procmond's real-time event thread: reads the kernel source chosen at start
// (kernel_events.hpp), assembles each event (event_assembler.hpp) and
// publishes it on the bus at once, so a process that lives 1 ms is in the
// agent's process_events within milliseconds, not at the next collection.
//
// Threads: the thread starts in the constructor and is stopped (and joined)
// by the destructor. counters() may be read from any thread.

#include <airssys/bus/client.hpp>
#include <airssys/daemoneye/event_assembler.hpp>
#include <airssys/daemoneye/kernel_events.hpp>
#include <airssys/osl/unique_fd.hpp>

#include <atomic>
#include <mutex>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace airssys::daemoneye::procmond {

class RealtimeEvents {
 public:
  // `source` must not be null. `assembler` and `client` must outlive this.
  RealtimeEvents(std::unique_ptr<KernelEventSource> source, EventAssembler& assembler, bus::Client& client);
  ~RealtimeEvents();
  RealtimeEvents(const RealtimeEvents&) = delete;
  RealtimeEvents& operator=(const RealtimeEvents&) = delete;

  [[nodiscard]] EventSource tier() const noexcept { return tier_; }
  // False once the source failed (the reason in failure()); polling goes on.
  [[nodiscard]] bool running() const noexcept { return !failed_.load(); }
  [[nodiscard]] std::string failure() const;
  [[nodiscard]] SourceCounters counters() const noexcept;

 private:
  void run();

  std::unique_ptr<KernelEventSource> source_;
  EventAssembler& assembler_;
  bus::Client& client_;
  EventSource tier_;
  osl::UniqueFd stop_;  // eventfd: written by the destructor
  std::atomic<std::uint64_t> published_{0};
  std::atomic<std::uint64_t> lost_{0};
  std::atomic<std::uint64_t> refused_{0};  // publishes the bus refused (dropped)
  std::atomic<bool> failed_{false};
  mutable std::mutex failure_mutex_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace airssys::daemoneye::procmond
