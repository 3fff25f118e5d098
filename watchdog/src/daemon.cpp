#include <airssys/watchdog/daemon.hpp>

#include "event_fds.hpp"
#include "task_records.hpp"

#include <airssys/osl/unique_fd.hpp>
#include <airssys/osl/cgroup.hpp>
#include "container.hpp"
#include "kill_tree.hpp"
#include "proc.hpp"
#include "registry_json.hpp"
#include <airssys/watchdog/runner.hpp>
#include "task_cgroups.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>

namespace airssys::watchdog {

using osl::UniqueFd;

namespace {

using detail::now_ms;

// Not known gone: a monitor /proc cannot show may still run (kill_tree.hpp, monitor_presence).
bool monitor_alive(const TaskRecord& t) { return monitor_presence(t) != Presence::gone; }

// A `starting` record younger than this may still get its monitor.
constexpr std::int64_t kStartingGraceMs = 60'000;

// What to do with one unmonitored live task.
enum class Verdict { none, kill, ended, never_started };

std::int64_t kill_unfinished(const TaskRecord& t) {
  if (const auto it = t.extra.find(detail::kKillUnfinishedKey); it != t.extra.end()) {
    const auto v = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (v.is_number_integer()) return v.get<std::int64_t>();
  }
  // An older daemon noted it in leftover_processes, which the monitor sets
  // only when it records the task ended: on a live record it is that note.
  return t.leftover_processes.value_or(0);
}

}  // namespace

std::vector<std::string> remove_stale_cgroups(osl::System& system, const std::string& principal) {
  std::vector<std::string> removed;
  const auto layout = osl::cgroup::detect_layout();
  std::vector<std::filesystem::path> parents;
  if (auto v2 = osl::cgroup::own_v2_dir(layout)) parents.push_back(*v2 / "task-watchdog");
  for (const auto& [ctl, mount] : layout.v1_mounts) {
    if (auto v1 = osl::cgroup::own_v1_dir(layout, ctl)) parents.push_back(*v1 / "task-watchdog");
  }
  std::sort(parents.begin(), parents.end());
  parents.erase(std::unique(parents.begin(), parents.end()), parents.end());
  for (const auto& parent : parents) {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(parent.c_str()), ::closedir);
    if (!dir) continue;
    std::vector<std::string> names;
    while (const dirent* e = ::readdir(dir.get())) {
      if (e->d_type == DT_DIR && e->d_name[0] != '.') names.emplace_back(e->d_name);
    }
    for (const auto& name : names) {
      // <id>-<monitor pid>: the id may contain '-', the pid is after the last one.
      const auto dash = name.rfind('-');
      pid_t monitor = 0;
      if (dash == std::string::npos ||
          std::from_chars(name.data() + dash + 1, name.data() + name.size(), monitor).ec != std::errc{}) {
        continue;
      }
      if (!process_gone(monitor)) continue;  // its monitor may still use it
      const auto path = parent / name;
      if (!osl::cgroup::pids(path).empty()) continue;
      if (system.run(principal, osl::cgroup::Remove{{path}})) removed.push_back(path.string());
    }
  }
  return removed;
}

std::expected<SweepReport, Error> sweep_registry(const Registry& reg, osl::System& system, const std::string& principal,
                                                 std::chrono::milliseconds sigkill_wait) {
  SweepReport out;
  auto data = reg.load();
  if (!data) return std::unexpected(data.error());
  const auto now = now_ms();
  for (const auto& [id, t] : data->tasks) {
    if (is_terminal(t.state) || monitor_alive(t)) continue;
    const auto tp = task_processes(t);
    Collected found;
    bool alive = false;
    if (is_container_task(t)) {  // the engine knows whether it runs (container.hpp)
      const auto running = container_task_running(t);
      if (!running) continue;  // the engine does not answer: try again next sweep
      alive = *running;
    } else {
      found = collect_processes_checked(tp);
      // Cgroup members /proc hides run (cgroup.procs lists no zombie): alive,
      // and kill_task reaches them through the cgroup.
      alive = !found.pids.empty() || !found.hidden_members.empty();
      if (!alive && found.unreadable > 0) {  // cannot tell: neither kill nor mark it ended
        out.actions.push_back(fmt::format("task '{}': cannot tell whether its processes run ({}); left as it is", id, found.reason));
        continue;
      }
    }
    Verdict v = Verdict::none;
    if (alive) {
      if (t.deadline_ms && *t.deadline_ms <= now) v = Verdict::kill;
      else if (t.deadline_ms) out.next_deadline_ms = std::min(out.next_deadline_ms.value_or(*t.deadline_ms), *t.deadline_ms);
    } else if (t.state == TaskState::starting) {
      // A container monitor records its pid before it creates the container:
      // once that monitor is gone nobody will start it.
      if (now - t.created_ms > kStartingGraceMs || (is_container_task(t) && t.monitor_pid)) v = Verdict::never_started;
    } else if (t.deadline_ms && *t.deadline_ms <= now && kill_unfinished(t) > 0) {
      v = Verdict::kill;  // an earlier sweep's kill left survivors (below); now they are gone
    } else {
      v = Verdict::ended;
    }
    if (v == Verdict::none) continue;
    KillReport kr;
    if (is_container_task(t)) {
      // A stopped (or created, never started) container the dead monitor did not remove goes too.
      kr = stop_container_task(reg, t, std::chrono::milliseconds(t.grace_ms), "run");
      if (kr.left > 0) {  // the record stays live, so the next sweep tries again
        out.actions.push_back(fmt::format("task '{}': its container could not be stopped and removed; retrying at the next sweep", id));
        continue;
      }
    } else if (v == Verdict::kill) {
      kr = kill_task(system, principal, tp, std::chrono::milliseconds(t.grace_ms), std::move(found), sigkill_wait);
      if (kr.left > 0 || kr.unverified > 0) {
        // Not final: a timed_out record would never be swept again and the
        // survivors would run on; nor, when /proc did not show everything,
        // may it say none is left. The record stays live, noting how many
        // remain, so every sweep kills (or looks) again and the one that
        // finds nothing records timed_out, not an unobserved exit.
        const bool survived = kr.left > 0;
        auto noted = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
          auto it = d.tasks.find(id);
          if (it == d.tasks.end() || is_terminal(it->second.state) || it->second.created_ms != t.created_ms) return {};
          detail::set_extra(it->second, detail::kKillUnfinishedKey, static_cast<std::int64_t>(survived ? kr.left : kr.unverified));
          it->second.leftover_processes.reset();  // an older daemon's note (kill_unfinished)
          it->second.error = survived ? fmt::format("deadline passed and the monitor is gone: {} process(es) survived `task-watchdog run`'s kill; "
                                                    "retried at every sweep", kr.left)
                                      : fmt::format("deadline passed and the monitor is gone: `task-watchdog run` could not verify that none "
                                                    "of its processes is left ({}); looked at again at every sweep", kr.unverified_reason);
          return {};
        });
        if (!noted) return std::unexpected(noted.error());
        out.actions.push_back(survived ? fmt::format("task '{}': deadline passed and its monitor is gone: killed {} process(es), {} left; "
                                                     "retrying at the next sweep", id, kr.found, kr.left)
                                       : fmt::format("task '{}': deadline passed and its monitor is gone: killed {} process(es), could not "
                                                     "verify that none is left ({}); retrying at the next sweep", id, kr.found, kr.unverified_reason));
        continue;
      }
    }
    auto r = reg.update([&](RegistryData& d) -> std::expected<void, Error> {
      auto it = d.tasks.find(id);
      // Re-checked under the lock: the task may have been restarted or ended meanwhile.
      if (it == d.tasks.end() || is_terminal(it->second.state) || it->second.created_ms != t.created_ms) return {};
      auto& rec = it->second;
      rec.ended_ms = now_ms();
      // A live record's note of an unfinished kill, by this daemon or an
      // older one (kill_unfinished); nothing was killed after the main
      // process ended.
      rec.extra.erase(detail::kKillUnfinishedKey);
      rec.leftover_processes.reset();
      switch (v) {
        case Verdict::kill:
          rec.state = TaskState::timed_out;
          rec.error = "deadline enforced by `task-watchdog run` (monitor gone)";
          break;
        case Verdict::ended:
          rec.state = TaskState::exited;
          rec.error = "the monitor died; the task ended unobserved (exit status unknown)";
          break;
        case Verdict::never_started:
          rec.state = TaskState::failed;
          rec.error = "the monitor never reported the task as started";
          break;
        case Verdict::none: break;
      }
      return {};
    });
    if (!r) return std::unexpected(r.error());
    (void)remove_task_cgroups(system, principal, t.containment);
    switch (v) {
      case Verdict::kill:
        out.actions.push_back(fmt::format("task '{}': deadline passed and its monitor is gone: killed {} process(es), {} left", id, kr.found, kr.left));
        break;
      case Verdict::ended: out.actions.push_back(fmt::format("task '{}': monitor gone and nothing runs: marked exited", id)); break;
      case Verdict::never_started: out.actions.push_back(fmt::format("task '{}': never started: marked failed", id)); break;
      case Verdict::none: break;
    }
  }
  for (const auto& dir : remove_stale_cgroups(system, principal)) out.actions.push_back(fmt::format("removed stale cgroup {}", dir));
  return out;
}

std::expected<void, Error> run_daemon(const Registry& reg, std::chrono::milliseconds interval, const std::filesystem::path& policy_file,
                                      const DaemonLog& say, std::chrono::milliseconds sigkill_wait) {
  // One daemon per registry. The directory and lock as Registry::update makes
  // them: 0700, no symbolic links followed.
  const std::string lock_path = reg.path().string() + ".daemon.lock";
  if (auto made = reg.ensure_dir(); !made) return std::unexpected(made.error());
  auto lock = reg.open_lock(".daemon.lock");
  if (!lock) return std::unexpected(lock.error());
  if (::flock(lock->get(), LOCK_EX | LOCK_NB) != 0) {
    return std::unexpected(Error{ErrorCategory::already_exists, fmt::format("another `task-watchdog run` already sweeps {} (lock {})",
                                                                        reg.path().string(), lock_path)});
  }
  // Signals through a signalfd; blocked before osl starts any thread.
  UniqueFd sigfd = detail::block_into_signalfd({SIGINT, SIGTERM, SIGHUP});
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  const UniqueFd ep = detail::epoll_of({sigfd.get(), timer.get()});
  if (!sigfd || !timer || !ep) return std::unexpected(Error::from_errno(errno, "run"));
  auto system = make_system(policy_file, reg.dir());
  if (!system) return std::unexpected(system.error());
  const std::string principal = current_principal();
  say(fmt::format("sweeping {} every {}", reg.path().string(), interval.count() >= 1000 ? fmt::format("{}s", interval.count() / 1000.0)
                                                                                         : fmt::format("{}ms", interval.count())));
  for (;;) {
    auto swept = sweep_registry(reg, *system, principal, sigkill_wait);
    auto next = interval;
    if (!swept) {
      say(swept.error().message);  // e.g. a corrupt registry: reported, retried next time, never rewritten
    } else {
      for (const auto& a : swept->actions) say(a);
      if (swept->next_deadline_ms) {
        next = std::min(next, std::chrono::milliseconds(std::max<std::int64_t>(*swept->next_deadline_ms - now_ms(), 1)));
      }
    }
    detail::arm_timer(timer.get(), next);
    for (bool wake = false; !wake;) {
      epoll_event evs[2];
      const int n = ::epoll_wait(ep.get(), evs, 2, -1);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return std::unexpected(Error::from_errno(errno, "run: epoll_wait"));
      for (int i = 0; i < n; ++i) {
        if (evs[i].data.fd == timer.get()) {
          std::uint64_t expirations = 0;
          (void)::read(timer.get(), &expirations, sizeof expirations);
          wake = true;
        } else {
          signalfd_siginfo si{};
          if (::read(sigfd.get(), &si, sizeof si) != sizeof si) continue;
          if (si.ssi_signo == SIGHUP) {
            wake = true;  // sweep now
            continue;
          }
          say(fmt::format("signal {}: stopping", si.ssi_signo));
          return {};
        }
      }
    }
  }
}

}  // namespace airssys::watchdog
