#include "pidfd_watcher.hpp"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace airssys::rt_osl::detail {

PidfdWatcher& PidfdWatcher::instance() {
  // Deliberately leaked (the one owning raw pointer here, by design): a
  // function-local static would be destroyed at exit before any ActorSystem
  // created earlier (a global), whose ProcessActors then unwatch a destroyed
  // watcher and wait for exits no thread reports any more. Leaked, it outlives
  // them all; the OS reclaims its thread, fds and memory at process end.
  static PidfdWatcher* const w = new PidfdWatcher();  // NOLINT(cppcoreguidelines-owning-memory)
  return *w;
}

PidfdWatcher::PidfdWatcher()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (!epoll_ || !wake_) {
    // Without epoll/eventfd nothing can be watched; fail loudly rather than
    // leave actors waiting for exits that are never reported.
    std::perror("airssys-rt_osl: pidfd watcher");
    std::abort();
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &ev);
  thread_ = std::thread([this] { loop(); });
}

PidfdWatcher::~PidfdWatcher() {
  std::uint64_t one = 1;
  (void)!::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

std::expected<std::uint64_t, osl::Error> PidfdWatcher::watch(int pidfd, std::move_only_function<void(std::uint64_t)> on_exit) {
  osl::UniqueFd dup(::fcntl(pidfd, F_DUPFD_CLOEXEC, 0));
  if (!dup) return std::unexpected(osl::Error::from_errno(errno, "dup pidfd"));
  std::lock_guard lk(m_);
  const std::uint64_t id = next_id_++;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, dup.get(), &ev) != 0)
    return std::unexpected(osl::Error::from_errno(errno, "epoll_ctl(pidfd)"));
  entries_.emplace(id, Entry{std::move(dup), std::move(on_exit)});
  return id;
}

void PidfdWatcher::unwatch(std::uint64_t id) noexcept {
  std::move_only_function<void(std::uint64_t)> fn;  // destroyed outside the lock
  std::unique_lock lk(m_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    // Fired already: wait until its callback is over (never on the watcher
    // thread itself, where that would wait for ourselves).
    if (std::this_thread::get_id() != thread_.get_id()) ran_.wait(lk, [&] { return running_ != id; });
    return;
  }
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
  fn = std::move(it->second.on_exit);
  entries_.erase(it);
}

void PidfdWatcher::loop() {
  epoll_event evs[32];
  for (;;) {
    int n = ::epoll_wait(epoll_.get(), evs, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.u64 == 0) return;  // stop
      std::move_only_function<void(std::uint64_t)> fn;
      {
        std::lock_guard lk(m_);
        auto it = entries_.find(evs[i].data.u64);
        if (it == entries_.end()) continue;  // unwatched meanwhile
        (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, it->second.fd.get(), nullptr);
        fn = std::move(it->second.on_exit);
        entries_.erase(it);
        running_ = evs[i].data.u64;
      }
      if (fn) fn(evs[i].data.u64);
      fn = nullptr;  // its captures are released before unwatch() may return
      {
        std::lock_guard lk(m_);
        running_ = 0;
      }
      ran_.notify_all();
    }
  }
}

}  // namespace airssys::rt_osl::detail
