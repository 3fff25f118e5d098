// The proc connector tier (kernel_events.hpp): the kernel's fork/exec/exit
// notifications over netlink (NETLINK_CONNECTOR, CN_IDX_PROC). They carry
// pids and exit status only; the event assembler reads the rest from /proc.

#include <airssys/daemoneye/kernel_events.hpp>
#include <airssys/osl/unique_fd.hpp>

#include "capabilities.hpp"

#include <fmt/format.h>
#include <linux/capability.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>

namespace airssys::daemoneye {
namespace {

// One listen/ignore request: netlink header, connector header, the op.
Result<void> send_op(int fd, proc_cn_mcast_op op) {
  constexpr std::size_t kSize = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(proc_cn_mcast_op));
  alignas(nlmsghdr) unsigned char buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(proc_cn_mcast_op))]{};
  auto* header = reinterpret_cast<nlmsghdr*>(buf);
  header->nlmsg_len = kSize;
  header->nlmsg_type = NLMSG_DONE;
  header->nlmsg_pid = static_cast<__u32>(::getpid());
  cn_msg message{};
  message.id.idx = CN_IDX_PROC;
  message.id.val = CN_VAL_PROC;
  message.len = sizeof op;
  std::memcpy(NLMSG_DATA(header), &message, sizeof message);
  std::memcpy(static_cast<unsigned char*>(NLMSG_DATA(header)) + sizeof message, &op, sizeof op);
  if (::send(fd, buf, kSize, 0) != static_cast<ssize_t>(kSize)) {
    return fail_errno(errno, "subscribing failed");
  }
  return {};
}

class ProcConnectorSource final : public KernelEventSource {
 public:
  explicit ProcConnectorSource(osl::UniqueFd fd) : fd_(std::move(fd)) {}
  ~ProcConnectorSource() override { (void)send_op(fd_.get(), PROC_CN_MCAST_IGNORE); }

  [[nodiscard]] EventSource kind() const noexcept override { return EventSource::proc_connector; }
  [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
  [[nodiscard]] std::uint64_t lost() const noexcept override { return overruns_; }

  // Waits up to `timeout` for the kernel's answer to our listen request:
  // an error there (no privilege) refuses the tier.
  Result<void> await_ack(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return {};  // no answer: some kernels do not send one
      pollfd p{fd_.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      bool acked = false;
      int err = 0;
      auto r = read_batch([&](const proc_event& ev) {
        if (ev.what == proc_event::PROC_EVENT_NONE) {
          acked = true;
          err = static_cast<int>(ev.event_data.ack.err);
        }
      });
      if (!r) return std::unexpected(r.error());
      if (acked) {
        if (err != 0) return fail_errno(err, "the kernel refused the subscription");
        return {};
      }
    }
  }

  Result<std::size_t> drain(const std::function<void(KernelEvent&&)>& sink) override {
    const std::int64_t offset = unix_offset_ns(CLOCK_MONOTONIC);
    std::size_t count = 0;
    for (;;) {
      auto r = read_batch([&](const proc_event& ev) {
        KernelEvent k;
        if (!convert(ev, offset, k)) return;
        ++count;
        sink(std::move(k));
      });
      if (!r) return std::unexpected(r.error());
      if (!*r) return count;  // nothing more to read now
    }
  }

 private:
  static bool convert(const proc_event& ev, std::int64_t offset, KernelEvent& k) {
    k.time_ns = static_cast<std::int64_t>(ev.timestamp_ns) + offset;
    switch (ev.what) {
      case proc_event::PROC_EVENT_FORK:
        if (ev.event_data.fork.child_pid != ev.event_data.fork.child_tgid) return false;  // a thread
        k.kind = KernelEvent::Kind::fork;
        k.pid = ev.event_data.fork.child_tgid;
        k.ppid = ev.event_data.fork.parent_tgid;
        return true;
      case proc_event::PROC_EVENT_EXEC:
        k.kind = KernelEvent::Kind::exec;
        k.pid = ev.event_data.exec.process_tgid;
        return true;
      case proc_event::PROC_EVENT_EXIT:
        if (ev.event_data.exit.process_pid != ev.event_data.exit.process_tgid) return false;  // a thread
        k.kind = KernelEvent::Kind::exit;
        k.pid = ev.event_data.exit.process_tgid;
        k.ppid = ev.event_data.exit.parent_tgid;
        // exit_code is the wait status; exit_signal is the signal the
        // parent gets (SIGCHLD), not what killed it.
        split_wait_status(ev.event_data.exit.exit_code, k.exit_code, k.exit_signal);
        return true;
      default:
        return false;
    }
  }

  // Reads one datagram (non-blocking) and hands each proc_event in it to
  // `each`. False when nothing was waiting. ENOBUFS (the socket's queue
  // overflowed: events were lost) is counted, not an error.
  template <class F>
  Result<bool> read_batch(F&& each) {
    alignas(nlmsghdr) char buf[16384];
    sockaddr_nl from{};
    socklen_t from_len = sizeof from;
    const ssize_t n = ::recvfrom(fd_.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
      if (errno == ENOBUFS) {
        ++overruns_;
        return true;
      }
      return fail_errno(errno, "reading the proc connector failed");
    }
    if (from.nl_pid != 0) return true;  // only the kernel speaks on this socket
    int len = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, static_cast<unsigned>(len)); h = NLMSG_NEXT(h, len)) {
      if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_NOOP) continue;
      const auto* msg = static_cast<const cn_msg*>(NLMSG_DATA(h));
      if (msg->id.idx != CN_IDX_PROC || msg->id.val != CN_VAL_PROC) continue;
      if (msg->len < sizeof(proc_event) - sizeof(proc_event::event_data) + 4) continue;
      proc_event ev{};
      std::memcpy(&ev, msg->data, std::min<std::size_t>(msg->len, sizeof ev));
      each(ev);
    }
    return true;
  }

  osl::UniqueFd fd_;
  std::uint64_t overruns_ = 0;
};

}  // namespace

Result<std::unique_ptr<KernelEventSource>> open_proc_connector_source(const KernelSourceOptions&) {
  if (!has_effective_capability(CAP_NET_ADMIN)) {
    return fail(ErrorCategory::denied, "joining the process connector needs CAP_NET_ADMIN");
  }
  osl::UniqueFd fd(::socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR));
  if (!fd) return fail_errno(errno, "netlink connector socket");
  // A large receive queue rides out bursts (SO_RCVBUFFORCE needs
  // CAP_NET_ADMIN, which this tier needs anyway).
  const int bytes = 8 << 20;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno == EPERM || errno == EACCES) {
      const int err = errno;
      return std::unexpected(Error{ErrorCategory::denied, err,
                                   fmt::format("joining the process connector was refused ({}): it needs CAP_NET_ADMIN",
                                               std::strerror(err))});
    }
    return fail_errno(errno, "binding the netlink connector socket failed");
  }
  auto source = std::make_unique<ProcConnectorSource>(std::move(fd));
  if (auto r = send_op(source->fd(), PROC_CN_MCAST_LISTEN); !r) return std::unexpected(r.error());
  if (auto r = source->await_ack(std::chrono::milliseconds(500)); !r) {
    Error e = r.error();
    e.message += " (it needs CAP_NET_ADMIN)";
    return std::unexpected(std::move(e));
  }
  return source;
}

}  // namespace airssys::daemoneye
