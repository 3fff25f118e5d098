#include <airssys/rt/supervisor.hpp>

#include <airssys/rt/detail/cell.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <mutex>

namespace airssys::rt {

namespace detail {
// Filled once by the supervisor when its initial start succeeded or failed.
// Thread-safe: set() on a worker, wait_until() on the thread that started it.
struct StartReport {
  std::mutex m;
  std::condition_variable cv;
  std::optional<std::expected<void, Error>> result;

  void set(std::expected<void, Error> r) {
    {
      std::lock_guard lk(m);
      if (result) return;
      result = std::move(r);
    }
    cv.notify_all();
  }
  std::optional<std::expected<void, Error>> wait_until(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lk(m);
    cv.wait_until(lk, deadline, [&] { return result.has_value(); });
    return result;
  }
};
// What ActorSystem::health() shows of a supervisor. The supervisor updates
// it as it records restarts and as children start, exit and go; health()
// reads it on any thread. Per child an O(children) lookup, as the
// supervisor's own; nothing is rebuilt per event.
class SupervisorBoard final : public HealthSource {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  SupervisorBoard(int intensity, std::chrono::milliseconds period) {
    h_.intensity = intensity;
    h_.period = period;
  }
  void restart_recorded(TimePoint now) {
    std::lock_guard lk(m_);
    ++h_.restarts;
    window_.push_back(now);
    while (!window_.empty() && now - window_.front() > h_.period) window_.pop_front();
  }
  void exit_ignored() {
    std::lock_guard lk(m_);
    ++h_.ignored_exits;
  }
  void set_child(std::uint64_t key, ChildHealth c) {
    std::lock_guard lk(m_);
    for (auto& [k, v] : children_)
      if (k == key) {
        v = std::move(c);
        return;
      }
    children_.emplace_back(key, std::move(c));  // the supervisor appends children too: same order
  }
  void remove_child(std::uint64_t key) {
    std::lock_guard lk(m_);
    std::erase_if(children_, [&](const auto& kv) { return kv.first == key; });
  }
  void fill(ActorHealth& a, TimePoint now) const override {
    std::lock_guard lk(m_);
    SupervisorHealth s = h_;
    s.restarts_in_period = static_cast<std::uint32_t>(
        std::count_if(window_.begin(), window_.end(), [&](TimePoint t) { return now - t <= h_.period; }));
    s.children.reserve(children_.size());
    for (const auto& kv : children_) s.children.push_back(kv.second);
    a.supervisor = std::move(s);
  }

 private:
  mutable std::mutex m_;
  SupervisorHealth h_;  // children apart, with their keys
  std::vector<std::pair<std::uint64_t, ChildHealth>> children_;
  std::deque<TimePoint> window_;  // restart times within the period (as of the last restart)
};

}  // namespace detail

namespace {
Error not_found(const std::string& id) {
  return Error{ErrorCategory::not_found, "no child with id '" + id + "'"};
}
Error terminating() { return Error{ErrorCategory::actor_stopped, "the supervisor is terminating"}; }
// Dynamic replies are std::expected themselves: errors go in the inner one,
// as a synchronous handler would return them.
template <class R>
void answer(Promise<R>& p, Error e) {
  p.deliver(R(std::unexpected(std::move(e))));
}
}  // namespace

Supervisor::Supervisor(SupervisorFlags flags, std::vector<ChildSpec> specs, std::shared_ptr<detail::StartReport> report,
                       ActorId parent)
    : flags_(flags),
      parent_(parent),
      board_(std::make_shared<detail::SupervisorBoard>(flags.intensity, flags.period)),
      report_(std::move(report)) {
  children_.reserve(specs.size());
  for (auto& s : specs) children_.push_back(Child{std::move(s), {}, next_key_++});
}

void Supervisor::pre_start() {
  trap_exit(true);
  self_any().cell()->set_health_source(board_);
  for (auto& c : children_) sync(c);
  Op op;
  op.kind = Op::Kind::initial;
  for (auto& c : children_) op.to_start.push_back(c.key);
  begin(std::move(op));
}

void Supervisor::post_stop() {
  // Killed (or failed) before our start completed: whoever waits must not wait forever.
  if (report_ && !started_)
    report_->set(
        std::unexpected(Error{ErrorCategory::start_failed,
                              start_error_.empty() ? "supervisor terminated while starting" : start_error_}));
}

void Supervisor::when_started(std::move_only_function<void()> ack) {
  if (started_) {
    ack();
  } else if (!terminating_) {
    start_acks_.push_back(std::move(ack));
  }  // else: dropped; the waiting parent sees our exit signal instead
}

std::vector<ChildInfo> Supervisor::handle(WhichChildren&) {
  std::vector<ChildInfo> out;
  for (auto& c : children_)
    if (c.ref.valid()) out.push_back(ChildInfo{c.spec.id, c.ref});
  return out;
}

// ---- dynamic children: each request runs when no op is in progress ----

std::expected<AnyRef, Error> Supervisor::handle(StartChild& m) {
  request([this, spec = std::move(m.spec), p = defer_reply(m)]() mutable {
    if (find_id(spec.id)) {
      answer(p, Error{ErrorCategory::invalid_argument, "child id '" + spec.id + "' already exists"});
      return;
    }
    if (!spec.start) {
      answer(p, Error{ErrorCategory::invalid_argument, "child '" + spec.id + "' has no start function"});
      return;
    }
    const std::uint64_t key = next_key_++;
    children_.push_back(Child{std::move(spec), {}, key});
    sync(children_.back());
    Op op;
    op.kind = Op::Kind::dynamic_start;
    op.to_start.push_back(key);
    op.done = [this, key, p = std::move(p)](std::expected<AnyRef, Error> r) mutable {
      // OTP: a child that fails start_child is not kept.
      if (auto i = find_key(key); !r && i && !children_[*i].ref.valid()) erase_key(key);
      p.deliver(std::move(r));
    };
    begin(std::move(op));
  });
  return std::unexpected(terminating());  // not sent: the reply was deferred
}

std::expected<void, Error> Supervisor::handle(TerminateChild& m) {
  request([this, id = std::move(m.id), p = defer_reply(m)]() mutable {
    auto idx = find_id(id);
    if (!idx) {
      answer(p, not_found(id));
      return;
    }
    const std::uint64_t key = children_[*idx].key;
    Op op;
    op.kind = Op::Kind::terminate;
    op.to_stop.push_back(key);
    op.done = [this, key, p = std::move(p)](std::expected<AnyRef, Error>) mutable {
      if (auto i = find_key(key); i && children_[*i].spec.restart == Restart::temporary) erase_key(key);
      p.deliver(std::expected<void, Error>{});
    };
    begin(std::move(op));
  });
  return std::unexpected(terminating());
}

std::expected<AnyRef, Error> Supervisor::handle(RestartChild& m) {
  request([this, id = std::move(m.id), p = defer_reply(m)]() mutable {
    auto idx = find_id(id);
    if (!idx) {
      answer(p, not_found(id));
      return;
    }
    if (children_[*idx].ref.valid()) {
      answer(p, Error{ErrorCategory::invalid_argument, "child '" + id + "' is running"});
      return;
    }
    Op op;
    op.kind = Op::Kind::dynamic_start;
    op.to_start.push_back(children_[*idx].key);
    op.done = [p = std::move(p)](std::expected<AnyRef, Error> r) mutable { p.deliver(std::move(r)); };
    begin(std::move(op));
  });
  return std::unexpected(terminating());
}

std::expected<void, Error> Supervisor::handle(DeleteChild& m) {
  auto idx = find_id(m.id);
  if (!idx) return std::unexpected(not_found(m.id));
  const std::uint64_t key = children_[*idx].key;
  // A child that an op is about to start counts as running (OTP refuses too).
  const bool busy = children_[*idx].ref.valid() ||
                    (op_ && std::find(op_->to_start.begin(), op_->to_start.end(), key) != op_->to_start.end());
  if (busy)
    return std::unexpected(
        Error{ErrorCategory::invalid_argument, "child '" + m.id + "' is running; terminate it first"});
  erase_key(key);
  return {};
}

void Supervisor::request(std::move_only_function<void()> fn) {
  if (terminating_) return;  // fn's promise is dropped: the asker gets broken_promise
  requests_.push_back(std::move(fn));
  drain();
}

// Runs deferred child exits and queued requests while no op is in progress.
void Supervisor::drain() {
  while (!op_ && !terminating_ && started_) {
    if (!deferred_.empty()) {
      Deferred d = deferred_.front();
      deferred_.pop_front();
      auto idx = find_key(d.key);
      if (idx && !children_[*idx].ref.valid()) child_exited(*idx, d.reason);
    } else if (!requests_.empty()) {
      auto fn = std::move(requests_.front());
      requests_.pop_front();
      fn();
    } else {
      break;
    }
  }
}

// ---- lookups ----

std::optional<std::size_t> Supervisor::find(ActorId id) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].ref.valid() && children_[i].ref.id() == id) return i;
  return std::nullopt;
}

std::optional<std::size_t> Supervisor::find_key(std::uint64_t key) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].key == key) return i;
  return std::nullopt;
}

std::optional<std::size_t> Supervisor::find_id(const std::string& id) const {
  for (std::size_t i = 0; i < children_.size(); ++i)
    if (children_[i].spec.id == id) return i;
  return std::nullopt;
}

void Supervisor::erase_key(std::uint64_t key) {
  if (auto i = find_key(key)) children_.erase(children_.begin() + static_cast<std::ptrdiff_t>(*i));
  board_->remove_child(key);
}

void Supervisor::sync(const Child& c) {
  board_->set_child(c.key, ChildHealth{c.spec.id, c.ref.valid() ? c.ref.id() : 0, c.restarts, c.last_exit});
}

// A start function that is empty or throws is a failed start of that child,
// never a failure of the supervisor's own handler (which would tear the tree
// down without the ordered shutdown).
std::expected<AnyRef, Error> Supervisor::start_child_spec(ChildSpec& spec) {
  if (!spec.start) return std::unexpected(Error{ErrorCategory::invalid_argument, "no start function"});
  try {
    return spec.start(system(), self_any());
  } catch (const std::exception& e) {
    return std::unexpected(
        Error{ErrorCategory::start_failed, std::string("start function threw: ") + e.what()});
  } catch (...) {
    return std::unexpected(
        Error{ErrorCategory::start_failed, "start function threw a non-standard exception"});
  }
}

// ---- restart intensity and backoff ----

// Sliding window of restart times; false once more than `intensity` fall
// within `period`.
bool Supervisor::record_restart() {
  auto now = system().now();  // virtual time in deterministic simulations
  restarts_.push_back(now);
  board_->restart_recorded(now);
  while (!restarts_.empty() && now - restarts_.front() > flags_.period) restarts_.pop_front();
  return static_cast<int>(restarts_.size()) <= flags_.intensity;
}

// The n-th restart within the period (n = restarts_.size() >= 1) waits
// initial * multiplier^(n-1), capped at max.
std::chrono::milliseconds Supervisor::backoff_delay() const {
  const Backoff& b = flags_.backoff;
  if (b.initial.count() <= 0) return std::chrono::milliseconds{0};
  const double n = static_cast<double>(restarts_.empty() ? 0 : restarts_.size() - 1);
  const double ms = static_cast<double>(b.initial.count()) * std::pow(std::max(1.0, b.multiplier), n);
  const double cap = static_cast<double>(b.max.count());
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, cap)));
}

// ---- exits ----

void Supervisor::on_exit(const ExitSignal& s) {
  auto idx = find(s.from);
  if (!idx) {
    // OTP: an 'EXIT' from the parent ends the supervisor with the parent's
    // reason (gen_server's terminate; the children are stopped first); one
    // from any other process goes to handle_info, which ignores a pid that
    // is not a child. from == 0 is no actor: a plain thread or the system's
    // shutdown, the only way to stop a top-level tree, so it is obeyed too
    // (a normal one as shutdown: "stop", not "nothing happened").
    if (s.from == 0) {
      if (!terminating_) give_up(s.reason == ExitReason::normal ? ExitReason::shutdown : s.reason);
    } else if (s.from == parent_) {
      if (!terminating_) give_up(s.reason);
    } else {
      board_->exit_ignored();
    }
    return;
  }
  const std::uint64_t key = children_[*idx].key;
  children_[*idx].last_exit = s.reason;
  child_signal(*idx, s.reason);
  if (auto i = find_key(key)) sync(children_[*i]);
}

// An exit signal from the child at idx: restart it now, or once the op in
// progress is done, or let it move that op on.
void Supervisor::child_signal(std::size_t idx, ExitReason reason) {
  Child& c = children_[idx];
  const std::uint64_t key = c.key;
  if (!op_) {
    child_exited(idx, reason);
    return;
  }
  if (op_->pos < op_->to_stop.size()) {
    // Stop phase. A child of the op that is still to be stopped is skipped
    // later; the one we wait for moves the op on.
    if (std::find(op_->to_stop.begin() + static_cast<std::ptrdiff_t>(op_->pos), op_->to_stop.end(), key) !=
        op_->to_stop.end()) {
      c.ref = {};
      if (op_->to_stop[op_->pos] == key) {
        if (op_->timer != 0) cancel_timer(op_->timer);
        op_->timer = 0;
        ++op_->pos;
        advance();
      }
      return;
    }
  } else if (op_->waiting_start && op_->to_start[op_->start_pos] == key) {
    std::string text = c.ref.failure_text();
    c.ref = {};
    start_failed(idx, reason, text);
    return;
  }
  // Not part of the op (or already restarted by it): handle once it is done.
  c.ref = {};
  deferred_.push_back(Deferred{key, reason});
}

void Supervisor::child_exited(std::size_t idx, ExitReason reason) {
  Child& c = children_[idx];
  c.ref = {};
  const bool restart = c.spec.restart == Restart::permanent ||
                       (c.spec.restart == Restart::transient && is_abnormal(reason));
  if (!restart) {
    if (c.spec.restart == Restart::temporary) erase_key(c.key);
    return;
  }
  if (!record_restart()) {
    give_up(ExitReason::error);
    return;
  }
  Op op;
  op.kind = Op::Kind::restart;
  op.delay = backoff_delay();
  switch (flags_.strategy) {
    case Strategy::one_for_one:
      op.to_start.push_back(c.key);
      break;
    case Strategy::one_for_all:
      for (std::size_t i = children_.size(); i-- > 0;) op.to_stop.push_back(children_[i].key);
      for (auto& k : children_) op.to_start.push_back(k.key);
      break;
    case Strategy::rest_for_one:
      for (std::size_t i = children_.size(); i-- > idx + 1;) op.to_stop.push_back(children_[i].key);
      for (std::size_t i = idx; i < children_.size(); ++i) op.to_start.push_back(children_[i].key);
      break;
  }
  begin(std::move(op));
}

// The child we were starting exited (or could not be spawned) before it
// acknowledged its start.
void Supervisor::start_failed(std::size_t idx, ExitReason reason, const std::string& text) {
  const std::string id = children_[idx].spec.id;
  std::string msg = "child '" + id + "' failed to start: " + to_string(reason);
  if (!text.empty()) msg += ": " + text;
  switch (op_->kind) {
    case Op::Kind::initial:
      // OTP: a child that cannot be started fails the supervisor's start.
      start_error_ = std::move(msg);
      give_up(ExitReason::error);
      return;
    case Op::Kind::dynamic_start: {
      auto done = std::move(op_->done);
      op_.reset();
      if (done) done(std::unexpected(Error{ErrorCategory::start_failed, std::move(msg)}));
      drain();
      return;
    }
    default:
      // A failed restart counts like any other exit once the op is done
      // (and so towards the intensity: a restart storm ends).
      deferred_.push_back(Deferred{children_[idx].key, reason});
      op_->waiting_start = false;
      ++op_->start_pos;
      advance();
      return;
  }
}

void Supervisor::give_up(ExitReason reason) {
  terminating_ = true;
  if (op_ && op_->done) op_->done(std::unexpected(terminating()));
  Op op;
  op.kind = Op::Kind::give_up;
  for (std::size_t i = children_.size(); i-- > 0;) op.to_stop.push_back(children_[i].key);
  op.exit_reason = reason;
  op_.reset();  // a give-up supersedes any op in progress
  deferred_.clear();
  requests_.clear();    // their promises answer broken_promise
  start_acks_.clear();  // parents waiting for our start see our exit instead
  begin(std::move(op));
}

void Supervisor::begin(Op op) {
  op.gen = next_gen_++;
  op_ = std::move(op);
  advance();
}

// Stop phase: stop the next running child of to_stop and wait for its exit.
// Then (after any backoff) the start phase: start the next child of to_start
// and wait for it to acknowledge its start. Then complete().
void Supervisor::advance() {
  if (!op_ || op_->waiting_backoff || op_->waiting_start) return;
  const std::uint64_t gen = op_->gen;
  while (op_->pos < op_->to_stop.size()) {
    const std::uint64_t key = op_->to_stop[op_->pos];
    auto idx = find_key(key);
    if (!idx || !children_[*idx].ref.valid()) {
      ++op_->pos;
      continue;
    }
    Child& c = children_[*idx];
    if (c.spec.shutdown.brutal_kill) {
      c.ref.kill();
    } else {
      c.ref.stop();
      op_->timer = schedule(c.spec.shutdown.timeout, [this, gen, key] {
        if (!op_ || op_->gen != gen) return;
        op_->timer = 0;
        if (auto late = find_key(key); late && children_[*late].ref.valid()) children_[*late].ref.kill();
      });
    }
    return;  // wait for its exit signal
  }
  if (op_->kind == Op::Kind::give_up) {
    const ExitReason r = op_->exit_reason;
    op_.reset();
    // post_stop reports a failed start; the reason also reaches our parent
    // (its start error then names the child that failed down here).
    if (!start_error_.empty() && r == ExitReason::error) {
      fail(start_error_);
    } else {
      stop(r);
    }
    return;
  }
  if (op_->delay.count() > 0) {
    op_->waiting_backoff = true;
    op_->timer = schedule(op_->delay, [this, gen] {
      if (!op_ || op_->gen != gen) return;
      op_->timer = 0;
      op_->waiting_backoff = false;
      op_->delay = std::chrono::milliseconds{0};
      advance();
    });
    return;
  }
  while (op_->start_pos < op_->to_start.size()) {
    const std::uint64_t key = op_->to_start[op_->start_pos];
    auto idx = find_key(key);
    if (!idx || children_[*idx].ref.valid() ||
        (op_->kind == Op::Kind::restart && children_[*idx].spec.restart == Restart::temporary)) {
      ++op_->start_pos;  // deleted, already running, or temporary (removed in complete())
      continue;
    }
    Child& c = children_[*idx];
    auto r = start_child_spec(c.spec);
    if (!r) {
      start_failed(*idx, ExitReason::error, r.error().message);
      return;
    }
    c.ref = std::move(*r);
    if (op_->kind == Op::Kind::restart) ++c.restarts;
    sync(c);
    op_->waiting_start = true;
    after_started(c.ref, [this, gen, key] {
      if (!op_ || op_->gen != gen || !op_->waiting_start || op_->to_start[op_->start_pos] != key) return;
      op_->waiting_start = false;
      ++op_->start_pos;
      advance();
    });
    return;
  }
  complete();
}

void Supervisor::complete() {
  Op op = std::move(*op_);
  op_.reset();
  if (op.kind == Op::Kind::restart) {
    // Temporary children are not restarted: their specs go.
    for (std::uint64_t key : op.to_start)
      if (auto i = find_key(key); i && children_[*i].spec.restart == Restart::temporary && !children_[*i].ref.valid())
        erase_key(key);
  }
  if (op.kind == Op::Kind::initial) {
    started_ = true;
    if (report_) report_->set({});
    auto acks = std::move(start_acks_);
    for (auto& a : acks) a();
  }
  if (op.done) {
    AnyRef ref;
    if (!op.to_start.empty())
      if (auto i = find_key(op.to_start.back())) ref = children_[*i].ref;
    op.done(ref);
  }
  drain();
}

// ---- spawning ----

std::expected<SupervisorRef, Error> spawn_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                     std::vector<ChildSpec> children, SpawnOptions opts) {
  const ActorId parent = opts.link_to.id();
  return sys.spawn_with<Supervisor>(opts, flags, std::move(children), std::shared_ptr<detail::StartReport>(),
                                    parent);
}

std::expected<SupervisorRef, Error> start_supervisor(ActorSystem& sys, SupervisorFlags flags,
                                                     std::vector<ChildSpec> children,
                                                     std::chrono::milliseconds timeout, SpawnOptions opts) {
  if (detail::on_worker_thread())
    return std::unexpected(
        Error{ErrorCategory::invalid_argument, "start_supervisor blocks; use spawn_supervisor on a worker"});
  auto report = std::make_shared<detail::StartReport>();
  auto deadline = std::chrono::steady_clock::now() + timeout;
  const ActorId parent = opts.link_to.id();
  auto s = sys.spawn_with<Supervisor>(opts, flags, std::move(children), report, parent);
  if (!s) return s;
  auto r = report->wait_until(deadline);
  if (!r)
    return std::unexpected(
        Error{ErrorCategory::timeout, "supervisor children not started before the timeout"});
  if (!*r) return std::unexpected(r->error());
  return s;
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
