// System::run for filesystem operations: resolve → pipeline → executor.

#include <airssys/osl/system.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <array>
#include <chrono>
#include <optional>
#include <utility>
#include <span>

#include "core/core.hpp"
#include "fs/fs_ops.hpp"

namespace airssys::osl {

namespace {

using detail::Check;
using detail::FollowFinal;
using detail::Missing;
using detail::Request;
using detail::Resolution;

Request single(OpKind kind, const Resolution& r) {
  Request req = Request::one(kind, r.resolved.path);
  (r.malformed ? req.invalid : req.pre_error) = r.error;
  return req;
}

// Runs a one-path operation: the executor gets the resolved path and holds
// an open-file slot while it runs.
template <class T, class Exec>
std::expected<T, Error> run_path_op(detail::Core& core, std::string_view principal, OpKind kind,
                                    const std::filesystem::path& path, FollowFinal follow, Missing missing,
                                    Exec&& exec) {
  Resolution r = detail::resolve_path(path, follow, missing);
  Request req = single(kind, r);
  return core.pipeline<T>(principal, std::move(req), [&](std::uint64_t) -> std::expected<T, Error> {
    auto slot = core.files().acquire(core.limits().wait);
    if (!slot) return std::unexpected(slot.error());
    return exec(r.resolved);
  });
}

// Deny rules on entries below the named path: the pipeline asked the policy
// only about the path itself. Entries need no allow of their own (an allow
// on the path covers its contents, as before); a matching deny keeps them.
// Audit-only policies let everything through, as for the path itself.
// Empty (nothing to ask) when no deny rule for `kind` applies to the principal.
detail::EntryVeto entry_veto(detail::Core& core, std::string_view principal, OpKind kind,
                             std::string from = {}, std::string to = {}) {
  Policy policy = core.policy();
  if (!policy.has_deny_rules(principal, kind)) return {};
  return [policy = std::move(policy), who = std::string(principal), kind, from = std::move(from),
          to = std::move(to)](std::string_view path) -> std::optional<std::string> {
    std::string moved_to;
    std::array<ResourceRef, 2> refs{ResourceRef{path}, ResourceRef{}};
    std::size_t n = 1;
    if (kind == OpKind::fs_rename) {  // the entry's path before and after the move
      moved_to = to + std::string(path.substr(from.size()));
      refs[1] = ResourceRef{moved_to};
      n = 2;
    }
    Decision d = policy.decide(who, kind, std::span<const ResourceRef>(refs.data(), n));
    if (d.allowed || !d.rule) return std::nullopt;
    return std::move(d.reason);
  };
}

}  // namespace

namespace {

// The fast road of fs.read and fs.stat: a path that is canonical by its text
// is opened in one openat2 from "/" that refuses every symlink; success
// proves the policy was asked about the object itself, with no pinned
// parent, no second open and no extra close. What it cannot prove (a
// symlink on the way, a missing file, a full slot pool, a denial) goes the
// full road, which resolves, asks and reports as before.
struct OpenTarget {
  detail::SlotToken slot;
  UniqueFd fd;
};

// The fast road's request: one per thread, filled again for each operation
// so that its vectors and the path's string keep their capacity (no
// allocation per operation). Nothing the fast road runs starts another
// operation on the same thread; if something ever did, the inner one would
// find the request busy and build its own. So does an operation run from a
// thread_local's destructor after the thread's request was destroyed.
class FastRequest {
 public:
  FastRequest(OpKind kind, const std::string& path) {
    if (!t_busy && !t_gone) {
      Request& r = t_req.req;
      if (r.checks.size() != 1) r = Request::one(kind, path);
      r.kind = kind;
      r.checks[0].kind = kind;
      r.checks[0].names[0].assign(path);
      t_busy = true;  // only once nothing above can throw
      req_ = &r;
      return;
    }
    own_ = Request::one(kind, path);
    req_ = &*own_;
  }
  ~FastRequest() {
    if (!own_) t_busy = false;
  }
  FastRequest(const FastRequest&) = delete;
  FastRequest& operator=(const FastRequest&) = delete;
  [[nodiscard]] const Request& get() const noexcept { return *req_; }

 private:
  struct PerThread {
    PerThread() = default;
    PerThread(const PerThread&) = delete;
    PerThread& operator=(const PerThread&) = delete;
    ~PerThread() { t_gone = true; }
    Request req{.kind = OpKind::fs_stat, .checks = {}};  // one check, one name, nothing else set
  };
  static thread_local PerThread t_req;
  static thread_local bool t_busy;
  // Set when t_req is destroyed; a bool has no destructor, so it can be read
  // until the thread ends.
  static thread_local bool t_gone;
  std::optional<Request> own_;
  const Request* req_ = nullptr;
};
thread_local FastRequest::PerThread FastRequest::t_req;
thread_local bool FastRequest::t_busy = false;
thread_local bool FastRequest::t_gone = false;

std::optional<OpenTarget> open_target(detail::Core& core, const std::string& path, int flags) {
  auto slot = core.files().acquire(std::chrono::milliseconds(0));
  if (!slot) return std::nullopt;
  const int fd = detail::open_canonical(path, flags);
  if (fd < 0) return std::nullopt;
  return OpenTarget{std::move(*slot), UniqueFd(fd)};
}

}  // namespace

std::expected<fs::Read::Result, Error> System::run(std::string_view principal, const fs::Read& op) {
  const std::string& path = op.path.native();
  if (detail::lexically_canonical(path)) {
    // Opened before the start record is queued: the open of a special file
    // (refused below as not a regular file) is the only thing that can
    // happen before the record, and only once the policy allowed fs.read.
    const FastRequest req(OpKind::fs_read, path);
    auto fast = core_->pipeline_prepared<std::string>(
        principal, req.get(),
        [&] { return open_target(*core_, path, O_RDONLY | O_NOCTTY | O_NONBLOCK); },
        [&](std::uint64_t, OpenTarget& t) { return detail::read_open_file(t.fd.get(), path, op); });
    if (fast) return std::move(*fast);
  }
  return run_path_op<std::string>(*core_, principal, OpKind::fs_read, op.path, FollowFinal::yes, Missing::fail,
                                  [&](const detail::ResolvedPath& p) { return detail::exec_read(p, op); });
}

std::expected<fs::Write::Result, Error> System::run(std::string_view principal, const fs::Write& op) {
  return run_path_op<fs::Write::Result>(*core_, principal, OpKind::fs_write, op.path, FollowFinal::yes, Missing::fail,
                                        [&](const detail::ResolvedPath& p) { return detail::exec_write(p, op); });
}

std::expected<Done, Error> System::run(std::string_view principal, const fs::CreateDir& op) {
  return run_path_op<Done>(*core_, principal, OpKind::fs_create_dir, op.path, FollowFinal::no,
                           op.recursive ? Missing::create_parents : Missing::fail,
                           [&](const detail::ResolvedPath& p) { return detail::exec_create_dir(p, op); });
}

std::expected<fs::List::Result, Error> System::run(std::string_view principal, const fs::List& op) {
  return run_path_op<fs::List::Result>(*core_, principal, OpKind::fs_list, op.path, FollowFinal::yes, Missing::fail,
                                       [&](const detail::ResolvedPath& p) { return detail::exec_list(p); });
}

std::expected<fs::FileInfo, Error> System::run(std::string_view principal, const fs::Stat& op) {
  const std::string& path = op.path.native();
  if (detail::lexically_canonical(path)) {
    // O_PATH opens nothing but the name: no driver's open, no atime. A final
    // symlink is opened itself (O_PATH|O_NOFOLLOW); followed, it declines.
    const FastRequest req(OpKind::fs_stat, path);
    auto fast = core_->pipeline_prepared<fs::FileInfo>(
        principal, req.get(),
        [&]() -> std::optional<std::pair<OpenTarget, struct ::stat>> {
          auto t = open_target(*core_, path, O_PATH);
          struct ::stat st {};
          if (!t || ::fstat(t->fd.get(), &st) != 0) return std::nullopt;
          if (S_ISLNK(st.st_mode) && op.follow_symlinks) return std::nullopt;
          return std::pair{std::move(*t), st};
        },
        [&](std::uint64_t, auto& t) -> std::expected<fs::FileInfo, Error> { return detail::file_info(t.second); });
    if (fast) return std::move(*fast);
  }
  return run_path_op<fs::FileInfo>(*core_, principal, OpKind::fs_stat, op.path,
                                   op.follow_symlinks ? FollowFinal::yes : FollowFinal::no, Missing::fail,
                                   [&](const detail::ResolvedPath& p) { return detail::exec_stat(p); });
}

std::expected<Done, Error> System::run(std::string_view principal, const fs::Delete& op) {
  return run_path_op<Done>(*core_, principal, OpKind::fs_delete, op.path, FollowFinal::no, Missing::fail,
                           [&](const detail::ResolvedPath& p) {
                             detail::EntryVeto veto;
                             if (op.recursive) veto = entry_veto(*core_, principal, OpKind::fs_delete);
                             return detail::exec_delete(p, op, veto);
                           });
}

std::expected<Done, Error> System::run(std::string_view principal, const fs::SetPermissions& op) {
  return run_path_op<Done>(*core_, principal, OpKind::fs_set_permissions, op.path, FollowFinal::yes, Missing::fail,
                           [&](const detail::ResolvedPath& p) { return detail::exec_set_permissions(p, op); });
}

std::expected<Done, Error> System::run(std::string_view principal, const fs::Rename& op) {
  Resolution from = detail::resolve_path(op.from, FollowFinal::no);
  Resolution to = detail::resolve_path(op.to, FollowFinal::no);
  Request req{.kind = OpKind::fs_rename,
              .checks = {Check{OpKind::fs_rename, {from.resolved.path, to.resolved.path}, {}}}};
  for (const Resolution* r : {&from, &to}) {
    auto& slot = r->malformed ? req.invalid : req.pre_error;
    if (r->error && !slot) slot = r->error;
  }
  return core_->pipeline<Done>(principal, std::move(req), [&](std::uint64_t) -> std::expected<Done, Error> {
    auto slot = core_->files().acquire(core_->limits().wait);
    if (!slot) return std::unexpected(slot.error());
    return detail::exec_rename(from.resolved, to.resolved, op,
                               entry_veto(*core_, principal, OpKind::fs_rename, from.resolved.path, to.resolved.path));
  });
}

}  // namespace airssys::osl
