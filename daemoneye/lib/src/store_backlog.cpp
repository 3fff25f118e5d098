#include <airssys/daemoneye/store_backlog.hpp>

#include <algorithm>

namespace airssys::daemoneye {

StoreBacklog::StoreBacklog(StoreBacklogOptions options) : options_(options) {
  options_.max_batches = std::max<std::size_t>(options_.max_batches, 1);
}

std::size_t StoreBacklog::estimated_bytes(const ProcessEvent& e) noexcept {
  const ProcessRecord& p = e.process;
  return sizeof(ProcessEvent) + p.name.size() + p.path.size() + p.cmdline.size() + p.cwd.size() + p.root.size() +
         p.username.size() + p.state.size() + p.cgroup_path.size() + p.tty.size() + p.sha256.size() +
         p.container_id.size() + e.path_given.size() + e.host_path.size();
}

void StoreBacklog::add_events(std::vector<ProcessEvent> batch) {
  if (batch.empty()) return;
  Batch b;
  for (const auto& e : batch) b.bytes += estimated_bytes(e);
  b.events = std::move(batch);
  bytes_ += b.bytes;
  events_pending_ += b.events.size();
  batches_.push_back(std::move(b));
  // The newest batch is kept even when it alone is over max_bytes: it is
  // what procmond just sent, and the older ones are what the snapshot of
  // the next collection partly replaces.
  while (batches_.size() > 1 && (batches_.size() > options_.max_batches || bytes_ > options_.max_bytes)) drop_oldest();
}

void StoreBacklog::drop_oldest() noexcept {
  Batch& b = batches_.front();
  bytes_ -= b.bytes;
  events_pending_ -= b.events.size();
  dropped_ += b.events.size();
  batches_.pop_front();
}

Result<void> StoreBacklog::write_events(Store& store, Clock::time_point now, bool force) {
  if (batches_.empty() || (!force && !due(now))) return {};
  while (!batches_.empty()) {
    Batch& b = batches_.front();
    if (auto r = store.append_events(b.events); !r) {
      failed(r.error(), now);
      return std::unexpected(r.error());
    }
    bytes_ -= b.bytes;
    events_pending_ -= b.events.size();
    batches_.pop_front();
    succeeded();
  }
  return {};
}

void StoreBacklog::keep_collection(Collection c) {
  if (collection_) ++superseded_;
  collection_ = std::move(c);
}

std::optional<Collection> StoreBacklog::take_collection() {
  std::optional<Collection> out = std::move(collection_);
  collection_.reset();
  return out;
}

void StoreBacklog::failed(const Error& e, Clock::time_point now) {
  ++failures_;
  last_error_ = e.to_string();
  backoff_ = backoff_.count() == 0 ? options_.retry_initial : std::min(backoff_ * 2, options_.retry_max);
  retry_at_ = now + backoff_;
}

void StoreBacklog::succeeded() noexcept {
  retry_at_.reset();
  backoff_ = std::chrono::milliseconds(0);
}

bool StoreBacklog::due(Clock::time_point now) const noexcept { return !retry_at_ || now >= *retry_at_; }

std::uint64_t StoreBacklog::drop_all() noexcept {
  const std::uint64_t n = events_pending_;
  dropped_ += n;
  batches_.clear();
  bytes_ = 0;
  events_pending_ = 0;
  collection_.reset();
  return n;
}

StoreBacklogCounters StoreBacklog::counters() const {
  return {.store_failures = failures_,
          .batches_pending = batches_.size() + (collection_ ? 1u : 0u),
          .events_pending = events_pending_,
          .events_dropped = dropped_,
          .snapshots_superseded = superseded_,
          .last_error = last_error_};
}

}  // namespace airssys::daemoneye
