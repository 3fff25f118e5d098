#pragma once
// EventAssembler — turns what a kernel source reports (KernelEvent) into the
// ProcessEvents procmond publishes, and keeps the real-time and the polling
// views of the host from reporting the same thing twice.
//
//   fork → start   the child is the parent's last known record (same image
//                  and argv) with the child's pid, parent, ids, start
//   exec → exec    the kernel's path, argv (cmdline_column: redacted, cut,
//                  cmdline_truncated set) and ids over what was known of
//                  the process (cwd, root, tty …)
//   exit → stop    the last known record, with the exit code or signal
//
// A source that gives only pids (the proc connector), or an exec whose argv
// or absolute path the kernel could not give, is completed from /proc at
// once through `reader`; a process already gone keeps what the kernel gave.
//
// Budget: at most budget_per_second events are assembled per second (a
// token bucket holding one second's worth); the rest are dropped and
// counted — a fork bomb or an exec loop cannot grow procmond's memory or
// flood the agent. Dropped processes that live on are still caught by the
// next collection (they are not in the reported set, so the poll diff
// reports them).
//
// Known processes: the last collection plus what events reported since,
// minus what exited — bounded by the live processes (and max_known).
//
// Thread safety: every member may be called from any thread (one mutex):
// procmond calls assemble() on its event thread and learn()/filter() on
// its collection thread.

#include <airssys/daemoneye/collector.hpp>
#include <airssys/daemoneye/events.hpp>
#include <airssys/daemoneye/kernel_events.hpp>
#include <airssys/daemoneye/process_record.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace airssys::daemoneye {

struct EventAssemblerOptions {
  std::uint64_t budget_per_second = 10'000;
  std::size_t cmdline_max = 32 * 1024;
  std::size_t max_known = 1u << 20;  // known processes kept at most
};

class EventAssembler {
 public:
  // `reader` (may be null: no /proc reads) is used only under the
  // assembler's lock; give it a Collector of its own.
  EventAssembler(EventAssemblerOptions options, std::unique_ptr<Collector> reader);
  ~EventAssembler();
  EventAssembler(const EventAssembler&) = delete;
  EventAssembler& operator=(const EventAssembler&) = delete;

  // The event to publish, or nullopt when it is dropped (over budget) or
  // not a process event worth publishing.
  [[nodiscard]] std::optional<ProcessEvent> assemble(KernelEvent&& k, EventSource source);

  // Marks the start of a collection; pass the mark to learn() with it.
  [[nodiscard]] std::uint64_t mark() noexcept;
  // The collection begun at `mark` becomes what is known; what events
  // reported since `mark` is kept over it.
  void learn(std::span<const ProcessRecord> collection, std::uint64_t mark);
  // Removes from `poll_events` (the diff ending at the collection begun at
  // `mark`) what the real-time source has already reported, and forgets
  // what was reported before the previous mark.
  void filter_reported(std::vector<ProcessEvent>& poll_events, std::uint64_t mark);

  struct Counters {
    std::uint64_t assembled = 0;
    std::uint64_t dropped = 0;    // over budget
    std::uint64_t proc_reads = 0; // records completed from /proc
    std::size_t known = 0;
  };
  [[nodiscard]] Counters counters() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace airssys::daemoneye
