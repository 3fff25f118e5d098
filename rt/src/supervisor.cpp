#include <airssys/rt/supervisor.hpp>

#include <algorithm>

namespace airssys::rt {

Supervisor::Supervisor(SupervisorFlags flags, std::vector<ChildSpec> specs) : flags_(flags) {
  children_.reserve(specs.size());
  for (auto& s : specs) children_.push_back(Child{std::move(s), {}});
}

void Supervisor::pre_start() {
  trap_exit(true);
  for (std::size_t i = 0; i < children_.size(); ++i) {
    if (!start_child(i)) {
      // OTP: a child that cannot be started fails the supervisor's start.
      // Stop the ones already started (reverse order), then fail.
      give_up(ExitReason::error);
      return;
    }
  }
}

std::vector<ChildInfo> Supervisor::handle(WhichChildren&) {
  std::vector<ChildInfo> out;
  for (auto& c : children_)
    if (c.ref.valid()) out.push_back(ChildInfo{c.spec.id, c.ref});
  return out;
}

std::optional<std::size_t> Supervisor::find(ActorId id) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].ref.valid() && children_[i].ref.id() == id) return i;
  return std::nullopt;
}

bool Supervisor::start_child(std::size_t idx) {
  Child& c = children_[idx];
  auto r = c.spec.start(system(), self_any());
  if (!r) {
    c.ref = {};
    return false;
  }
  c.ref = std::move(*r);
  return true;
}

// Sliding window of restart times; false once more than `intensity` fall
// within `period`.
bool Supervisor::record_restart() {
  auto now = std::chrono::steady_clock::now();
  restarts_.push_back(now);
  while (!restarts_.empty() && now - restarts_.front() > flags_.period) restarts_.pop_front();
  return static_cast<int>(restarts_.size()) <= flags_.intensity;
}

void Supervisor::on_exit(const ExitSignal& s) {
  auto idx = find(s.from);
  if (!idx) {
    // Not a child: the parent (or the system) tells us to go. Normal exits
    // of non-children are ignored, as in OTP.
    if (s.reason == ExitReason::normal && s.from != 0) return;
    if (!terminating_) give_up(s.reason == ExitReason::normal ? ExitReason::shutdown : s.reason);
    return;
  }
  if (op_) {
    children_[*idx].ref = {};
    const bool part = std::find(op_->to_stop.begin(), op_->to_stop.end(), *idx) != op_->to_stop.end();
    if (!part) {
      // Handled once the op is done, by child index (the ref is gone now).
      deferred_.push_back(ExitSignal{static_cast<ActorId>(*idx), s.reason});
      return;
    }
    // Part of the op: if it is the child we are waiting for, move on; the
    // op skips children that are no longer running anyway.
    if (op_->pos < op_->to_stop.size() && op_->to_stop[op_->pos] == *idx) {
      if (op_->timer != 0) cancel_timer(op_->timer);
      op_->timer = 0;
      ++op_->pos;
      advance();
    }
    return;
  }
  child_exited(*idx, s.reason);
}

void Supervisor::child_exited(std::size_t idx, ExitReason reason) {
  Child& c = children_[idx];
  c.ref = {};
  const bool restart = c.spec.restart == Restart::permanent ||
                       (c.spec.restart == Restart::transient && is_abnormal(reason));
  if (!restart) {
    if (c.spec.restart == Restart::temporary) children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(idx));
    return;
  }
  if (!record_restart()) {
    give_up(ExitReason::error);
    return;
  }
  Op op;
  switch (flags_.strategy) {
    case Strategy::one_for_one:
      if (!start_child(idx)) child_exited(idx, ExitReason::error);
      return;
    case Strategy::one_for_all:
      for (std::size_t i = children_.size(); i-- > 0;) op.to_stop.push_back(i);
      for (std::size_t i = 0; i < children_.size(); ++i) op.to_restart.push_back(i);
      break;
    case Strategy::rest_for_one:
      for (std::size_t i = children_.size(); i-- > idx + 1;) op.to_stop.push_back(i);
      for (std::size_t i = idx; i < children_.size(); ++i) op.to_restart.push_back(i);
      break;
  }
  begin(std::move(op));
}

void Supervisor::give_up(ExitReason reason) {
  terminating_ = true;
  Op op;
  for (std::size_t i = children_.size(); i-- > 0;) op.to_stop.push_back(i);
  op.exit_after = true;
  op.exit_reason = reason;
  op_.reset();  // a give-up supersedes any op in progress
  deferred_.clear();
  begin(std::move(op));
}

void Supervisor::begin(Op op) {
  op.gen = next_gen_++;
  op_ = std::move(op);
  advance();
}

// Stop the next running child in op_->to_stop, or finish.
void Supervisor::advance() {
  while (op_ && op_->pos < op_->to_stop.size()) {
    Child& c = children_[op_->to_stop[op_->pos]];
    if (!c.ref.valid()) {
      ++op_->pos;
      continue;
    }
    if (c.spec.shutdown.brutal_kill) {
      c.ref.kill();
    } else {
      c.ref.stop();
      const std::uint64_t gen = op_->gen;
      const std::size_t pos = op_->pos;
      op_->timer = schedule(c.spec.shutdown.timeout, [this, gen, pos] {
        if (op_ && op_->gen == gen && op_->pos == pos) {
          op_->timer = 0;
          Child& late = children_[op_->to_stop[pos]];
          if (late.ref.valid()) late.ref.kill();
        }
      });
    }
    return;  // wait for its exit signal
  }
  if (op_) finish();
}

void Supervisor::finish() {
  Op op = std::move(*op_);
  op_.reset();
  if (op.exit_after) {
    stop(op.exit_reason);
    return;
  }
  // Restart in start order. Temporary children are not restarted: drop them
  // (from the back so indices stay valid).
  std::vector<std::size_t> temporary;
  for (std::size_t i : op.to_restart) {
    if (children_[i].spec.restart == Restart::temporary) {
      temporary.push_back(i);
      continue;
    }
    if (!start_child(i)) {
      give_up(ExitReason::error);
      return;
    }
  }
  std::sort(temporary.rbegin(), temporary.rend());
  for (std::size_t i : temporary) children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(i));
  // Failures that arrived during the op, by child index. (If temporaries
  // were removed the indices may have shifted; such a deferred failure is
  // resolved against the nearest surviving child.)
  while (!op_ && !deferred_.empty() && !terminating_) {
    ExitSignal s = deferred_.front();
    deferred_.pop_front();
    auto idx = static_cast<std::size_t>(s.from);
    if (idx < children_.size() && !children_[idx].ref.valid()) child_exited(idx, s.reason);
  }
}

std::expected<SupervisorRef, Error> spawn_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                     std::vector<ChildSpec> children, SpawnOptions opts) {
  return sys.spawn_with<Supervisor>(opts, flags, std::move(children));
}

ChildSpec supervisor_spec(std::string id, SupervisorFlags flags, std::vector<ChildSpec> children, Restart restart) {
  ChildSpec s;
  s.id = std::move(id);
  s.restart = restart;
  s.shutdown = Shutdown::after(std::chrono::milliseconds(60000));  // OTP: infinity for supervisors
  s.start = [flags, children = std::move(children)](ActorSystem& sys,
                                                    const AnyRef& parent) -> std::expected<AnyRef, Error> {
    SpawnOptions o;
    o.link_to = parent;
    auto r = spawn_supervisor(sys, flags, children, o);
    if (!r) return std::unexpected(r.error());
    return AnyRef(r->cell());
  };
  return s;
}

}  // namespace airssys::rt
