// Broker thread: epoll loop, accept with SO_PEERCRED admission, reads
// (one big read per ready connection per turn, many frames decoded from it)
// and writes (one send per dirty connection per turn, at the end of the turn,
// and mid-turn when a connection's output reaches its high-water mark).

#include "broker_impl.hpp"

#include <airssys/bus/subject.hpp>

#include <fcntl.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace airssys::bus {

using detail::Conn;
using detail::UniqueFd;

namespace {
constexpr std::uint64_t kListenerId = 0;
constexpr std::uint64_t kWakeId = 1;
constexpr std::size_t kReadChunk = 256 * 1024;
constexpr std::size_t kKeepBuffer = 1024 * 1024;  // shrink buffers grown past this once idle
constexpr std::chrono::milliseconds kPollBackoff{100};  // no busy_poll after losing the core while polling
// A poll (epoll_wait with no timeout, then sched_yield) that took longer than
// this lost the core to another process: a client the broker woke on its own
// core runs for microseconds before it blocks again, a competing process for
// a scheduler slice (milliseconds).
constexpr std::chrono::microseconds kLostCore{200};

// Members of the first allowed group must reach the socket through the
// filesystem too (docs/bus.md "Authentication and permissions").
std::optional<gid_t> socket_group(const BrokerOptions& o) {
  return o.allowed_gids.empty() ? std::nullopt : std::optional<gid_t>(o.allowed_gids.front());
}

}  // namespace

std::expected<void, Error> Broker::check_directory(const BrokerOptions& options) {
  if (options.socket_path.empty()) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "no socket path"));
  return detail::check_private_dir(options.socket_path.lexically_normal().parent_path(), socket_group(options));
}

std::expected<std::unique_ptr<Broker>, Error> Broker::start(BrokerOptions options) {
  if (options.socket_path.empty()) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "no socket path"));
  if (options.max_frame_bytes < 64 || options.max_frame_bytes > (1u << 30))
    return std::unexpected(Error::make(ErrorCategory::invalid_argument, "max_frame_bytes must be within [64, 1 GiB]"));
  for (const Permission& p : options.permissions) {
    for (const auto* list : {&p.publish, &p.subscribe})
      for (const std::string& pat : *list)
        if (auto v = validate_subscribe_subject(pat); !v)
          return std::unexpected(Error::make(ErrorCategory::invalid_subject, "permission for uid " + std::to_string(p.uid) +
                                                                          ": " + v.error().message));
  }
  auto impl = std::make_unique<Impl>();
  impl->opt = std::move(options);
  BrokerOptions& o = impl->opt;
  if (o.allowed_uids.empty() && o.allowed_gids.empty()) o.allowed_uids = {::geteuid(), 0};
  for (const Permission& p : o.permissions) impl->perms[p.uid] = p;
  o.socket_path = o.socket_path.lexically_normal();
  const std::optional<gid_t> group = socket_group(o);
  if (auto d = detail::ensure_private_dir(o.socket_path.parent_path(), group); !d) return std::unexpected(d.error());
  auto lfd = detail::listen_unix(o.socket_path, 1024, group);
  if (!lfd) return std::unexpected(lfd.error());
  impl->listen_fd = std::move(*lfd);
  struct stat st {};
  if (::fstatat(AT_FDCWD, o.socket_path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    impl->sock_dev = st.st_dev;
    impl->sock_ino = st.st_ino;
  }
  impl->epoll_fd = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
  impl->wake_fd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl->reserve_fd = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!impl->epoll_fd || !impl->wake_fd) return std::unexpected(Error::from_errno(errno, "epoll/eventfd"));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerId;
  ::epoll_ctl(impl->epoll_fd.get(), EPOLL_CTL_ADD, impl->listen_fd.get(), &ev);
  ev.data.u64 = kWakeId;
  ::epoll_ctl(impl->epoll_fd.get(), EPOLL_CTL_ADD, impl->wake_fd.get(), &ev);
  Impl* raw = impl.get();
  impl->thread = std::thread([raw] { raw->run(); });
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() { stop(); }
const std::filesystem::path& Broker::socket_path() const noexcept { return impl_->opt.socket_path; }

void Broker::stop() {
  std::lock_guard lk(impl_->stop_mu);
  if (impl_->stopped) return;
  impl_->stopped = true;
  impl_->stopping.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  (void)!::write(impl_->wake_fd.get(), &one, sizeof one);
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->conns.clear();
  impl_->listen_fd.reset();
  // Unlink only the socket we created (a successor may own the path now).
  struct stat st {};
  if (::lstat(impl_->opt.socket_path.c_str(), &st) == 0 && st.st_dev == impl_->sock_dev && st.st_ino == impl_->sock_ino)
    ::unlink(impl_->opt.socket_path.c_str());
}

void Broker::Impl::log(const std::string& line) const {
  if (opt.log) {
    opt.log(line);
  } else {
    std::fprintf(stderr, "airssys-bus: %s\n", line.c_str());
  }
}

bool Broker::Impl::in_allowed_group(int fd, gid_t primary) const {
  const auto allowed = [&](gid_t g) {
    return std::find(opt.allowed_gids.begin(), opt.allowed_gids.end(), g) != opt.allowed_gids.end();
  };
  if (opt.allowed_gids.empty()) return false;
  if (allowed(primary)) return true;
  // Supplementary groups too: the group that may open the socket (0660) is
  // usually a supplementary one.
  std::vector<gid_t> groups(64);
  socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) {
    if (errno != ERANGE) return false;
    groups.resize(len / sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) != 0) return false;
  }
  groups.resize(len / sizeof(gid_t));
  return std::any_of(groups.begin(), groups.end(), allowed);
}

std::string Broker::Impl::who(const Conn& c) const {
  return "connection " + std::to_string(c.id) + " (uid " + std::to_string(c.cred.uid) + ", pid " +
         std::to_string(c.cred.pid) + ")";
}

void Broker::Impl::run() {
  std::vector<epoll_event> evs(256);
  using clock = std::chrono::steady_clock;
  // BrokerOptions::busy_poll: unset polls after request/reply turns only
  // (publish() sets request_reply_turn), 0 never, N after every turn.
  const bool never_poll = opt.busy_poll && opt.busy_poll->count() == 0;
  const bool every_turn = opt.busy_poll && opt.busy_poll->count() > 0;
  const auto window = std::chrono::duration_cast<clock::duration>(opt.busy_poll.value_or(kRequestReplyPoll));
  // While now < poll_until the loop polls instead of sleeping. Polling pays
  // only on an idle machine (a wake-up from idle is what it saves); on a
  // busy one it takes the core from the threads it waits for. Between polls
  // the loop yields: a client this broker just woke, placed on its core (a
  // sync wake-up), runs at once, and the whole request stays on one core
  // without a wake-up from idle. A poll that lost the core for longer than
  // kLostCore (another process ran) ends polling for kPollBackoff. (Until
  // session 12 any involuntary context switch did, and the yields to the
  // woken clients are counted as such: polling was off in exactly the state
  // where it helps; docs/BENCHMARKS.md.)
  clock::time_point poll_until{}, no_poll_until{}, polled_at{};
  bool polling = false;
  while (true) {
    if (polling) {
      polled_at = clock::now();
      polling = polled_at < poll_until;
    }
    if (polling) ++polls;
    const int n = ::epoll_wait(epoll_fd.get(), evs.data(), static_cast<int>(evs.size()), polling ? 0 : -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      log(std::string("epoll_wait: ") + std::strerror(errno));
      return;
    }
    if (n == 0) {
      if (polling) {
        ::sched_yield();
        const auto now = clock::now();
        if (now - polled_at > kLostCore) {
          polling = false;
          no_poll_until = now + kPollBackoff;
          ++poll_backoffs;
        }
      }
      continue;
    }
    request_reply_turn = false;
    for (int i = 0; i < n; ++i) {
      const std::uint64_t id = evs[i].data.u64;
      if (id == kListenerId) {
        accept_all();
        continue;
      }
      if (id == kWakeId) {
        if (stopping.load(std::memory_order_acquire)) return;
        continue;
      }
      const auto it = conns.find(id);
      if (it == conns.end() || it->second->closing) continue;
      Conn& c = *it->second;
      if (evs[i].events & EPOLLOUT) {
        c.writable = true;
        if (!c.dirty) {
          c.dirty = true;
          dirty.push_back(&c);
        }
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
    for (Conn* c : dirty) {
      c->dirty = false;
      if (!c->closing) flush(*c);
    }
    dirty.clear();
    for (const std::uint64_t id : to_close) close_now(id);
    to_close.clear();
    if (!never_poll && (every_turn || request_reply_turn)) {
      ++poll_turns;
      const auto now = clock::now();
      if (!polling && now >= no_poll_until) polling = true;
      if (polling) poll_until = now + window;
    }
  }
}

void Broker::Impl::accept_all() {
  while (true) {
    UniqueFd fd(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE) {
        // Out of fds: accept with the reserve fd freed and close at once, so
        // the listener does not stay readable and spin the loop.
        log("accept: out of file descriptors; refusing a connection");
        reserve_fd.reset();
        UniqueFd drop(::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
        drop.reset();
        reserve_fd = UniqueFd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
      } else if (errno != EAGAIN && errno != ECONNABORTED) {
        log(std::string("accept: ") + std::strerror(errno));
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      log(std::string("SO_PEERCRED: ") + std::strerror(errno));
      continue;
    }
    const bool admitted =
        std::find(opt.allowed_uids.begin(), opt.allowed_uids.end(), cred.uid) != opt.allowed_uids.end() ||
        in_allowed_group(fd.get(), cred.gid);
    std::string refusal;
    if (!admitted) {
      refusal = "not authorized: uid " + std::to_string(cred.uid) + " gid " + std::to_string(cred.gid) +
                " is not admitted by this broker";
    } else if (conns.size() >= opt.max_connections) {
      refusal = "too many connections (limit " + std::to_string(opt.max_connections) + ")";
    }
    if (!refusal.empty()) {
      ++refused;
      log("refused pid " + std::to_string(cred.pid) + ": " + refusal);
      detail::ByteBuffer b;
      detail::Frame f;
      f.op = detail::Op::err;
      f.text = refusal;
      detail::encode_frame(b, f);
      (void)!::send(fd.get(), b.data(), b.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      continue;
    }
    // A larger kernel send buffer (best effort; capped by net.core.wmem_max)
    // lets bursts go out without parking them in subscription queues.
    const int sndbuf = 1 << 20;
    (void)::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    auto c = std::make_unique<Conn>(opt.max_frame_bytes);
    c->id = next_id++;
    c->cred = cred;
    if (const auto p = perms.find(cred.uid); p != perms.end()) c->perm = &p->second;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = c->id;
    if (::epoll_ctl(epoll_fd.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) {
      log(std::string("epoll_ctl: ") + std::strerror(errno));
      continue;
    }
    c->fd = std::move(fd);
    ++accepted;
    conns.emplace(c->id, std::move(c));
  }
}

void Broker::Impl::on_readable(Conn& c) {
  char* p = c.in.prepare(kReadChunk);
  const ssize_t n = ::read(c.fd.get(), p, kReadChunk);
  if (n == 0) {
    close_later(c, "");  // the peer closed: normal, not logged
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    close_later(c, std::string("read: ") + std::strerror(errno));
    return;
  }
  c.in.commit(static_cast<std::size_t>(n));
  c.bytes_in += static_cast<std::uint64_t>(n);
  detail::Frame f;  // reused: decoding writes every field
  while (!c.closing) {
    auto got = c.in.next(f);
    if (!got) {
      ++protocol_errors;
      close_later(c, got.error().to_string());
      return;
    }
    if (!*got) break;
    handle(c, f);
  }
  c.in.shrink_if_above(kKeepBuffer);
}

void Broker::Impl::flush(Conn& c) {
  if (c.writable) {
    while (true) {
      refill(c);
      if (c.out.empty()) break;
      const ssize_t n = ::send(c.fd.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          c.writable = false;
          break;
        }
        close_later(c, errno == EPIPE || errno == ECONNRESET ? std::string() : std::string("write: ") + std::strerror(errno));
        return;
      }
      c.bytes_out += static_cast<std::uint64_t>(n);
      c.out.consume(static_cast<std::size_t>(n));
      if (!c.out.empty()) {
        c.writable = false;  // the socket buffer is full
        break;
      }
      if (c.backlog.empty()) break;
    }
  }
  set_epollout(c, !c.writable);
  c.out.shrink_if_above(kKeepBuffer);
}

void Broker::Impl::set_epollout(Conn& c, bool on) {
  if (c.epollout == on) return;
  epoll_event ev{};
  ev.events = EPOLLIN | (on ? EPOLLOUT : 0u);
  ev.data.u64 = c.id;
  ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
  c.epollout = on;
}

void Broker::Impl::close_later(Conn& c, const std::string& reason) {
  if (c.closing) return;
  c.closing = true;
  if (!reason.empty()) log("closing " + who(c) + ": " + reason);
  to_close.push_back(c.id);
}

void Broker::Impl::close_now(std::uint64_t id) {
  const auto it = conns.find(id);
  if (it == conns.end()) return;
  Conn& c = *it->second;
  for (auto& [sid, s] : c.subs) {
    index.erase(s->subject, s.get());
    release_inbox(c, s->subject);
    unqueue(c, s->q.bytes());
  }
  if (!c.subs.empty()) invalidate_routes();
  ::epoll_ctl(epoll_fd.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
  conns.erase(it);
}

}  // namespace airssys::bus
