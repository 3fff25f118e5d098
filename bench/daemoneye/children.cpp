#include "children.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <unordered_map>
#include <utility>

extern char** environ;

namespace airssys::daemoneye::bench {
namespace {

// The table the signal handler walks: 0 = free, > 0 a pid to SIGKILL,
// < 0 minus a pid to SIGTERM and wait for. Written by the main thread only;
// lock-free atomics are safe to read from a signal handler.
constexpr std::size_t kSlots = 65536;
std::array<std::atomic<pid_t>, kSlots> g_slots{};
std::unordered_map<pid_t, std::size_t> g_slot_of;  // main thread only
std::vector<std::size_t> g_free;                    // main thread only
std::size_t g_next = 0;

static_assert(std::atomic<pid_t>::is_always_lock_free);

void track(pid_t pid, EndWith end) {
  std::size_t slot;
  if (!g_free.empty()) {
    slot = g_free.back();
    g_free.pop_back();
  } else if (g_next < kSlots) {
    slot = g_next++;
  } else {
    return;  // more children than pid_max allows: cannot happen on Linux's default limits
  }
  g_slots[slot].store(end == EndWith::sigkill ? pid : -pid);
  g_slot_of[pid] = slot;
}

void untrack(pid_t pid) {
  auto it = g_slot_of.find(pid);
  if (it == g_slot_of.end()) return;
  g_slots[it->second].store(0);
  g_free.push_back(it->second);
  g_slot_of.erase(it);
}

void on_signal(int sig) {
  const int saved = errno;
  for (auto& s : g_slots) {
    const pid_t v = s.load();
    if (v > 0) ::kill(v, SIGKILL);
    if (v < 0) ::kill(-v, SIGTERM);
  }
  for (auto& s : g_slots) {
    const pid_t v = s.load();
    if (v < 0) ::waitpid(-v, nullptr, 0);
  }
  errno = saved;
  // The handler was installed with SA_RESETHAND: this ends the process with
  // the signal, so the caller sees how it ended.
  ::raise(sig);
}

int wait_status(pid_t pid) noexcept {
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return st;
}

// Both objects are destroyed on every return path (RAII for the spawn attrs).
struct SpawnAttrs {
  posix_spawn_file_actions_t fa{};
  posix_spawnattr_t attr{};
  SpawnAttrs() {
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
  }
  ~SpawnAttrs() {
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
  }
  SpawnAttrs(const SpawnAttrs&) = delete;
  SpawnAttrs& operator=(const SpawnAttrs&) = delete;
};

void redirect(SpawnAttrs& a, int fd, const std::string& path) {
  const int flags = path == "/dev/null" ? O_WRONLY : (O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW);
  posix_spawn_file_actions_addopen(&a.fa, fd, path.c_str(), flags, 0600);
}

// The children start with default signal dispositions and an empty mask,
// whatever the benchmark had.
void reset_signals(SpawnAttrs& a, short extra_flags) {
  sigset_t all, none;
  sigfillset(&all);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&a.attr, &all);
  posix_spawnattr_setsigmask(&a.attr, &none);
  posix_spawnattr_setflags(&a.attr,
                           static_cast<short>(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | extra_flags));
}

}  // namespace

void install_cleanup_handler() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

std::string sleeper_marker() { return "daemoneye-bench-sleeper-" + std::to_string(::getpid()); }

std::expected<Sleepers, std::string> Sleepers::spawn(std::size_t count, unsigned seconds) {
  install_cleanup_handler();
  Sleepers s;
  s.pids_.reserve(count);
  const std::string marker = sleeper_marker();
  const std::string secs = std::to_string(seconds);
  char* argv[] = {const_cast<char*>(marker.c_str()), const_cast<char*>(secs.c_str()), nullptr};
  pid_t group = 0;
  for (std::size_t i = 0; i < count; ++i) {
    SpawnAttrs a;
    redirect(a, 0, "/dev/null");
    redirect(a, 1, "/dev/null");
    redirect(a, 2, "/dev/null");
    reset_signals(a, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&a.attr, group);
    pid_t pid = 0;
    if (const int rc = posix_spawn(&pid, "/bin/sleep", &a.fa, &a.attr, argv, environ); rc != 0) {
      return std::unexpected("sleeper " + std::to_string(i + 1) + " of " + std::to_string(count) +
                             ": posix_spawn /bin/sleep: " + std::strerror(rc));
    }
    track(pid, EndWith::sigkill);
    s.pids_.push_back(pid);
    if (group == 0) group = pid;
  }
  return s;
}

Sleepers::Sleepers(Sleepers&& o) noexcept : pids_(std::exchange(o.pids_, {})) {}

Sleepers& Sleepers::operator=(Sleepers&& o) noexcept {
  if (this != &o) {
    kill_all();
    pids_ = std::exchange(o.pids_, {});
  }
  return *this;
}

Sleepers::~Sleepers() { kill_all(); }

void Sleepers::kill_all() noexcept {
  for (pid_t p : pids_) ::kill(p, SIGKILL);
  for (pid_t p : pids_) {
    untrack(p);
    (void)wait_status(p);
  }
  pids_.clear();
}

std::expected<Child, std::string> Child::spawn(const std::vector<std::string>& argv, EndWith end,
                                               const SpawnOptions& options, const std::string& argv0) {
  install_cleanup_handler();
  if (argv.empty()) return std::unexpected(std::string("Child::spawn: empty argv"));
  std::vector<char*> args;
  args.push_back(const_cast<char*>(argv0.empty() ? argv[0].c_str() : argv0.c_str()));
  for (std::size_t i = 1; i < argv.size(); ++i) args.push_back(const_cast<char*>(argv[i].c_str()));
  args.push_back(nullptr);
  std::vector<char*> envp;
  char** env = environ;
  if (!options.env.empty()) {
    for (const auto& e : options.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    env = envp.data();
  }
  SpawnAttrs a;
  redirect(a, 0, "/dev/null");
  redirect(a, 1, options.stdout_path);
  redirect(a, 2, options.stderr_path);
  reset_signals(a, options.new_process_group ? POSIX_SPAWN_SETPGROUP : 0);
  if (options.new_process_group) posix_spawnattr_setpgroup(&a.attr, 0);
  pid_t pid = 0;
  if (const int rc = posix_spawn(&pid, argv[0].c_str(), &a.fa, &a.attr, args.data(), env); rc != 0) {
    return std::unexpected("posix_spawn " + argv[0] + ": " + std::strerror(rc));
  }
  track(pid, end);
  Child c;
  c.pid_ = pid;
  c.end_ = end;
  return c;
}

std::expected<Child, std::string> Child::fork(const std::function<int()>& body, EndWith end) {
  install_cleanup_handler();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return std::unexpected(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // The inherited table names the parent's children, which this copy must
    // not signal.
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::_exit(body());
  }
  track(pid, end);
  Child c;
  c.pid_ = pid;
  c.end_ = end;
  return c;
}

Child::Child(Child&& o) noexcept : pid_(std::exchange(o.pid_, -1)), end_(o.end_) {}

Child& Child::operator=(Child&& o) noexcept {
  if (this != &o) {
    (void)stop();
    pid_ = std::exchange(o.pid_, -1);
    end_ = o.end_;
  }
  return *this;
}

Child::~Child() { (void)stop(); }

int Child::stop() noexcept {
  if (pid_ <= 0) return -1;
  ::kill(pid_, end_ == EndWith::sigkill ? SIGKILL : SIGTERM);
  return wait();
}

int Child::wait() noexcept {
  if (pid_ <= 0) return -1;
  const pid_t p = std::exchange(pid_, -1);
  // Wait without reaping, untrack, then reap: a pid in the table is always
  // our unreaped child, never a recycled one.
  siginfo_t info{};
  while (::waitid(P_PID, static_cast<id_t>(p), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR) {
  }
  untrack(p);
  return wait_status(p);
}

std::expected<int, std::string> run_quiet(const std::vector<std::string>& cmd) {
  auto c = Child::spawn(cmd, EndWith::sigkill);
  if (!c) return std::unexpected(c.error());
  return c->wait();
}

}  // namespace airssys::daemoneye::bench
