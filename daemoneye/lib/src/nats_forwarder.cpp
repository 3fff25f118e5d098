#include "nats_forwarder.hpp"

#include <fmt/format.h>

#include "nats_names.hpp"

namespace airssys::daemoneye::detail {

namespace {

using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 250ms;
constexpr std::chrono::milliseconds kMaxBackoff = 5s;

}  // namespace

bool publish_failure_is_permanent(natsStatus status, jsErrCode code) noexcept {
  if (status == NATS_MAX_PAYLOAD || status == NATS_INVALID_SUBJECT) return true;
  switch (code) {
    case JSStreamMessageExceedsMaximumErr:  // larger than the stream's max message size
    case JSBadRequestErr:                   // the server calls the request malformed
    case JSInvalidJSONErr:
    case JSStreamWrongLastMsgIDErr:         // an expectation about this message that cannot change
    case JSStreamWrongLastSequenceErr:
    case JSStreamSequenceNotMatchErr:
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<NatsForwarder>> NatsForwarder::open(const SinkConfig& config, NatsForwarderOptions options,
                                                          std::string_view who, std::shared_ptr<SinkCounters> counters,
                                                          SinkLog log) {
  const std::string w(who);
  if (auto ok = check_nats_url(config.url); !ok) return std::unexpected(ok.error().prefixed(w + ": url"));
  if (auto ok = check_nats_subject(config.subject); !ok) return std::unexpected(ok.error().prefixed(w + ": subject"));
  if (auto ok = check_nats_stream(config.stream); !ok) return std::unexpected(ok.error().prefixed(w + ": stream"));
  if (config.spool_dir.empty()) return fail(ErrorCategory::invalid_input, w + ": spool.dir is not set");
  auto spool = NatsSpool::open(config.spool_dir, config.spool_max_size, log, options.spool_name);
  if (!spool) return std::unexpected(spool.error().prefixed(w));
  auto nc = NatsConnection::connect(nats_connection_config(config), w);
  if (!nc) return std::unexpected(nc.error());
  if (!(*nc)->connected_at_start() && log) {
    log(fmt::format("nats {}: not reachable yet; {} are spooled in {} until it is", redact_nats_url(config.url),
                    options.what, config.spool_dir.string()));
  }
  auto js = (*nc)->jetstream();
  if (!js) return std::unexpected(js.error());
  return std::unique_ptr<NatsForwarder>(new NatsForwarder(config, std::move(options), std::move(*spool), std::move(*nc),
                                                          std::move(*js), std::move(counters), std::move(log)));
}

NatsForwarder::NatsForwarder(const SinkConfig& config, NatsForwarderOptions options, std::unique_ptr<NatsSpool> spool,
                             std::unique_ptr<NatsConnection> nc, JsCtxPtr js, std::shared_ptr<SinkCounters> counters,
                             SinkLog log)
    : options_(std::move(options)),
      subject_(config.subject),
      stream_(config.stream),
      timeout_(config.timeout),
      name_(fmt::format("nats {} stream {}", redact_nats_url(config.url), config.stream)),
      counters_(counters),
      spool_report_(name_ + " spool", counters, log),
      publish_report_(name_, std::move(counters), std::move(log)),
      spool_(std::move(spool)),
      nc_(std::move(nc)),
      js_(std::move(js)) {
  counters_->nats_spooled.fetch_add(spool_->size(), std::memory_order_relaxed);
  if (spool_->size() > 0) {
    publish_report_.log(fmt::format("{}: replaying {} {} left in {}", name_, spool_->size(), options_.what,
                                    spool_->path().string()));
  }
  // Compaction is done by the sender with the lock released (drop_front), so
  // that submit() never waits for a rewrite of the whole spool.
  spool_->defer_compaction(true);
  thread_ = std::thread([this] { run(); });
}

NatsForwarder::~NatsForwarder() {
  {
    const std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  // Ends a publish waiting for its ack; the message stays spooled.
  nc_->close();
  thread_.join();
  counters_->nats_spooled.fetch_sub(spool_->size(), std::memory_order_relaxed);
}

std::size_t NatsForwarder::drain(std::chrono::milliseconds max, std::chrono::milliseconds stalled) {
  const auto start = std::chrono::steady_clock::now();
  auto progress_at = start;
  std::size_t last = 0;
  {
    const std::lock_guard lock(mu_);
    last = spool_->size();
  }
  while (last > 0) {
    const auto now = std::chrono::steady_clock::now();
    if (now - start >= max || now - progress_at >= stalled) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::lock_guard lock(mu_);
    if (const std::size_t size = spool_->size(); size != last) {
      last = size;
      progress_at = std::chrono::steady_clock::now();
    }
  }
  return last;
}

void NatsForwarder::submit(std::vector<NatsSpool::Entry> entries) {
  const std::size_t count = entries.size();
  NatsSpool::Appended appended;
  std::size_t before = 0, after = 0;
  {
    const std::lock_guard lock(mu_);
    before = spool_->size();
    appended = spool_->append(std::move(entries));
    after = spool_->size();
  }
  cv_.notify_one();
  // Both under the lock; the gauge moves by the difference (drops can outnumber the new messages).
  if (after >= before) {
    counters_->nats_spooled.fetch_add(after - before, std::memory_order_relaxed);
  } else {
    counters_->nats_spooled.fetch_sub(before - after, std::memory_order_relaxed);
  }
  if (!appended.written) {
    spool_report_.failed(fmt::format("{}; these {} are kept in memory only until it works again",
                                     appended.written.error().message, options_.what),
                         count);
  } else {
    spool_report_.succeeded();
  }
  if (appended.dropped > 0) {
    counters_->nats_dropped.fetch_add(appended.dropped, std::memory_order_relaxed);
    if (!overflowing_.exchange(true)) {
      spool_report_.log(fmt::format("{}: spool full (spool.max_size); dropped the {} oldest {} (further drops are "
                                    "counted in nats.dropped)",
                                    name_, appended.dropped, options_.what));
    }
  }
}

Result<void> NatsForwarder::publish(const NatsSpool::Message& m, const std::string& subject) {
  natsMsg* raw = nullptr;
  natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, m.json.data(), static_cast<int>(m.json.size()));
  if (s != NATS_OK) return fail(ErrorCategory::internal, "cannot build a message: " + nats_status_text(s));
  const NatsMsgPtr msg(raw);
  s = natsMsgHeader_Set(raw, "Content-Type", "application/json");
  if (s != NATS_OK) return fail(ErrorCategory::internal, "cannot set a header: " + nats_status_text(s));
  jsPubOptions opts;
  jsPubOptions_Init(&opts);
  opts.MsgId = m.id.c_str();  // sent as the Nats-Msg-Id header
  opts.ExpectStream = stream_.c_str();
  opts.MaxWait = timeout_.count();
  jsPubAck* ack_raw = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  counters_->nats_published.fetch_add(1, std::memory_order_relaxed);
  s = js_PublishMsg(&ack_raw, js_.get(), raw, &opts, &jerr);
  const JsPubAckPtr ack(ack_raw);
  if (s == NATS_OK) return {};
  if (s == NATS_MAX_PAYLOAD || jerr == JSStreamMessageExceedsMaximumErr) {
    // resource_exhausted: no retry can ever succeed; holding it would stop every message behind it.
    return fail(ErrorCategory::resource_exhausted,
                fmt::format("the message ({} bytes) is larger than the server or stream {} accepts", m.json.size(),
                            stream_));
  }
  if (publish_failure_is_permanent(s, jerr)) {
    return fail(ErrorCategory::invalid_input,
                fmt::format("JetStream refused the message for good: error {} ({})", static_cast<int>(jerr),
                            nats_status_text(s)));
  }
  // Until a server answers, libnats fails a publish with whatever the
  // missing server INFO implies ("Not Supported By Server": no headers);
  // the operator needs to hear that nothing answers.
  if (natsConnection_Status(nc_->get()) != NATS_CONN_STATUS_CONNECTED) {
    return fail(ErrorCategory::unavailable,
                fmt::format("not connected: no server answers (libnats tries again every second; publish: {})",
                            nats_status_text(s)));
  }
  if (s == NATS_NO_RESPONDERS) {
    return fail(ErrorCategory::unavailable,
                fmt::format("no JetStream stream takes subject {} (create stream {} with that subject)", subject, stream_));
  }
  if (jerr != 0) {
    return fail(ErrorCategory::unavailable,
                fmt::format("JetStream refused the message: error {} ({}; is stream {} bound to subject {}?)",
                            static_cast<int>(jerr), nats_status_text(s), stream_, subject));
  }
  return fail(s == NATS_TIMEOUT ? ErrorCategory::timeout : ErrorCategory::unavailable,
              fmt::format("publish: {}", nats_status_text(s)));
}

void NatsForwarder::drop_front(std::uint64_t seq, std::atomic<std::uint64_t>& outcome) {
  Result<void> removed;
  std::optional<NatsSpool::Compaction> compaction;
  {
    const std::lock_guard lock(mu_);
    const std::size_t before = spool_->size();
    removed = spool_->ack(seq);
    const std::size_t after = spool_->size();
    if (after == 0) overflowing_ = false;
    // Counted under the lock that drain() reads the spool size under: whoever
    // sees the spool without the message also sees it counted. The gauge
    // moves before the outcome (release; stats() reads acked first, acquire),
    // so no reader sees a message acked and still spooled.
    counters_->nats_spooled.fetch_sub(before - after, std::memory_order_relaxed);
    outcome.fetch_add(1, std::memory_order_release);
    if (spool_->compaction_due()) compaction = spool_->begin_compaction();
  }
  if (compaction) {
    // Written and synced without the lock: submit() goes on appending to the old file meanwhile.
    auto tmp = spool_->write_compaction(*compaction);
    Result<void> done;
    if (!tmp) {
      done = std::unexpected(tmp.error());
      const std::lock_guard lock(mu_);
      spool_->compaction_failed();
    } else {
      const std::lock_guard lock(mu_);
      done = spool_->finish_compaction(*compaction, std::move(*tmp));
    }
    if (!done) publish_report_.log(fmt::format("{}: compacting the spool: {} (tried again later)", name_, done.error().message));
  }
  if (!removed) {
    publish_report_.log(fmt::format("{}: {} (the message may be sent again after a restart)", name_,
                                    removed.error().message));
  }
}

void NatsForwarder::count_reconnects() {
  const std::uint64_t reconnects = nc_->reconnects();
  if (reconnects > reconnects_seen_) {
    counters_->nats_reconnects.fetch_add(reconnects - reconnects_seen_, std::memory_order_relaxed);
    reconnects_seen_ = reconnects;
  }
}

void NatsForwarder::run() {
  auto backoff = kFirstBackoff;
  std::uint64_t subject_seq = 0;
  std::string subject;
  for (;;) {
    std::optional<NatsSpool::Message> m;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || spool_->size() > 0; });
      if (stopping_) return;
      m = spool_->front();
    }
    if (m->seq != subject_seq) {
      subject = options_.subject_of(*m);
      subject_seq = m->seq;
    }
    const Result<void> sent = publish(*m, subject);
    count_reconnects();
    if (sent) {
      drop_front(m->seq, counters_->nats_acked);
      publish_report_.succeeded();
      backoff = kFirstBackoff;
      continue;
    }
    {
      const std::lock_guard lock(mu_);
      if (stopping_) return;  // the close in the destructor ended it
    }
    const auto category = sent.error().category;
    if (category == ErrorCategory::resource_exhausted || category == ErrorCategory::invalid_input) {
      publish_report_.failed(fmt::format("{}; dropped", sent.error().message));
      drop_front(m->seq, counters_->nats_dropped);
      continue;
    }
    // The cause is the message before its parenthesis: "not connected: no
    // server answers" whatever libnats's status text says meanwhile, so a
    // run of one cause is one line and a new cause (the server is back but
    // the stream is missing) is another.
    const std::string_view why = sent.error().message;
    publish_report_.failed(fmt::format("{}; {} {} wait in the spool, retrying", why,
                                       counters_->nats_spooled.load(std::memory_order_relaxed), options_.what),
                           1, why.substr(0, why.find(" (")));
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, kMaxBackoff);
  }
}

}  // namespace airssys::daemoneye::detail
