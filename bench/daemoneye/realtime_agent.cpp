#include "realtime_agent.hpp"

#include "host.hpp"
#include "stats.hpp"

#include <airssys/daemoneye/agent_status.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>
#include <thread>

extern char** environ;

namespace airssys::daemoneye::bench {

using namespace std::chrono_literals;

std::vector<std::string> environment_without_daemoneye() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    if (!std::string_view(*e).starts_with("DAEMONEYE_")) env.emplace_back(*e);
  }
  if (env.empty()) env.emplace_back("PATH=/usr/bin:/bin");
  return env;
}

std::expected<TierAgent, std::string> TierAgent::start(const std::string& agent_bin, const std::string& work_dir,
                                                       const std::string& tier, std::chrono::seconds limit) {
  TierAgent a;
  a.tier = tier;
  a.dir = work_dir + "/" + tier;
  const std::string var = a.dir + "/var", rules = a.dir + "/rules";
  for (const auto& d : {a.dir, var, rules}) {
    if (::mkdir(d.c_str(), 0700) != 0) return std::unexpected(d + ": " + std::strerror(errno));
  }
  a.db = var + "/daemoneye.db";
  a.log = a.dir + "/agent.log";
  a.status_path = status_file_for(a.db).string();
  const std::string config = a.dir + "/config.yaml";
  const std::string yaml = "database: { path: " + a.db + " }\nscan: { interval: 1s }\nrules: { dir: " + rules +
                           " }\nalerts: { sinks: [] }\nprocmond: { events: " + tier + " }\n";
  if (auto w = write_new_file(config, yaml); !w) return std::unexpected(w.error());
  auto child = Child::spawn({agent_bin, "--config", config}, EndWith::sigterm,
                            {.stdout_path = a.log, .stderr_path = a.log, .env = environment_without_daemoneye()});
  if (!child) return std::unexpected(child.error());
  a.agent = std::move(*child);

  const auto t0 = Clock::now();
  std::string last = "no status file yet";
  while (Clock::now() - t0 < limit) {
    std::this_thread::sleep_for(100ms);
    if (!a.alive()) return std::unexpected("daemoneye-agent exited during start:\n" + a.log_tail());
    auto st = read_status_file(a.status_path);
    if (!st) {
      last = st.error().message;
      continue;
    }
    if (!*st || !(*st)->procmond_status || (*st)->scans < 1 || !(*st)->procmond.running) continue;
    const auto& pm = *(*st)->procmond_status;
    if (to_string(pm.tier) != tier) {
      return std::unexpected("procmond runs tier " + std::string(to_string(pm.tier)) + ", not " + tier + ": " +
                             pm.tier_reason);
    }
    a.procmond = static_cast<pid_t>((*st)->procmond.pid);
    return a;
  }
  return std::unexpected("not ready within " + std::to_string(limit.count()) + " s (" + last + "):\n" + a.log_tail());
}

std::expected<ProcmondStatus, std::string> TierAgent::procmond_status() const {
  auto st = read_status_file(status_path);
  if (!st) return std::unexpected(st.error().message);
  if (!*st || !(*st)->procmond_status) return std::unexpected(status_path + ": no procmond status");
  return *(*st)->procmond_status;
}

std::expected<ProcmondStatus, std::string> TierAgent::procmond_status_after(std::int64_t after) const {
  const auto t0 = Clock::now();
  std::string last;
  while (Clock::now() - t0 < 10s) {
    auto s = procmond_status();
    if (s && s->time > after) return s;
    if (!s) last = s.error();
    std::this_thread::sleep_for(200ms);
  }
  return std::unexpected("no procmond status newer than " + std::to_string(after) + " within 10 s " + last);
}

bool TierAgent::alive() const {
  if (agent.pid() <= 0) return false;
  siginfo_t info{};
  // WNOWAIT: the exit stays to be reaped by Child (which untracks it first).
  return ::waitid(P_PID, static_cast<id_t>(agent.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == 0;
}

std::string TierAgent::log_tail() const {
  auto t = read_text(log);
  if (!t) return "(no log: " + t.error() + ")";
  return t->size() > 2000 ? t->substr(t->size() - 2000) : *t;
}

std::string sources_json(const ProcmondStatus& s) {
  std::string out = "\"sources\":{";
  for (std::size_t i = 0; i < kEventSources; ++i) {
    const auto& c = s.sources[i];
    if (i) out += ",";
    out += "\"" + std::string(to_string(static_cast<EventSource>(i))) + "\":{\"events\":" + std::to_string(c.events) +
           ",\"dropped\":" + std::to_string(c.dropped) + ",\"lost\":" + std::to_string(c.lost) + "}";
  }
  return out + "}";
}

ProcmondStatus counters_delta(const ProcmondStatus& before, const ProcmondStatus& after) {
  ProcmondStatus d = after;
  for (std::size_t i = 0; i < kEventSources; ++i) {
    d.sources[i].events -= before.sources[i].events;
    d.sources[i].dropped -= before.sources[i].dropped;
    d.sources[i].lost -= before.sources[i].lost;
  }
  return d;
}

}  // namespace airssys::daemoneye::bench
