// cgroup.create / attach / kill / remove through the pipeline (cgroup.hpp).
// Planning reads only (the layout, cgroup.controllers); every directory an
// operation would touch is a resource of its policy check.

#include <airssys/osl/cgroup.hpp>
#include <airssys/osl/system.hpp>

#include <unistd.h>

#include <algorithm>
#include <ranges>

#include <fmt/format.h>

#include <airssys/osl/detail/shown_text.hpp>

#include "core/core.hpp"
#include "platform/linux_cgroup.hpp"

namespace airssys::osl {

namespace {

using Files = std::vector<std::pair<std::string, std::string>>;  // file → value

// One limit: its controller, and the files it is written to.
struct Want {
  std::string controller;
  Files v2_files;
  Files v1_files;
  std::vector<std::string> optional;  // files that may be missing (then skipped)
};

std::vector<Want> wanted(const cgroup::Limits& l) {
  std::vector<Want> out;
  if (l.memory_bytes) {
    const auto v = std::to_string(*l.memory_bytes);
    // Limit first, then memsw (which must stay >= the limit): no swapping past it.
    out.push_back(Want{"memory", {{"memory.max", v}, {"memory.swap.max", "0"}},
                       {{"memory.limit_in_bytes", v}, {"memory.memsw.limit_in_bytes", v}},
                       {"memory.memsw.limit_in_bytes", "memory.swap.max"}});
  }
  if (l.cpus) {
    const auto line = cgroup::cpu_max_line(*l.cpus);
    const auto quota = line.substr(0, line.find(' '));
    out.push_back(Want{"cpu", {{"cpu.max", line}},
                       {{"cpu.cfs_period_us", std::to_string(cgroup::kCpuPeriodUsec)}, {"cpu.cfs_quota_us", quota}}, {}});
  }
  if (l.pids) {
    const auto v = std::to_string(*l.pids);
    out.push_back(Want{"pids", {{"pids.max", v}}, {{"pids.max", v}}, {}});
  }
  return out;
}

bool name_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '@' || c == '+' || c == ':';
}

std::optional<std::string> bad_name(std::string_view name) {
  if (name.empty()) return "a cgroup name is required";
  if (name.size() > 1024) return "the cgroup name is longer than 1024 bytes";
  for (const auto seg : std::views::split(name, '/')) {
    const std::string_view s(seg.begin(), seg.end());
    if (s.empty() || s == "." || s == ".." || !std::all_of(s.begin(), s.end(), name_char)) {
      return fmt::format("invalid cgroup name '{}': a relative path of segments made of letters, digits and . _ - @ + : "
                         "(not '.' or '..')", detail::shown_text(name, detail::kShownPathMax));
    }
  }
  return std::nullopt;
}

// What create will do, decided before the policy is asked.
struct Plan {
  std::optional<std::filesystem::path> v2_base;  // own v2 cgroup
  std::optional<std::filesystem::path> v2;       // the cgroup to make there
  std::string v2_error;
  std::string enable;                  // "+memory +pids": controllers to enable on the v2 path
  std::vector<const Want*> v2_wants;
  std::vector<std::pair<const Want*, std::filesystem::path>> v1;  // want → its v1 cgroup
  std::optional<std::filesystem::path> accounting;                // best-effort v1 memory cgroup
  std::optional<Error> error;
};

Plan plan_create(const cgroup::Layout& layout, const cgroup::Create& op, const std::vector<Want>& wants) {
  Plan p;
  if (auto bad = bad_name(op.name)) {
    p.error = Error::make(ErrorCategory::invalid_argument, *bad);
    return p;
  }
  if (!layout.v2_mount) {
    p.v2_error = "no cgroup v2 hierarchy is mounted";
  } else if (auto base = cgroup::own_v2_dir(layout)) {
    p.v2_base = *base;
    p.v2 = *base / op.name;
  } else {
    p.v2_error = fmt::format("unexpected own cgroup path '{}'", detail::shown_text(layout.v2_self, detail::kShownPathMax));
  }
  const auto v2_controllers = p.v2_base ? detail::cgroup_words(*p.v2_base / "cgroup.controllers") : std::set<std::string>{};
  for (const auto& w : wants) {
    if (v2_controllers.contains(w.controller)) {
      p.enable += fmt::format("{}+{}", p.enable.empty() ? "" : " ", w.controller);
      p.v2_wants.push_back(&w);
      continue;
    }
    const auto base = cgroup::own_v1_dir(layout, w.controller);
    if (!base) {
      p.error = Error::make(ErrorCategory::unsupported,
                            fmt::format("{} limit: no {} controller (not in the v2 cgroup.controllers{}, and no v1 {} "
                                        "hierarchy is mounted)", w.controller, w.controller,
                                        p.v2 ? "" : fmt::format(" — no v2 cgroup: {}", p.v2_error), w.controller));
      return p;
    }
    p.v1.emplace_back(&w, *base / op.name);
  }
  if (op.account_memory && !op.limits.memory_bytes && !v2_controllers.contains("memory")) {
    if (const auto base = cgroup::own_v1_dir(layout, "memory")) p.accounting = *base / op.name;
  }
  if (!p.v2 && p.v1.empty()) p.error = Error::make(ErrorCategory::unsupported, p.v2_error);
  return p;
}

// Makes the missing parents of `leaf` below `base` (kept afterwards: other
// cgroups share them).
std::expected<void, Error> make_parents(const std::filesystem::path& base, const std::filesystem::path& leaf) {
  std::filesystem::path at = base;
  const auto rel = leaf.lexically_relative(base).parent_path();
  for (const auto& seg : rel) {
    at /= seg;
    if (auto r = detail::cgroup_mkdir(at, /*reuse_empty=*/false); !r && r.error().category != ErrorCategory::already_exists &&
                                                                  r.error().errno_value != EEXIST) {
      return std::unexpected(r.error());
    }
  }
  return {};
}

std::expected<void, Error> write_files(const std::filesystem::path& dir, const Files& files,
                                       const std::vector<std::string>& optional) {
  for (const auto& [file, value] : files) {
    const bool may_miss = std::find(optional.begin(), optional.end(), file) != optional.end();
    if (may_miss && ::access((dir / file).c_str(), F_OK) != 0) continue;
    if (auto r = detail::cgroup_write(dir / file, value); !r) return r;
  }
  return {};
}

std::expected<void, Error> check_procs_writable(const std::filesystem::path& dir) {
  if (::access((dir / "cgroup.procs").c_str(), W_OK) != 0) {
    return std::unexpected(Error::from_errno(errno, fmt::format("cannot write {}/cgroup.procs", detail::shown_path(dir.native()))));
  }
  return {};
}

std::expected<cgroup::Group, Error> execute_create(const Plan& p, const cgroup::Layout& layout) {
  cgroup::Group g;
  g.v2_error = p.v2_error;
  std::vector<std::filesystem::path> made;
  auto fail = [&](Error e, const std::string& controller = {}) -> std::expected<cgroup::Group, Error> {
    for (auto it = made.rbegin(); it != made.rend(); ++it) (void)detail::cgroup_rmdir(*it);
    if (!controller.empty()) e.message = controller + " limit: " + e.message;
    return std::unexpected(std::move(e));
  };
  auto make = [&](const std::filesystem::path& base, const std::filesystem::path& dir) -> std::expected<void, Error> {
    if (auto r = make_parents(base, dir); !r) return r;
    auto r = detail::cgroup_mkdir(dir, /*reuse_empty=*/true);
    if (!r) return std::unexpected(r.error());
    if (*r) made.push_back(dir);
    return check_procs_writable(dir);
  };
  if (p.v2) {
    if (auto r = make(*p.v2_base, *p.v2); !r) return fail(r.error());
    g.v2 = *p.v2;
    g.v2_error.clear();
    if (!p.enable.empty()) {
      // Every level from our own cgroup down to the new one's parent.
      std::filesystem::path level = *p.v2_base;
      std::vector<std::filesystem::path> levels{level};
      for (const auto& seg : p.v2->lexically_relative(*p.v2_base).parent_path()) levels.push_back(level /= seg);
      for (const auto& l : levels) {
        if (auto r = detail::cgroup_write(l / "cgroup.subtree_control", p.enable); !r) {
          Error e = r.error();
          e.message = fmt::format("cannot enable the cgroup v2 controllers ({}): {} (a v2 cgroup that holds processes "
                                  "cannot delegate controllers; run in a cgroup with delegation)", p.enable, e.message);
          return fail(std::move(e), p.v2_wants.front()->controller);
        }
      }
    }
    for (const Want* w : p.v2_wants) {
      if (auto r = write_files(*p.v2, w->v2_files, w->optional); !r) return fail(r.error(), w->controller);
    }
  }
  for (const auto& [w, dir] : p.v1) {
    const auto base = cgroup::own_v1_dir(layout, w->controller);
    if (auto r = make(*base, dir); !r) return fail(r.error(), w->controller);
    g.v1.emplace(w->controller, dir);
    if (auto r = write_files(dir, w->v1_files, w->optional); !r) return fail(r.error(), w->controller);
  }
  if (p.accounting) {
    const auto base = cgroup::own_v1_dir(layout, "memory");
    if (make(*base, *p.accounting)) g.v1.emplace("memory", *p.accounting);  // best effort
  }
  return g;
}

// A directory named by a caller: absolute, no "." or "..", no NUL.
std::optional<Error> bad_dirs(const std::vector<std::filesystem::path>& dirs) {
  if (dirs.empty()) return Error::make(ErrorCategory::invalid_argument, "no cgroup directory given");
  for (const auto& d : dirs) {
    const auto& s = d.native();
    bool dots = false;
    for (const auto& seg : d) dots |= seg == "." || seg == "..";
    if (!d.is_absolute() || dots || s.find('\0') != std::string::npos) {
      return Error::make(ErrorCategory::invalid_argument,
                         fmt::format("cgroup directory '{}' must be an absolute path without '.' or '..'",
                                     detail::shown_text(s, detail::kShownPathMax)));
    }
  }
  return std::nullopt;
}

std::vector<std::string> names_of(const std::vector<std::filesystem::path>& dirs) {
  std::vector<std::string> out;
  for (const auto& d : dirs) out.push_back(d.lexically_normal().string());
  return out;
}

detail::Request dirs_request(OpKind kind, const std::vector<std::filesystem::path>& dirs, std::string detail_json = {}) {
  return detail::Request{.kind = kind,
                         .checks = {detail::Check{kind, names_of(dirs), {}}},
                         .invalid = bad_dirs(dirs),
                         .detail_json = std::move(detail_json)};
}

// A signal other than SIGKILL is named in the record's detail. Only the
// signals that end a process (or let a stopped one see that it should) are
// accepted: a policy rule names the operation, not the signal, so a rule
// allowing cgroup.kill must not also allow SIGSTOP or SIGUSR1 to every member.
detail::Request kill_request(const cgroup::Kill& op) {
  auto req = dirs_request(OpKind::cgroup_kill, op.dirs, op.signo == SIGKILL ? std::string() : fmt::format(R"({{"signal":{}}})", op.signo));
  const bool accepted = op.signo == SIGKILL || op.signo == SIGTERM || op.signo == SIGINT || op.signo == SIGCONT;
  if (!req.invalid && !accepted) {
    req.invalid = Error::make(ErrorCategory::invalid_argument,
                              fmt::format("cgroup.kill sends SIGKILL, SIGTERM, SIGINT or SIGCONT only, not signal {}", op.signo));
  }
  return req;
}

}  // namespace

std::expected<cgroup::Group, Error> System::run(std::string_view principal, const cgroup::Create& op) {
  const cgroup::Layout layout = op.layout ? *op.layout : cgroup::detect_layout();
  const auto wants = wanted(op.limits);
  const Plan plan = plan_create(layout, op, wants);
  // In Group::dirs() order: v2, then v1 by controller.
  std::vector<std::string> dirs;
  if (plan.v2) dirs.push_back(plan.v2->string());
  std::map<std::string, std::string> v1;
  for (const auto& [w, dir] : plan.v1) v1.emplace(w->controller, dir.string());
  if (plan.accounting) v1.emplace("memory", plan.accounting->string());
  for (auto& [ctl, dir] : v1) dirs.push_back(std::move(dir));
  if (dirs.empty()) dirs.push_back(op.name);  // refused before the policy is asked; the record names it
  std::string limits;
  if (op.limits.memory_bytes) limits += fmt::format(R"(,"memory_bytes":{})", *op.limits.memory_bytes);
  if (op.limits.cpus) limits += fmt::format(R"(,"cpus":{})", *op.limits.cpus);
  if (op.limits.pids) limits += fmt::format(R"(,"pids":{})", *op.limits.pids);
  detail::Request req{.kind = OpKind::cgroup_create,
                      .checks = {detail::Check{OpKind::cgroup_create, std::move(dirs), {}}},
                      .invalid = plan.error,
                      .detail_json = limits.empty() ? std::string() : "{" + limits.substr(1) + "}"};
  return core_->pipeline<cgroup::Group>(principal, std::move(req),
                                        [&](std::uint64_t) { return execute_create(plan, layout); });
}

std::expected<Done, Error> System::run(std::string_view principal, const cgroup::Attach& op) {
  auto req = dirs_request(OpKind::cgroup_attach, op.dirs, fmt::format(R"({{"pid":{}}})", op.pid));
  if (!req.invalid && op.pid <= 0) req.invalid = Error::make(ErrorCategory::invalid_argument, fmt::format("invalid pid {}", op.pid));
  return core_->pipeline<Done>(principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    for (const auto& d : op.dirs) {
      if (auto r = detail::cgroup_write(d / "cgroup.procs", std::to_string(op.pid)); !r) return std::unexpected(r.error());
    }
    return Done{};
  });
}

std::expected<cgroup::KillResult, Error> System::run(std::string_view principal, const cgroup::Kill& op) {
  return core_->pipeline<cgroup::KillResult>(
      principal, kill_request(op), [&](std::uint64_t) -> std::expected<cgroup::KillResult, Error> {
        if (op.signo != SIGKILL) return detail::cgroup_signal_all(op.dirs, op.signo);
        cgroup::KillResult total;
        for (const auto& d : op.dirs) {
          auto r = detail::cgroup_kill_all(d);
          if (!r) return std::unexpected(r.error());
          if (total.method.empty()) total.method = r->method;
          total.signalled += r->signalled;
        }
        return total;
      });
}

std::expected<Done, Error> System::run(std::string_view principal, const cgroup::Remove& op) {
  return core_->pipeline<Done>(principal, dirs_request(OpKind::cgroup_remove, op.dirs),
                               [&](std::uint64_t) -> std::expected<Done, Error> {
                                 std::optional<Error> first;
                                 for (const auto& d : op.dirs) {
                                   if (auto r = detail::cgroup_rmdir(d); !r && !first) first = r.error();
                                 }
                                 if (first) return std::unexpected(*first);
                                 return Done{};
                               });
}

}  // namespace airssys::osl
