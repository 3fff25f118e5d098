// The stdout sink: one line per alert, human or JSON, each line one write(2)
// so that lines from other writers of the same pipe never split one.
//
// A reader that stops reading (a pipe or FIFO whose other end sleeps, a
// terminal held with Ctrl-S) must not stop the agent: the sink never
// blocks. Its writes are non-blocking and one batch waits at most
// kBatchBudget for room; what is not written by then is counted as failed
// (logged once per outage) and, while the outage lasts, later batches wait
// no longer at all, so scans and SIGTERM go on as if the sink were not
// there. O_NONBLOCK is never set on the inherited descriptor itself: it is
// shared with whoever else holds it (the shell, the other end's parent).
// Instead a pipe, FIFO or terminal is opened again through
// /proc/self/fd/N for each batch (a description of our own, O_NONBLOCK); a socket
// (systemd's journal stream) is written with send(MSG_DONTWAIT); a regular
// file or a block device is written as it is (a slow disk delays briefly,
// as the file sink's does). If the reopen fails (no /proc, a pipe or
// terminal of another user the agent may write but not open), each write
// waits for room with poll() first, within the same budget, and writes at
// most PIPE_BUF bytes: once poll says a pipe has room (one free page) that
// much goes in without blocking, so a line larger than the pipe's free space
// is written in pieces, and what the budget leaves unwritten is kept as on
// the main path. (Another writer filling the pipe between our poll and our
// write can still make that one write wait; so can a terminal with less than
// PIPE_BUF of room.)
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <airssys/osl/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>  // PIPE_BUF
#include <chrono>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "alert_sink.hpp"

namespace airssys::daemoneye::detail {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::milliseconds kBatchBudget{500};

enum class Way : std::uint8_t { plain, own_nonblocking, send_dontwait, poll_first };

class StdoutSink final : public Sink {
 public:
  StdoutSink(SinkFormat format, int fd, std::shared_ptr<SinkCounters> counters, SinkLog log)
      : format_(format), fd_(fd), report_("stdout sink", std::move(counters), std::move(log)) {}

  void deliver(std::span<const Delivery> batch) override {
    choose_way();
    // While the reader is stuck, a batch only tries: no wait at all.
    const auto deadline = Clock::now() + (stalled_ ? std::chrono::milliseconds(0) : kBatchBudget);
    std::uint64_t failed = 0;
    int first_error = 0;
    // A line begun in an earlier batch is finished first: a line is never
    // cut (a JSON reader would get a broken object).
    if (!pending_.empty()) {
      std::size_t written = 0;
      first_error = write_line(pending_, deadline, written);
      pending_.erase(0, written);
    }
    for (const Delivery& d : batch) {
      if (first_error != 0) {  // the pending tail or time ran out: the rest is not tried
        ++failed;
        continue;
      }
      std::string line = render(d, format_);
      line += '\n';
      std::size_t written = 0;
      const int err = write_line(line, deadline, written);
      if (err == 0) continue;
      first_error = err;
      if (written > 0) {
        pending_ = line.substr(written);  // kept (one line at most) and finished by a later batch
      } else {
        ++failed;
      }
    }
    own_.reset();
    if (first_error == 0) {
      stalled_ = false;
      report_.succeeded();
      return;
    }
    stalled_ = first_error == ETIMEDOUT;
    report_.failed(first_error == ETIMEDOUT
                       ? fmt::format("stdout is not being read: nothing more could be written for {} ms",
                                     kBatchBudget.count())
                       : fmt::format("write failed: {}", std::strerror(first_error)),
                   failed);
  }

 private:
  // How this batch writes to fd_. The description of our own is opened per
  // batch and closed after it, so that the sink never holds the pipe open
  // on its own (a reader waiting for EOF gets it when fd_ is closed).
  void choose_way() {
    own_.reset();
    way_ = Way::plain;
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) return;
    if (S_ISSOCK(st.st_mode)) {
      way_ = Way::send_dontwait;
      return;
    }
    const int flags = ::fcntl(fd_, F_GETFL);
    // Opened again only as the agent was given it: a read-only fd 1 (a
    // pipe's read end) must not become a writable one through /proc. It is
    // written as it is, so the write fails at once (EBADF) — not
    // Way::poll_first: a pipe's read end never reports POLLOUT, and the
    // batch would wait out its budget and be taken for a stalled reader.
    if (flags < 0 || (flags & O_ACCMODE) == O_RDONLY) return;
    const std::string self = fmt::format("/proc/self/fd/{}", fd_);
    own_.reset(::open(self.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | (flags & O_APPEND)));
    // The same file as fd_, not one put at that path since.
    struct stat again {};
    if (own_ && ::fstat(own_.get(), &again) == 0 && again.st_dev == st.st_dev && again.st_ino == st.st_ino) {
      way_ = Way::own_nonblocking;
    } else {
      own_.reset();
      way_ = Way::poll_first;
    }
  }

  // One write (or send) of what is left; -1 with errno as write(2).
  ssize_t write_some(std::string_view rest) {
    switch (way_) {
      case Way::send_dontwait:
        return ::send(fd_, rest.data(), rest.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      case Way::own_nonblocking:
        return ::write(own_.get(), rest.data(), rest.size());
      case Way::plain:
        return ::write(fd_, rest.data(), rest.size());
      case Way::poll_first:
        // fd_ blocks: no more than fits once poll() reported room.
        return ::write(fd_, rest.data(), std::min<std::size_t>(rest.size(), PIPE_BUF));
    }
    return -1;
  }

  // Waits until the descriptor takes more or `deadline` passes. Past the
  // deadline it still looks once without waiting: a batch of a stalled
  // outage (no budget) must find the room a reader has made meanwhile, as
  // Way::poll_first asks before every write.
  bool wait_for_room(Clock::time_point deadline) const {
    const int fd = way_ == Way::own_nonblocking ? own_.get() : fd_;
    for (;;) {
      const auto left = std::max(std::chrono::milliseconds(0),
                                 std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()));
      pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
      const int n = ::poll(&p, 1, static_cast<int>(left.count()));
      if (n < 0 && errno == EINTR) continue;
      return n > 0;  // ready, or an error/hang-up the next write reports
    }
  }

  // 0, ETIMEDOUT when the deadline passed with the line not all written, or
  // the errno of the failed write; `written`: how far it got.
  int write_line(std::string_view line, Clock::time_point deadline, std::size_t& written) {
    written = 0;
    while (written < line.size()) {
      if (way_ == Way::poll_first && !wait_for_room(deadline)) return ETIMEDOUT;
      const ssize_t n = write_some(line.substr(written));
      if (n > 0) {
        written += static_cast<std::size_t>(n);
        continue;
      }
      if (n == 0) return EIO;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
      if (!wait_for_room(deadline)) return ETIMEDOUT;
    }
    return 0;
  }

  SinkFormat format_;
  int fd_;
  osl::UniqueFd own_;  // Way::own_nonblocking, during a batch: our own description of fd_'s pipe or terminal
  Way way_ = Way::plain;
  FailureReporter report_;
  std::string pending_;   // the unwritten end of a line begun: written first by the next batch
  bool stalled_ = false;  // the last batch ran out of time
};

}  // namespace

std::unique_ptr<Sink> make_stdout_sink(SinkFormat format, int fd, std::shared_ptr<SinkCounters> counters, SinkLog log) {
  return std::make_unique<StdoutSink>(format, fd, std::move(counters), std::move(log));
}

}  // namespace airssys::daemoneye::detail
