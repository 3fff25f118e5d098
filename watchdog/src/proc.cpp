#include <airssys/watchdog/proc.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <memory>

namespace airssys::watchdog {

std::optional<ProcStat> parse_proc_stat(std::string_view line) {
  // "PID (comm) S PPID PGRP …": comm may hold spaces and ')', so split at the last ')'.
  ProcStat st;
  auto sp = line.find(' ');
  auto close = line.rfind(')');
  if (sp == std::string_view::npos || close == std::string_view::npos || close + 2 >= line.size()) return std::nullopt;
  if (std::from_chars(line.data(), line.data() + sp, st.pid).ec != std::errc{}) return std::nullopt;
  std::string_view rest = line.substr(close + 2);
  // Fields from 3 (state) on.
  int field = 3;
  while (!rest.empty() && field <= 24) {
    auto end = rest.find(' ');
    std::string_view f = rest.substr(0, end);
    switch (field) {
      case 3: st.state = f.empty() ? '?' : f[0]; break;
      case 4: std::from_chars(f.data(), f.data() + f.size(), st.ppid); break;
      case 5: std::from_chars(f.data(), f.data() + f.size(), st.pgrp); break;
      case 14:
      case 15: {
        std::uint64_t v = 0;
        std::from_chars(f.data(), f.data() + f.size(), v);
        st.cpu_ticks += v;
        break;
      }
      case 22: std::from_chars(f.data(), f.data() + f.size(), st.start_time); break;
      case 24: std::from_chars(f.data(), f.data() + f.size(), st.rss_pages); break;
      default: break;
    }
    ++field;
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (field <= 22) return std::nullopt;
  return st;
}

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  const auto path = fmt::format("/proc/{}/stat", pid);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  std::string_view line(buf, static_cast<std::size_t>(n));
  while (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  return parse_proc_stat(line);
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir("/proc"), ::closedir);
  if (!dir) return out;
  while (const dirent* e = ::readdir(dir.get())) {
    pid_t pid = 0;
    const std::string_view name(e->d_name);
    if (std::from_chars(name.data(), name.data() + name.size(), pid).ec != std::errc{} || pid <= 0) continue;
    if (auto st = read_proc_stat(pid)) out.push_back(*st);
  }
  return out;
}

bool process_gone(pid_t pid, std::optional<std::uint64_t> start_time) {
  auto st = read_proc_stat(pid);
  if (!st) return true;
  if (st->state == 'Z' || st->state == 'X') return true;
  return start_time && st->start_time != *start_time;
}

std::vector<ProcStat> descendants_of(pid_t root, const std::vector<ProcStat>& procs) {
  std::multimap<pid_t, const ProcStat*> children;
  for (const auto& p : procs) children.emplace(p.ppid, &p);
  std::vector<ProcStat> out;
  std::vector<pid_t> todo{root};
  while (!todo.empty() && out.size() < procs.size()) {
    const pid_t parent = todo.back();
    todo.pop_back();
    auto [b, e] = children.equal_range(parent);
    for (auto it = b; it != e; ++it) {
      if (it->second->pid == root) continue;
      out.push_back(*it->second);
      todo.push_back(it->second->pid);
    }
  }
  return out;
}

}  // namespace airssys::watchdog
