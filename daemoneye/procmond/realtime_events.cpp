#include "realtime_events.hpp"

#include <airssys/daemoneye/burst_trim.hpp>
#include <airssys/daemoneye/snapshot_chunks.hpp>
#include <airssys/osl/detail/stderr_message.hpp>

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>
#include <cstdio>
#include <cstring>

namespace airssys::daemoneye::procmond {

namespace {
// What batching adds to an event's latency at most (docs/daemoneye.md
// "Event sources"; the agent adds its own 10 ms store delay).
constexpr std::chrono::milliseconds kBatchWindow{2};
}  // namespace

RealtimeEvents::RealtimeEvents(std::unique_ptr<KernelEventSource> source, EventAssembler& assembler,
                               bus::Client& client)
    : source_(std::move(source)),
      assembler_(assembler),
      client_(client),
      tier_(source_->kind()),
      stop_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  thread_ = std::thread([this] { run(); });
}

RealtimeEvents::~RealtimeEvents() {
  const std::uint64_t one = 1;
  if (::write(stop_.get(), &one, sizeof one) < 0) {
    // An eventfd write fails only on overflow; the thread still sees it readable.
  }
  if (thread_.joinable()) thread_.join();
}

std::string RealtimeEvents::failure() const {
  std::lock_guard lock(failure_mutex_);
  return failure_;
}

SourceCounters RealtimeEvents::counters() const noexcept {
  return SourceCounters{.events = published_.load(), .dropped = refused_.load(), .lost = lost_.load()};
}

void RealtimeEvents::run() {
  BurstTrim trim;  // the heap a burst grew is given back when it ends
  std::uint64_t outage_refused = 0;
  const auto sink = [this, &trim, &outage_refused](KernelEvent&& k) {
    auto e = assembler_.assemble(std::move(k), tier_);
    if (!e) return;
    cap_for_wire(e->process);
    trim.count();
    // A publish the bus refuses (its per-connection buffer is full, or it
    // is reconnecting) is dropped: counted with the assembler's drops in
    // status.procmond, said once per outage; the next collection reports
    // what lives on.
    if (auto p = client_.publish(subject_of(e->kind), encode(*e)); p) {
      published_.fetch_add(1, std::memory_order_relaxed);
      if (outage_refused > 0) {
        airssys::osl::detail::print_stderr(
            "procmond: the bus takes real-time events again; {} were refused and dropped meanwhile\n",
            outage_refused);
        outage_refused = 0;
      }
    } else {
      refused_.fetch_add(1, std::memory_order_relaxed);
      if (outage_refused++ == 0) {
        airssys::osl::detail::print_stderr(
            "procmond: the bus refused a real-time event ({}): events are dropped until it takes them again "
            "(counted in status.procmond's dropped)\n",
            p.error().to_string());
      }
    }
  };
  pollfd fds[2] = {{source_->fd(), POLLIN, 0}, {stop_.get(), POLLIN, 0}};
  for (;;) {
    const int r = ::poll(fds, 2, 1000);
    if (r < 0 && errno != EINTR) {
      std::lock_guard lock(failure_mutex_);
      failure_ = fmt::format("{}: waiting for events failed: {}", to_string(tier_), std::strerror(errno));
      break;
    }
    if (fds[1].revents != 0) return;
    // Woken by the first event after a quiet spell: let a burst gather for
    // kBatchWindow and take it in one pass. The ring buffer wakes its reader
    // only when the reader had caught up, so under a steady stream this is
    // one wake-up per window instead of one per event (a wake-up and its
    // context switches cost more than assembling and publishing an event).
    if (fds[0].revents != 0) std::this_thread::sleep_for(kBatchWindow);
    auto n = source_->drain(sink);
    lost_.store(source_->lost(), std::memory_order_relaxed);
    if (r == 0) trim.quiet();  // a second without events
    if (!n) {
      std::lock_guard lock(failure_mutex_);
      failure_ = fmt::format("{}: {}", to_string(tier_), n.error().message);
      break;
    }
  }
  failed_.store(true);
  airssys::osl::detail::print_stderr("procmond: {} (real-time events stopped; polling goes on)\n", failure());
}

}  // namespace airssys::daemoneye::procmond
