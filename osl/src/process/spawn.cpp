// process.spawn and util.exec: resolve the program and redirections, ask the
// policy, then clone(CLONE_PIDFD) (glibc's __clone) + exec. Between clone and exec the child
// only makes raw system calls (it is a copy of a multi-threaded process).

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "process/spawn_failure.hpp"
#include "activity/json_escape.hpp"
#include "core/core.hpp"
#include "process/env_filter.hpp"
#include "fs/fs_ops.hpp"
#include "process/keep_fds.hpp"
#include "process/landlock.hpp"
#include "process/process_state.hpp"

extern char** environ;

// glibc's own name for clone(2)'s wrapper (clone is a weak alias of it). We
// call it by this name because ThreadSanitizer intercepts `clone` and treats
// it as a fork: its wrapper runs TSan's after-fork bookkeeping in the child,
// which with CLONE_VM is our own memory, so the parent's TSan state is reset
// (the next thread started dies with "starting new threads after
// multi-threaded fork"). ASan and UBSan intercept neither name; without a
// sanitizer the two are the same function.
extern "C" int __clone(int (*fn)(void*), void* stack, int flags, void* arg, ...);

namespace airssys::osl {

namespace {

using detail::Check;
using detail::FollowFinal;
using detail::Request;
using detail::Resolution;
using process::Stdio;

enum class Stage : int { stdio = 1, chdir, session, rlimit, no_new_privs, landlock, exec, cgroup, keep_fd };

struct ChildFailure {
  int stage;
  int err;
};

struct Redirect {
  Stdio::Kind kind = Stdio::Kind::inherit;
  Resolution file;  // Kind::file
};

// A kept fd as the child checks it: number and the identity recorded at plan time.
struct ChildKeptFd {
  int fd;
  dev_t dev;
  ino_t ino;
};

struct Plan {
  Resolution program;
  std::string program_name;  // as given (argv[0] or tool name), for messages
  std::vector<std::string> argv;
  std::vector<std::string> envp;
  std::vector<std::string> env_removed;  // names the policy kept from the child (for the start record)
  Redirect in, out, err;
  std::vector<Resolution> cgroup_procs;  // DIR/cgroup.procs for each join_cgroups entry
  std::vector<detail::KeptFd> kept;      // Options::keep_fds: checked, identified and described
  std::vector<ChildKeptFd> kept_child;   // the same, as the child compares them
  const process::Options* options = nullptr;
  std::optional<Error> invalid;
};

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

std::optional<std::string> env_lookup(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env) {
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=') {
      return e.substr(key.size() + 1);
    }
  }
  return std::nullopt;
}

// PATH search for a bare program name (the policy then sees the full path).
std::optional<std::string> search_path(const std::string& name, const std::vector<std::string>& env) {
  std::string path = env_lookup(env, "PATH").value_or("/usr/local/bin:/usr/bin:/bin");
  std::size_t i = 0;
  while (i <= path.size()) {
    const auto j = path.find(':', i);
    std::string dir = path.substr(i, (j == std::string::npos ? path.size() : j) - i);
    if (dir.empty()) dir = ".";
    const std::string candidate = dir + "/" + name;
    if (::faccessat(AT_FDCWD, candidate.c_str(), X_OK, AT_EACCESS) == 0) return candidate;
    if (j == std::string::npos) break;
    i = j + 1;
  }
  return std::nullopt;
}

Redirect plan_redirect(const Stdio& s) {
  Redirect r;
  r.kind = s.kind;
  if (s.kind == Stdio::Kind::file) r.file = detail::resolve_path(s.path, FollowFinal::yes);
  return r;
}

Plan make_plan(std::vector<std::string> argv, const process::Options& o, const std::vector<std::string>& env_allowlist) {
  Plan plan;
  plan.options = &o;
  plan.argv = std::move(argv);
  const std::span<const std::string> given = o.env ? std::span<const std::string>(*o.env) : std::span<const std::string>();
  detail::ChildEnv env = detail::build_child_env(o.env ? nullptr : environ, given, o.extra_env, env_allowlist);
  plan.envp = std::move(env.env);
  plan.env_removed = std::move(env.removed);
  std::size_t total = 0;
  for (const auto& a : plan.argv) {
    total += a.size() + 1;
    if (has_nul(a)) plan.invalid = Error::make(ErrorCategory::invalid_argument, "an argument contains a NUL byte");
  }
  for (const auto& e : plan.envp) {
    total += e.size() + 1;
    if (has_nul(e) || e.find('=') == std::string::npos) {
      plan.invalid = Error::make(ErrorCategory::invalid_argument, "environment entries must be KEY=VALUE without NUL bytes");
    }
  }
  const long arg_max = ::sysconf(_SC_ARG_MAX);
  if (arg_max > 0 && total > static_cast<std::size_t>(arg_max) / 2) {
    plan.invalid = Error{ErrorCategory::invalid_argument, E2BIG, 0,
                         fmt::format("arguments and environment total {} bytes; the limit here is {}", total, arg_max / 2)};
  }
  for (const auto& dir : o.join_cgroups) {
    plan.cgroup_procs.push_back(detail::resolve_path(dir / "cgroup.procs", FollowFinal::yes));
  }
  if (auto bad = detail::plan_kept_fds(o.keep_fds, o.sandbox.landlock, plan.kept)) plan.invalid = std::move(*bad);
  for (const auto& k : plan.kept) plan.kept_child.push_back(ChildKeptFd{k.fd, k.dev, k.ino});
  plan.in = plan_redirect(o.stdin_);
  plan.out = plan_redirect(o.stdout_);
  plan.err = plan_redirect(o.stderr_);
  return plan;
}

void resolve_program(Plan& plan, const std::string& program) {
  plan.program_name = program;
  if (program.empty()) {
    plan.program.resolved.path = "";
    if (!plan.invalid) plan.invalid = Error::make(ErrorCategory::invalid_argument, "empty program name");
    return;
  }
  if (program.find('/') != std::string::npos) {
    plan.program = detail::resolve_path(program, FollowFinal::yes);
    return;
  }
  if (auto found = search_path(program, plan.envp)) {
    plan.program = detail::resolve_path(*found, FollowFinal::yes);
  } else {
    plan.program.resolved.path = program;
    if (!plan.invalid) {
      plan.invalid = Error{ErrorCategory::not_found, ENOENT, 0, fmt::format("program '{}' not found in PATH", detail::shown_text(program, detail::kShownPathMax))};
    }
  }
}

// The checks: the operation on the program (or tool), plus fs.read/fs.write
// on every file redirection.
Request make_request(OpKind kind, const std::string& resource, const Plan& plan) {
  Request req{.kind = kind, .checks = {Check{kind, {resource}, {}}}, .invalid = plan.invalid};
  if (plan.in.kind == Stdio::Kind::file) req.checks.push_back(Check{OpKind::fs_read, {plan.in.file.resolved.path}, {}});
  for (const Redirect* r : {&plan.out, &plan.err}) {
    if (r->kind == Stdio::Kind::file) req.checks.push_back(Check{OpKind::fs_write, {r->file.resolved.path}, {}});
  }
  // A resolution error shows its path escaped and cut (the resolver's own message).
  for (const Resolution& c : plan.cgroup_procs) {
    req.checks.push_back(Check{OpKind::fs_write, {c.resolved.path}, {}});
    if (c.error && !req.pre_error) req.pre_error = c.error;
  }
  for (const auto* r : {&plan.program, &plan.in.file, &plan.out.file, &plan.err.file}) {
    if (r->error && !req.pre_error) req.pre_error = r->error;
  }
  // The start record carries argv (never the environment: it may hold secrets).
  std::string detail = R"({"argv":[)";
  for (std::size_t i = 0; i < plan.argv.size(); ++i) {
    if (i) detail += ',';
    detail::append_json_string(detail, plan.argv[i]);
  }
  detail += ']';
  // Names (never values) of variables the policy kept from the child.
  if (!plan.env_removed.empty()) {
    detail += R"(,"env_removed":[)";
    for (std::size_t i = 0; i < plan.env_removed.size(); ++i) {
      if (i) detail += ',';
      detail::append_json_string(detail, plan.env_removed[i]);
    }
    detail += ']';
  }
  detail::append_kept_fds_json(detail, plan.kept);
  detail += '}';
  req.detail_json = std::move(detail);
  return req;
}

// Everything the child needs, prepared before clone: no allocation after it.
struct ChildPlan {
  int program_fd = -1;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int stdio[3] = {-1, -1, -1};  // fd to install as 0/1/2, or -1 to inherit
  const char* cwd = nullptr;
  bool new_session = false;
  bool new_group = false;
  const process::Rlimit* rlimits = nullptr;
  std::size_t rlimit_count = 0;
  bool no_new_privs = false;
  int landlock_fd = -1;
  const int* cgroup_fds = nullptr;  // open cgroup.procs files to write "0" to
  std::size_t cgroup_count = 0;
  const ChildKeptFd* keep_fds = nullptr;  // Options::keep_fds and what each must still be
  std::size_t keep_count = 0;
  // Written by the child (it shares our memory until it execs).
  volatile int failed_stage = 0;
  volatile int failed_errno = 0;
  volatile int failed_fd = -1;  // Stage::keep_fd: which kept fd
};

// The child runs with CLONE_VM | CLONE_VFORK: on its own small stack, in our
// address space, while the parent thread waits for it to exec or exit (as
// posix_spawn does; no page tables are copied, so the cost does not grow with
// the parent's size). It therefore makes raw system calls only — no libc
// state, no sanitizer interceptors, no allocation — and is not instrumented:
// under TSan it would run as the suspended parent thread, on a stack TSan
// does not know, and never return from the frames it entered.
#define AIRSSYS_CHILD_CODE __attribute__((no_sanitize("address", "undefined", "thread"), noinline))

AIRSSYS_CHILD_CODE long raw(long n, long a = 0, long b = 0, long c = 0, long d = 0, long e = 0) noexcept {
  long ret;
  register long r10 asm("r10") = d;
  register long r8 asm("r8") = e;
  asm volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8) : "rcx", "r11", "memory");
  return ret;
}

[[noreturn]] AIRSSYS_CHILD_CODE void child_fail(ChildPlan& c, Stage stage, long ret) noexcept {
  c.failed_errno = static_cast<int>(-ret);
  c.failed_stage = static_cast<int>(stage);
  for (;;) raw(SYS_exit, 127);
}

// Stage::keep_fd for kept fd `fd`; `ret` is a failed call's -errno, or 0
// when `fd` is open on another file than the one checked.
[[noreturn]] AIRSSYS_CHILD_CODE void child_fail_fd(ChildPlan& c, int fd, long ret) noexcept {
  c.failed_fd = fd;
  child_fail(c, Stage::keep_fd, ret);
}

struct KernelSigaction {
  void* handler;
  unsigned long flags;
  void* restorer;
  unsigned long mask;
};

AIRSSYS_CHILD_CODE int child_main(void* arg) noexcept {
  ChildPlan& c = *static_cast<ChildPlan*>(arg);
  // The parent blocked every signal around clone; reset dispositions to the
  // defaults before unblocking, so no parent handler ever runs in the child.
  KernelSigaction dfl{};
  for (long s = 1; s < 65; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    raw(SYS_rt_sigaction, s, reinterpret_cast<long>(&dfl), 0, 8);
  }
  const unsigned long empty = 0;
  raw(SYS_rt_sigprocmask, SIG_SETMASK, reinterpret_cast<long>(&empty), 0, 8);
  long r;
  for (std::size_t i = 0; i < c.cgroup_count; ++i) {
    if ((r = raw(SYS_write, c.cgroup_fds[i], reinterpret_cast<long>("0"), 1)) < 0) child_fail(c, Stage::cgroup, r);
  }
  if (c.new_session && (r = raw(SYS_setsid)) < 0) child_fail(c, Stage::session, r);
  if (!c.new_session && c.new_group && (r = raw(SYS_setpgid, 0, 0)) < 0) child_fail(c, Stage::session, r);
  for (int i = 0; i < 3; ++i) {
    if (c.stdio[i] >= 0 && (r = raw(SYS_dup2, c.stdio[i], i)) < 0) child_fail(c, Stage::stdio, r);
  }
  // The child gets stdin/stdout/stderr and what keep_fds names, nothing
  // else: every fd above 2 is marked close-on-exec in the child's own fd table (no CLONE_FILES: the
  // parent's flags stay as they were). An fd another thread or a library
  // opened without O_CLOEXEC (libnats marks its socket only after connect)
  // would otherwise leak into every program spawned meanwhile. Nothing else
  // above 2 is passed on: redirections are installed as 0-2 just above, and
  // the pinned program fd is cleared again below for scripts.
  // Kernels before 5.11 refuse the flag (EINVAL) or the call (ENOSYS); the
  // child then runs with what the caller left open, as before.
  raw(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
  // Except what the caller asked to hand on (Options::keep_fds), and only if
  // N is still the file that was checked and recorded: another thread may
  // have closed N since, and our own opens (the pinned program, a pipe end
  // installed as 0-2 above, a cgroup.procs fd) or the caller's may have
  // reused it. The program fd is still needed below, so holding a kept
  // number proves the caller's N was closed: refused as such (the pinned
  // program is never handed on). Every other reuse shows as another file.
  for (std::size_t i = 0; i < c.keep_count; ++i) {
    const ChildKeptFd& k = c.keep_fds[i];
    struct stat st;
    if (k.fd == c.program_fd || k.fd == c.landlock_fd) child_fail_fd(c, k.fd, -EBADF);
    if ((r = raw(SYS_fstat, k.fd, reinterpret_cast<long>(&st))) < 0) child_fail_fd(c, k.fd, r);
    if (st.st_dev != k.dev || st.st_ino != k.ino) child_fail_fd(c, k.fd, 0);
    if ((r = raw(SYS_fcntl, k.fd, F_SETFD, 0)) < 0) child_fail_fd(c, k.fd, r);
  }
  if (c.cwd && (r = raw(SYS_chdir, reinterpret_cast<long>(c.cwd))) < 0) child_fail(c, Stage::chdir, r);
  for (std::size_t i = 0; i < c.rlimit_count; ++i) {
    const rlimit lim{c.rlimits[i].soft, c.rlimits[i].hard};
    if ((r = raw(SYS_prlimit64, 0, c.rlimits[i].resource, reinterpret_cast<long>(&lim), 0)) < 0) {
      child_fail(c, Stage::rlimit, r);
    }
  }
  if ((c.no_new_privs || c.landlock_fd >= 0) && (r = raw(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) < 0) {
    child_fail(c, Stage::no_new_privs, r);
  }
  if (c.landlock_fd >= 0 && (r = raw(SYS_landlock_restrict_self, c.landlock_fd, 0)) < 0) {
    child_fail(c, Stage::landlock, r);
  }
  // Execute the very file the policy checked (pinned fd).
  r = raw(SYS_execveat, c.program_fd, reinterpret_cast<long>(""), reinterpret_cast<long>(c.argv),
          reinterpret_cast<long>(c.envp), AT_EMPTY_PATH);
  if (r == -ENOENT) {
    // A script: its interpreter reopens it as /dev/fd/N, which a
    // close-on-exec fd would not survive. Keep the fd open (in the child's
    // own fd table) and exec the same pinned file again — never the path,
    // which could have been swapped for a symlink since the check.
    raw(SYS_fcntl, c.program_fd, F_SETFD, 0);
    r = raw(SYS_execveat, c.program_fd, reinterpret_cast<long>(""), reinterpret_cast<long>(c.argv),
            reinterpret_cast<long>(c.envp), AT_EMPTY_PATH);
  }
  child_fail(c, Stage::exec, r);
}

std::string_view stage_name(int stage) {
  switch (static_cast<Stage>(stage)) {
    case Stage::stdio: return "setting up stdin/stdout/stderr";
    case Stage::chdir: return "changing to the working directory";
    case Stage::session: return "creating the session/process group";
    case Stage::rlimit: return "applying rlimits";
    case Stage::no_new_privs: return "setting no_new_privs";
    case Stage::landlock: return "applying the Landlock sandbox";
    case Stage::exec: return "executing the program";
    case Stage::cgroup: return "joining a cgroup";
    case Stage::keep_fd: return "keeping an fd of keep_fds open";
  }
  return "starting the child";
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Moves fd above 2 so installing it as 0/1/2 cannot clobber another source.
std::expected<UniqueFd, Error> above_stdio(UniqueFd fd) {
  if (fd.get() > 2) return fd;
  const int d = ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3);
  if (d < 0) return std::unexpected(Error::from_errno(errno, "dup"));
  return UniqueFd(d);
}

// Opens the child's side of one standard stream; fills `ours` for pipes.
std::expected<UniqueFd, Error> open_stdio(const Redirect& r, int stream, UniqueFd& ours) {
  switch (r.kind) {
    case Stdio::Kind::inherit: return UniqueFd{};
    case Stdio::Kind::null: {
      const int fd = ::open("/dev/null", (stream == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
      if (fd < 0) return std::unexpected(Error::from_errno(errno, "/dev/null"));
      return above_stdio(UniqueFd(fd));
    }
    case Stdio::Kind::pipe: {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) != 0) return std::unexpected(Error::from_errno(errno, "pipe"));
      UniqueFd rd(p[0]), wr(p[1]);
      if (stream == 0) {
        ours = std::move(wr);
        return above_stdio(std::move(rd));
      }
      ours = std::move(rd);
      return above_stdio(std::move(wr));
    }
    case Stdio::Kind::file: {
      const int flags = stream == 0 ? (O_RDONLY | O_NOCTTY)
                                    : (O_WRONLY | O_CREAT | O_NOCTTY | (r.file.resolved.name.empty() ? 0 : 0));
      auto fd = detail::open_beneath(r.file.resolved, flags, 0600);
      if (!fd) return std::unexpected(fd.error());
      return above_stdio(std::move(*fd));
    }
  }
  return UniqueFd{};
}

std::expected<process::Process, Error> spawn_child(detail::Core& core, std::string_view principal, Plan& plan) {
  const process::Options& o = *plan.options;
  auto slot = core.processes().acquire(core.limits().wait);
  if (!slot) return std::unexpected(slot.error());

  auto program_fd = detail::open_beneath(plan.program.resolved, O_PATH);
  if (!program_fd) return std::unexpected(program_fd.error());

  UniqueFd our_in, our_out, our_err, unused;
  auto child_in = open_stdio(plan.in, 0, our_in);
  if (!child_in) return std::unexpected(child_in.error());
  auto child_out = open_stdio(plan.out, 1, our_out);
  if (!child_out) return std::unexpected(child_out.error());
  auto child_err = open_stdio(plan.err, 2, our_err);
  if (!child_err) return std::unexpected(child_err.error());
  // Output files: append or truncate, decided here (open_beneath has no O_TRUNC knob per stream).
  for (auto [redirect, fd, append] : {std::tuple{&plan.out, child_out->get(), o.stdout_.append},
                                      std::tuple{&plan.err, child_err->get(), o.stderr_.append}}) {
    if (redirect->kind != Stdio::Kind::file) continue;
    if (append) {
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_APPEND);
    } else if (::ftruncate(fd, 0) != 0 && errno != EINVAL) {
      return std::unexpected(Error::from_errno(errno, "truncating output file"));
    }
  }

  std::vector<UniqueFd> cgroup_files;
  std::vector<int> cgroup_fds;
  for (const Resolution& c : plan.cgroup_procs) {
    // O_NONBLOCK and a regular-file check, as for every cgroup file osl
    // opens: a join_cgroups directory may come from a record, and a FIFO
    // planted at its cgroup.procs must not hang the spawn (ENXIO with no
    // reader, refused with one). The child's write of "0" to the real,
    // regular cgroupfs file is unaffected by O_NONBLOCK.
    auto fd = detail::open_beneath(c.resolved, O_WRONLY | O_NONBLOCK);
    if (!fd) return std::unexpected(fd.error());
    struct stat procs{};
    if (::fstat(fd->get(), &procs) != 0 || !S_ISREG(procs.st_mode)) {
      return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                         fmt::format("cannot join {}: not a regular file", detail::shown_path(c.resolved.path))));
    }
    cgroup_fds.push_back(fd->get());
    cgroup_files.push_back(std::move(*fd));
  }

  UniqueFd landlock;
  if (o.sandbox.landlock) {
    auto rs = detail::build_landlock_ruleset(core.policy().sandbox_paths(principal));
    if (!rs) return std::unexpected(rs.error());
    landlock = std::move(*rs);
  }

  std::string cwd = o.cwd.string();
  std::vector<char*> argv = c_strings(plan.argv);
  std::vector<char*> envp = c_strings(plan.envp);
  ChildPlan c;
  c.program_fd = program_fd->get();
  c.argv = argv.data();
  c.envp = envp.data();
  c.stdio[0] = child_in->get();
  c.stdio[1] = child_out->get();
  c.stdio[2] = child_err->get();
  c.cwd = cwd.empty() ? nullptr : cwd.c_str();
  c.new_session = o.new_session;
  c.new_group = o.new_process_group;
  c.rlimits = o.sandbox.rlimits.data();
  c.rlimit_count = o.sandbox.rlimits.size();
  c.no_new_privs = o.sandbox.no_new_privs;
  c.landlock_fd = landlock.get();
  c.cgroup_fds = cgroup_fds.data();
  c.cgroup_count = cgroup_fds.size();
  c.keep_fds = plan.kept_child.data();
  c.keep_count = plan.kept_child.size();

  constexpr std::size_t kStackSize = 64 * 1024;
  void* stack = ::mmap(nullptr, kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return std::unexpected(Error::from_errno(errno, "allocating the child's stack"));
  std::unique_ptr<void, void (*)(void*)> stack_guard(stack, [](void* p) { ::munmap(p, kStackSize); });

  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pidfd = -1;
  const int pid = __clone(child_main, static_cast<char*>(stack) + kStackSize,
                          CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &c, &pidfd, nullptr, nullptr);
  const int clone_errno = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return std::unexpected(Error::from_errno(clone_errno, "clone"));

  UniqueFd pidfd_owner(pidfd);
  child_in->reset();
  child_out->reset();
  child_err->reset();

  if (c.failed_stage != 0) {
    siginfo_t info{};
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd), &info, WEXITED);
    const auto stage = static_cast<Stage>(c.failed_stage);
    if (stage == Stage::keep_fd) return std::unexpected(detail::kept_fd_changed(c.failed_fd, c.failed_errno));
    const auto step = stage == Stage::chdir  ? detail::FailedStep::chdir
                      : stage == Stage::exec ? detail::FailedStep::exec
                                             : detail::FailedStep::other;
    return std::unexpected(detail::explain_spawn_failure(c.failed_errno, step, stage_name(c.failed_stage),
                                                         program_fd->get(), plan.program.resolved.path, cwd));
  }

  auto st = std::make_unique<process::Process::State>();
  st->pid = pid;
  st->pidfd = std::move(pidfd_owner);
  st->stdin_fd = std::move(our_in);
  st->stdout_fd = std::move(our_out);
  st->stderr_fd = std::move(our_err);
  if (o.deadline) st->deadline = std::chrono::steady_clock::now() + *o.deadline;
  st->program = plan.program.resolved.path;
  st->group_leader = o.new_process_group || o.new_session;
  st->principal = std::string(principal);
  st->core = core.shared_from_this();
  st->slot = std::move(*slot);
  return detail::Core::make_process(std::move(st));
}

}  // namespace

std::expected<process::Process, Error> System::run(std::string_view principal, const process::Spawn& op) {
  Plan plan = make_plan(op.argv, op.options, core_->policy().env_allowlist(principal));
  if (op.argv.empty()) {
    plan.invalid = Error::make(ErrorCategory::invalid_argument, "argv is empty: name a program to run");
    plan.program.resolved.path = "";
  } else {
    resolve_program(plan, op.argv.front());
  }
  Request req = make_request(OpKind::process_spawn, plan.program.resolved.path, plan);
  return core_->pipeline<process::Process>(principal, std::move(req),
                                           [&](std::uint64_t) { return spawn_child(*core_, principal, plan); });
}

std::expected<process::Process, Error> System::run(std::string_view principal, const util::Exec& op) {
  std::vector<std::string> argv{op.tool};
  argv.insert(argv.end(), op.args.begin(), op.args.end());
  Plan plan = make_plan(std::move(argv), op.options, core_->policy().env_allowlist(principal));
  const auto tool_path = core_->policy().tool_path(op.tool);
  if (op.tool.empty() || has_nul(op.tool)) {
    plan.invalid = Error::make(ErrorCategory::invalid_argument, "tool name is empty or contains a NUL byte");
  } else if (!tool_path) {
    // Reported only if the policy allows util.exec of this tool at all.
    plan.program.error = Error{ErrorCategory::not_found, ENOENT, 0,
                               fmt::format("tool '{}' is not in the policy's tools allowlist", detail::shown_text(op.tool, detail::kShownPathMax))};
  } else {
    resolve_program(plan, *tool_path);
  }
  Request req = make_request(OpKind::util_exec, op.tool, plan);
  return core_->pipeline<process::Process>(principal, std::move(req),
                                           [&](std::uint64_t) { return spawn_child(*core_, principal, plan); });
}

namespace detail {
process::Process Core::make_process(std::unique_ptr<process::Process::State> state) {
  return process::Process(std::move(state));
}
}  // namespace detail

}  // namespace airssys::osl
