#include <airssys/daemoneye/differ.hpp>

#include <algorithm>
#include <unordered_map>

namespace airssys::daemoneye {

namespace {

struct Identity {
  std::int64_t pid;
  std::uint64_t start_ticks;
  bool operator==(const Identity&) const = default;
};

struct IdentityHash {
  std::size_t operator()(const Identity& k) const noexcept {
    return std::hash<std::uint64_t>{}(static_cast<std::uint64_t>(k.pid) * 0x9e3779b97f4a7c15ull ^ k.start_ticks);
  }
};

ProcessEvent event(EventKind kind, const ProcessRecord& r, std::int64_t now) {
  return ProcessEvent{.kind = kind, .source = EventSource::poll, .time = now, .process = r};
}

}  // namespace

bool image_changed(const ProcessRecord& before, const ProcessRecord& after) noexcept {
  const bool inode_known = before.exe_ino != 0 && after.exe_ino != 0;
  if (inode_known) return before.exe_dev != after.exe_dev || before.exe_ino != after.exe_ino;
  return !before.path.empty() && !after.path.empty() && before.path != after.path;
}

void carry_over_zombies(std::span<const ProcessRecord> previous, std::span<ProcessRecord> current) {
  auto lost_image = [](const ProcessRecord& r) {
    return (r.state == "Z" || r.state == "X") && r.path.empty() && r.cmdline.empty();
  };
  if (std::none_of(current.begin(), current.end(), lost_image)) return;
  std::unordered_map<Identity, const ProcessRecord*, IdentityHash> before;
  before.reserve(previous.size());
  for (const auto& r : previous) before.emplace(Identity{r.pid, r.start_ticks}, &r);
  for (auto& r : current) {
    if (!lost_image(r)) continue;
    auto it = before.find(Identity{r.pid, r.start_ticks});
    if (it == before.end()) continue;
    const ProcessRecord& p = *it->second;
    r.path = p.path;
    r.cmdline = p.cmdline;
    r.cwd = p.cwd;
    r.root = p.root;
    r.exe_dev = p.exe_dev;
    r.exe_ino = p.exe_ino;
    r.sha256 = p.sha256;
    r.on_disk = p.on_disk;
    r.root_is_host = p.root_is_host;
    r.host_on_disk = p.host_on_disk;
  }
}

std::vector<ProcessEvent> diff(std::span<const ProcessRecord> previous, std::span<const ProcessRecord> current,
                               std::int64_t now) {
  std::unordered_map<Identity, const ProcessRecord*, IdentityHash> before;
  before.reserve(previous.size());
  for (const auto& r : previous) before.emplace(Identity{r.pid, r.start_ticks}, &r);

  std::vector<ProcessEvent> stops, execs;
  std::vector<const ProcessRecord*> starts;
  for (const auto& r : current) {
    auto it = before.find(Identity{r.pid, r.start_ticks});
    if (it == before.end()) {
      starts.push_back(&r);
      continue;
    }
    if (image_changed(*it->second, r)) {
      execs.push_back(event(EventKind::exec, r, now));
      // The collection read it from /proc/PID/exe, after the exec.
      if (!r.path.empty()) execs.back().path_from = PathFrom::proc;
    }
    before.erase(it);
  }
  // What is left in `before` has gone; report in the previous collection's order.
  for (const auto& r : previous) {
    if (before.contains(Identity{r.pid, r.start_ticks})) stops.push_back(event(EventKind::stop, r, now));
  }
  std::sort(starts.begin(), starts.end(), [](const ProcessRecord* a, const ProcessRecord* b) {
    return a->start_ticks != b->start_ticks ? a->start_ticks < b->start_ticks : a->pid < b->pid;
  });

  std::vector<ProcessEvent> out;
  out.reserve(stops.size() + execs.size() + starts.size());
  for (auto& e : stops) out.push_back(std::move(e));
  for (auto& e : execs) out.push_back(std::move(e));
  for (const auto* r : starts) out.push_back(event(EventKind::start, *r, now));
  return out;
}

}  // namespace airssys::daemoneye
