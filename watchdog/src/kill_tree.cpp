#include "kill_tree.hpp"

#include <airssys/osl/unique_fd.hpp>
#include <airssys/osl/cgroup.hpp>
#include "proc.hpp"
#include "registry_json.hpp"

#include <fmt/format.h>

#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <set>

namespace airssys::watchdog {

using osl::UniqueFd;

namespace {

// The monitor creates the task's log files as the user it runs as (and the
// leader starts as that user too). Nobody else can make a file ours.
bool caller_owns(const TaskRecord& rec) {
  struct stat st{};
  return !rec.stdout_log.empty() && ::lstat(rec.stdout_log.c_str(), &st) == 0 && st.st_uid == ::geteuid();
}

constexpr const char* kBootIdKey = "boot_id";

std::optional<std::string> recorded_boot_id(const TaskRecord& rec) {
  const auto it = rec.extra.find(kBootIdKey);
  if (it == rec.extra.end()) return std::nullopt;
  auto value = nlohmann::json::parse(it->second, nullptr, false);
  if (!value.is_string()) return std::nullopt;
  return value.get<std::string>();
}

}  // namespace

void record_boot(TaskRecord& rec) {
  if (const auto id = boot_id()) detail::set_extra(rec, kBootIdKey, *id);
}

bool recorded_before_boot(const TaskRecord& rec) {
  if (const auto recorded = recorded_boot_id(rec)) {
    const auto now = boot_id();
    return now && *now != *recorded;
  }
  // An older record: a start time counts clock ticks since its boot, so one
  // later than this boot's uptime is from an earlier boot. Within this boot
  // a start time is never later than the uptime read after it.
  const auto uptime = uptime_ticks();
  if (!uptime) return false;
  return (rec.pid_start_time && *rec.pid_start_time > *uptime) || (rec.monitor_start_time && *rec.monitor_start_time > *uptime);
}

Presence monitor_presence(const TaskRecord& rec, std::string* why) {
  if (!rec.monitor_pid || recorded_before_boot(rec)) return Presence::gone;
  const auto pid = static_cast<pid_t>(*rec.monitor_pid);
  const auto presence = process_presence(pid, rec.monitor_start_time, why);
  if (presence == Presence::unknown && caller_owns(rec) && not_ours_to_signal(pid)) return Presence::gone;
  return presence;
}

TaskProcesses task_processes(const TaskRecord& rec) {
  TaskProcesses t;
  if (rec.containment.kind == ContainmentKind::cgroup2) t.cgroup = rec.containment.cgroup;
  t.v1 = rec.containment.v1;
  t.exclude.push_back(::getpid());
  if (recorded_before_boot(rec)) return t;  // its cgroups went with the boot too
  if (rec.pid) t.leader = static_cast<pid_t>(*rec.pid);
  t.leader_start = rec.pid_start_time;
  if (rec.monitor_pid && rec.monitor_start_time) {
    const auto monitor = static_cast<pid_t>(*rec.monitor_pid);
    const auto presence = monitor_presence(rec);
    if (presence == Presence::running) t.monitor = monitor;
    // A monitor that cannot be seen may still run: never a target.
    if (presence != Presence::gone) t.exclude.push_back(monitor);
  }
  return t;
}

std::vector<Pid> collect_processes(const TaskProcesses& t) { return collect_processes_checked(t).pids; }

Collected collect_processes_checked(const TaskProcesses& t) {
  std::set<pid_t> seen(t.exclude.begin(), t.exclude.end());
  Collected c;
  auto& out = c.pids;
  auto unreadable = [&](std::string why, pid_t pid) {
    if (c.unreadable++ > 0) return;
    c.reason = std::move(why);
    c.unreadable_pid = pid;
  };
  auto add = [&](const ProcStat& st) {
    if (st.state == 'Z' || st.state == 'X' || !seen.insert(st.pid).second) return;
    out.push_back(Pid{st.pid, st.start_time});
  };
  auto add_member = [&](pid_t pid) {
    std::string why;
    if (auto st = read_proc_stat(pid, &why)) add(*st);
    else if (!why.empty() && seen.insert(pid).second) {
      c.hidden_members.push_back(pid);
      unreadable(std::move(why), pid);
    }
  };
  if (!t.cgroup.empty()) {
    for (pid_t pid : osl::cgroup::pids(t.cgroup)) add_member(pid);
  }
  for (const auto& [ctl, dir] : t.v1) {
    for (pid_t pid : osl::cgroup::pids(dir)) add_member(pid);
  }
  // Fallback, and also with a cgroup as a safety net for anything that
  // escaped it: the verified leader, its group, the monitor's descendants.
  std::string why;
  auto leader = t.leader ? process_presence(*t.leader, t.leader_start, &why) : Presence::gone;
  const auto hidden = [&](pid_t pid) { return std::find(c.hidden_members.begin(), c.hidden_members.end(), pid) != c.hidden_members.end(); };
  if (leader == Presence::unknown && !hidden(*t.leader)) unreadable(why, *t.leader);
  const bool leader_ok = leader == Presence::running && t.leader_start;
  // Its pid runs, but with no start time recorded it cannot be told from a
  // process that took the pid: not a target, and unverified unless found
  // below with its start time (as the live monitor's child).
  const bool leader_unchecked = leader == Presence::running && !t.leader_start;
  const auto check_leader = [&] {
    if (!leader_unchecked) return;
    const bool found = std::any_of(c.pids.begin(), c.pids.end(), [&](const Pid& p) { return p.pid == *t.leader; });
    if (!found && !hidden(*t.leader)) {
      if (c.unreadable == 0) c.untimed = true;
      unreadable(fmt::format("pid {} runs, but no start time was recorded for the task's main process (/proc did not show it "
                             "after its exec): cannot tell whether it is the task's", *t.leader), *t.leader);
    }
  };
  if (!leader_ok && !t.monitor) {
    check_leader();
    return c;
  }
  why.clear();
  const auto procs = all_processes(&why);
  if (!why.empty()) unreadable(std::move(why), 0);
  if (leader_ok) {
    for (const auto& p : procs) {
      // Members of the leader's group were all born after it.
      if (p.pid == *t.leader || (p.pgrp == *t.leader && p.start_time >= *t.leader_start)) add(p);
    }
    for (const auto& p : descendants_of(*t.leader, procs)) add(p);
  }
  if (t.monitor) {
    for (const auto& p : descendants_of(*t.monitor, procs)) add(p);
  }
  check_leader();
  return c;
}

namespace {

// Waits until every pinned process has ended or `timeout` passes (pidfds in
// epoll, bounded by a timerfd); returns how many still run.
std::size_t wait_pinned(const std::vector<UniqueFd>& fds, std::chrono::milliseconds timeout) {
  std::size_t alive = fds.size();
  if (alive == 0) return 0;
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  UniqueFd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC));
  if (!ep || !timer) return alive;
  for (const auto& fd : fds) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd.get();
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd.get(), &ev) != 0) --alive;
  }
  itimerspec its{};
  const auto ms = std::max<std::int64_t>(timeout.count(), 1);
  its.it_value.tv_sec = ms / 1000;
  its.it_value.tv_nsec = (ms % 1000) * 1'000'000;
  ::timerfd_settime(timer.get(), 0, &its, nullptr);
  epoll_event tev{};
  tev.events = EPOLLIN;
  tev.data.fd = timer.get();
  ::epoll_ctl(ep.get(), EPOLL_CTL_ADD, timer.get(), &tev);
  while (alive > 0) {
    epoll_event evs[64];
    const int n = ::epoll_wait(ep.get(), evs, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.fd == timer.get()) return alive;
      ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, evs[i].data.fd, nullptr);
      --alive;
    }
  }
  return alive;
}

// The task's cgroup directories: v2, then the v1 ones.
std::vector<std::filesystem::path> cgroup_dirs(const TaskProcesses& t) {
  std::vector<std::filesystem::path> dirs;
  if (!t.cgroup.empty()) dirs.emplace_back(t.cgroup);
  for (const auto& [ctl, dir] : t.v1) dirs.emplace_back(dir);
  return dirs;
}

// pidfds of the `hidden` cgroup members still listed in one of `dirs` once
// pinned: whoever has the pid then is a member of the task's cgroup.
std::vector<UniqueFd> pin_members(const std::vector<pid_t>& hidden, const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::pair<pid_t, UniqueFd>> pinned;
  for (const pid_t pid : hidden) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (fd) pinned.emplace_back(pid, std::move(fd));
  }
  std::set<pid_t> listed;
  if (!pinned.empty()) {
    for (const auto& dir : dirs) {
      for (const pid_t pid : osl::cgroup::pids(dir)) listed.insert(pid);
    }
  }
  std::vector<UniqueFd> out;
  for (auto& [pid, fd] : pinned) {
    if (listed.contains(pid)) out.push_back(std::move(fd));
  }
  return out;
}

// wait_gone over `pids` and the pinned `members` together.
WaitGone wait_all_gone(const std::vector<Pid>& pids, std::vector<UniqueFd> members, std::chrono::milliseconds timeout) {
  WaitGone result;
  for (const auto& p : pids) {
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, p.pid, 0)));
    if (!fd) continue;  // already gone (ESRCH)
    // Confirm it is still the same process, now that the pidfd pins it.
    const auto presence = process_presence(p.pid, p.start_time);
    if (presence == Presence::gone) continue;
    if (presence == Presence::unknown) {
      ++result.unverified;
      continue;
    }
    members.push_back(std::move(fd));
  }
  result.alive = wait_pinned(members, timeout);
  return result;
}

}  // namespace

WaitGone wait_gone(const std::vector<Pid>& pids, std::chrono::milliseconds timeout) { return wait_all_gone(pids, {}, timeout); }

namespace {

bool send(osl::System& system, const std::string& principal, const Pid& p, int signo) {
  const osl::process::Target target{p.pid, p.start_time};
  if (signo == SIGKILL) return system.run(principal, osl::process::Kill{target}).has_value();
  return system.run(principal, osl::process::Signal{target, signo}).has_value();
}

// The task's processes now, plus every process an earlier sweep found that
// still runs (same pid and start time) and what those have started since.
// Without a cgroup or a live monitor the group and the descendants are found
// through the leader: once SIGTERM has ended it, a member that ignored
// SIGTERM would no longer be found and would escape the SIGKILL sweeps, and
// so would a child it forks afterwards (a TERM trap that starts a process).
// So the sweep also takes the descendants of every known member still
// running, and the members of the leader's process group while a known
// member still belongs to it: a group id is not reused while the group has
// a member, so everything in it is the task's. `known` grows with what each
// sweep finds.
Collected sweep(const TaskProcesses& t, std::vector<Pid>& known) {
  auto found = collect_processes_checked(t);
  auto& now = found.pids;
  const auto listed = [](const std::vector<Pid>& v, pid_t pid, std::uint64_t start) {
    return std::any_of(v.begin(), v.end(), [&](const Pid& q) { return q.pid == pid && q.start_time == start; });
  };
  if (!known.empty()) {
    std::set<pid_t> seen(t.exclude.begin(), t.exclude.end());
    for (const auto& p : now) seen.insert(p.pid);
    const auto procs = all_processes();
    const auto add = [&](const ProcStat& p) {
      if (p.state != 'Z' && p.state != 'X' && seen.insert(p.pid).second) now.push_back(Pid{p.pid, p.start_time});
    };
    bool group_held = false;
    for (const auto& p : procs) {
      if (p.state == 'Z' || p.state == 'X' || !listed(known, p.pid, p.start_time)) continue;
      add(p);
      group_held = group_held || (t.leader && p.pgrp == *t.leader);
      for (const auto& d : descendants_of(p.pid, procs)) add(d);
    }
    if (group_held && t.leader_start) {
      for (const auto& p : procs) {
        if (p.pgrp == *t.leader && p.start_time >= *t.leader_start) add(p);
      }
    }
  }
  for (const auto& p : now) {
    if (!listed(known, p.pid, p.start_time)) known.push_back(p);
  }
  return found;
}

}  // namespace

std::size_t signal_task(osl::System& system, const std::string& principal, const TaskProcesses& t, int signo) {
  std::size_t n = 0;
  for (const auto& p : collect_processes(t)) n += send(system, principal, p, signo) ? 1 : 0;
  return n;
}

KillReport kill_task(osl::System& system, const std::string& principal, const TaskProcesses& t,
                     std::chrono::milliseconds grace, std::chrono::milliseconds sigkill_wait) {
  return kill_task(system, principal, t, grace, collect_processes_checked(t), sigkill_wait);
}

KillReport kill_task(osl::System& system, const std::string& principal, const TaskProcesses& t,
                     std::chrono::milliseconds grace, Collected found, std::chrono::milliseconds sigkill_wait) {
  KillReport report;
  report.method = t.cgroup.empty() ? KillMethod::signals : KillMethod::cgroup_kill;
  std::vector<Pid> known = found.pids;
  auto procs = std::move(found.pids);
  const auto dirs = cgroup_dirs(t);
  const std::vector<pid_t> hidden = std::move(found.hidden_members);
  report.found = procs.size() + hidden.size();
  if (report.found == 0) return report;
  // Cgroup members /proc hides run (cgroup.procs lists no zombie) but have
  // no start time to be told by: SIGTERM reaches them through the cgroup,
  // and so every member; the others found get it by pid. osl signals a
  // process listed in several of the task's cgroups (v2, v1 memory, v1
  // limits) once, and looks at every directory before signalling anyone: an
  // error (the policy refuses, a directory cannot be read) means nobody got
  // it, so every process found then gets SIGTERM by pid instead, once.
  std::set<pid_t> members;
  if (!hidden.empty()) {
    for (const auto& dir : dirs) {
      for (const pid_t pid : osl::cgroup::pids(dir)) members.insert(pid);
    }
    if (!system.run(principal, osl::cgroup::Kill{dirs, SIGTERM})) members.clear();
    (void)system.run(principal, osl::cgroup::Kill{dirs, SIGCONT});
  }
  for (const auto& p : procs) {
    if (members.contains(p.pid)) continue;
    send(system, principal, p, SIGTERM);
    send(system, principal, p, SIGCONT);  // a stopped process must run to see SIGTERM
  }
  // Those /proc cannot show are not counted as ended on SIGTERM; the SIGKILL
  // sweeps and the final one below judge them (unverified).
  auto pinned = pin_members(hidden, dirs);
  const WaitGone after_grace =
      grace.count() > 0 ? wait_all_gone(procs, std::move(pinned), grace) : WaitGone{.alive = procs.size() + pinned.size()};
  report.terminated = report.found - std::min(report.found, after_grace.alive + after_grace.unverified);
  // SIGKILL sweeps: a process forked during the grace period is found by the
  // next sweep; cgroup.kill covers forks racing with the sweep itself.
  // Bounded by `sigkill_wait` (kill_tree.hpp promises grace + about that): a
  // process SIGKILL cannot end (uninterruptible sleep, a frozen v1 freezer
  // cgroup) must not hold the caller — the daemon's sweep — for 50 rounds of
  // 5 s. The first round always runs.
  const auto kill_until = std::chrono::steady_clock::now() + sigkill_wait;
  for (int round = 0; round < 50 && (round == 0 || std::chrono::steady_clock::now() < kill_until); ++round) {
    auto swept = sweep(t, known);
    procs = std::move(swept.pids);
    if (procs.empty() && swept.hidden_members.empty()) break;
    // cgroup.kill through osl (policy-checked, audited like the SIGKILLs);
    // every cgroup of the task when one holds a member /proc hides.
    if (!t.cgroup.empty() || !swept.hidden_members.empty()) {
      const auto kill_dirs = swept.hidden_members.empty() ? std::vector<std::filesystem::path>{t.cgroup} : dirs;
      const auto k = system.run(principal, osl::cgroup::Kill{kill_dirs});
      if (!k || k->method != "cgroup.kill") report.method = KillMethod::signals;
    }
    // Also SIGKILL each found PID (through osl): covers a cgroup without
    // cgroup.kill and anything that escaped the cgroup. Already-dead targets
    // are refused by osl (start time or pidfd check) and harmless.
    for (const auto& p : procs) send(system, principal, p, SIGKILL);
    report.killed += procs.size() + swept.hidden_members.size();
    const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(kill_until - std::chrono::steady_clock::now());
    (void)wait_all_gone(procs, pin_members(swept.hidden_members, dirs),
                        std::clamp(remaining, std::chrono::milliseconds(1), std::chrono::milliseconds(5000)));
  }
  auto last = sweep(t, known);
  report.survivors = std::move(last.pids);
  // A member still listed runs: a survivor, whether or not /proc shows it.
  for (const pid_t pid : last.hidden_members) report.survivors.push_back(Pid{pid, 0});
  report.left = report.survivors.size();
  report.unverified = last.unreadable - std::min(last.unreadable, last.hidden_members.size());
  if (report.unverified > 0) report.unverified_reason = std::move(last.reason);
  return report;
}

}  // namespace airssys::watchdog
