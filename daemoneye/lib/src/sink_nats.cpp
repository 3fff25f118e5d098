// The nats sink: every alert is published to NATS JetStream and counts as
// delivered only when the stream acks it (docs/daemoneye.md "Forwarding to
// NATS JetStream").
//
// deliver() appends the batch to the on-disk spool (NatsSpool: written and
// fdatasynced before it returns, so an accepted alert survives a crash) and
// wakes the sender thread. The sender publishes the oldest spooled alert
// with js_PublishMsg (ExpectStream = the configured stream, Nats-Msg-Id set)
// and waits for the ack (the sink's timeout); only then is it removed from
// the spool and the next one sent. One alert in flight at a time keeps them
// in order across outages and restarts. A failed publish is retried with
// backoff from 250 ms to 5 s while libnats reconnects on its own; the spool
// holds everything meanwhile (bounded by spool.max_size: the oldest are
// dropped, counted and logged). A publish whose ack was lost is sent again
// with the same Nats-Msg-Id, and JetStream drops the copy within its
// duplicate window. The one failure never retried: an alert larger than the
// server's max_payload or the stream's max message size is dropped (counted
// in nats_dropped, logged), since it would hold every alert behind it.
//
// The connection is made once, in the factory, with retry-on-failed-connect:
// an unreachable server at start is not an error, a bad TLS file is. It is
// only used by the sender thread; the destructor closes it to cut a publish
// in flight short (that alert stays spooled for the next start).
// Logs name the servers without user:password and never a token, password
// or credentials.
#include <nats/nats.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/evp.h>

#include "alert_sink.hpp"
#include "nats_connection.hpp"
#include "nats_names.hpp"
#include "nats_spool.hpp"

namespace airssys::daemoneye::detail {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 250ms;
constexpr std::chrono::milliseconds kMaxBackoff = 5s;

using Msg = NatsMsgPtr;
using Ack = JsPubAckPtr;

std::string status_text(natsStatus s) { return nats_status_text(s); }

// "<dedup key>|<host>|<time>": the same for every retry of one alert, so
// JetStream drops a re-sent copy; a later raise of the same condition
// (after the dedup window) has another time and is a new message. Without
// a dedup key: the alert JSON's SHA-256.
std::string message_id(const Alert& a, const std::string& json) {
  if (!a.dedup_key.empty()) return fmt::format("{}|{}|{}", a.dedup_key, a.host, a.time);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(json.data(), json.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", digest[i]);
  return fmt::format("sha256:{}|{}|{}", hex, a.host, a.time);
}

// The alert's host from its JSON (the spool keeps only the JSON and the id).
std::string host_of(const std::string& json) {
  const auto j = nlohmann::json::parse(json, nullptr, false);
  if (j.is_object()) {
    const auto it = j.find("host");
    if (it != j.end() && it->is_string()) return it->get<std::string>();
  }
  return {};
}

class NatsSink final : public Sink {
 public:
  NatsSink(const SinkConfig& config, std::unique_ptr<NatsSpool> spool, std::unique_ptr<NatsConnection> nc, JsCtxPtr js,
           std::shared_ptr<SinkCounters> counters, SinkLog log)
      : subject_(config.subject),
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
      publish_report_.log(fmt::format("{}: replaying {} alerts left in {}", name_, spool_->size(), spool_->path().string()));
    }
    thread_ = std::thread([this] { run(); });
  }

  ~NatsSink() override {
    {
      const std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    // Ends a publish waiting for its ack; the alert stays spooled.
    nc_->close();
    thread_.join();
    counters_->nats_spooled.fetch_sub(spool_->size(), std::memory_order_relaxed);
  }

  NatsSink(const NatsSink&) = delete;
  NatsSink& operator=(const NatsSink&) = delete;

  void deliver(std::span<const Delivery> batch) override {
    std::vector<NatsSpool::Entry> entries;
    entries.reserve(batch.size());
    for (const Delivery& d : batch) entries.push_back({message_id(*d.alert, *d.json), *d.json});
    NatsSpool::Appended appended;
    std::size_t before = 0, after = 0;
    {
      const std::lock_guard lock(mu_);
      before = spool_->size();
      appended = spool_->append(std::move(entries));
      after = spool_->size();
    }
    cv_.notify_one();
    // Both under the lock; the gauge moves by the difference (drops can outnumber the new alerts).
    if (after >= before) {
      counters_->nats_spooled.fetch_add(after - before, std::memory_order_relaxed);
    } else {
      counters_->nats_spooled.fetch_sub(before - after, std::memory_order_relaxed);
    }
    if (!appended.written) {
      spool_report_.failed(fmt::format("{}; these alerts are kept in memory only until it works again",
                                       appended.written.error().message),
                           batch.size());
    } else {
      spool_report_.succeeded();
    }
    if (appended.dropped > 0) {
      counters_->nats_dropped.fetch_add(appended.dropped, std::memory_order_relaxed);
      if (!overflowing_.exchange(true)) {
        spool_report_.log(fmt::format("{}: spool full (spool.max_size); dropped the {} oldest alerts (further drops are "
                                      "counted in nats.dropped)",
                                      name_, appended.dropped));
      }
    }
  }

 private:
  // Sender thread only. Publishes one alert and waits for its ack.
  Result<void> publish(const NatsSpool::Message& m, const std::string& subject) {
    natsMsg* raw = nullptr;
    natsStatus s = natsMsg_Create(&raw, subject.c_str(), nullptr, m.json.data(), static_cast<int>(m.json.size()));
    if (s != NATS_OK) return fail(ErrorCategory::internal, "cannot build a message: " + status_text(s));
    const Msg msg(raw);
    s = natsMsgHeader_Set(raw, "Content-Type", "application/json");
    if (s != NATS_OK) return fail(ErrorCategory::internal, "cannot set a header: " + status_text(s));
    jsPubOptions opts;
    jsPubOptions_Init(&opts);
    opts.MsgId = m.id.c_str();  // sent as the Nats-Msg-Id header
    opts.ExpectStream = stream_.c_str();
    opts.MaxWait = timeout_.count();
    jsPubAck* ack_raw = nullptr;
    jsErrCode jerr = static_cast<jsErrCode>(0);
    counters_->nats_published.fetch_add(1, std::memory_order_relaxed);
    s = js_PublishMsg(&ack_raw, js_.get(), raw, &opts, &jerr);
    const Ack ack(ack_raw);
    if (s == NATS_OK) return {};
    if (s == NATS_MAX_PAYLOAD || jerr == JSStreamMessageExceedsMaximumErr) {
      // No retry can ever succeed; holding it would stop every alert behind it.
      return fail(ErrorCategory::resource_exhausted,
                  fmt::format("the alert ({} bytes) is larger than the server or stream {} accepts", m.json.size(), stream_));
    }
    if (s == NATS_NO_RESPONDERS) {
      return fail(ErrorCategory::unavailable,
                  fmt::format("no JetStream stream takes subject {} (create stream {} with that subject)", subject, stream_));
    }
    if (jerr != 0) {
      return fail(ErrorCategory::unavailable,
                  fmt::format("JetStream refused the alert: error {} ({}; is stream {} bound to subject {}?)",
                              static_cast<int>(jerr), status_text(s), stream_, subject));
    }
    return fail(s == NATS_TIMEOUT ? ErrorCategory::timeout : ErrorCategory::unavailable,
                fmt::format("publish: {}", status_text(s)));
  }

  // Sender thread only: the alert `seq` leaves the spool (acked, or refused for good).
  void drop_front(std::uint64_t seq) {
    Result<void> removed;
    std::size_t before = 0, after = 0;
    {
      const std::lock_guard lock(mu_);
      before = spool_->size();
      removed = spool_->ack(seq);
      after = spool_->size();
      if (after == 0) overflowing_ = false;
    }
    counters_->nats_spooled.fetch_sub(before - after, std::memory_order_relaxed);
    if (!removed) {
      publish_report_.log(
          fmt::format("{}: {} (the alert may be sent again after a restart)", name_, removed.error().message));
    }
  }

  // Sender thread only: libnats's reconnect count into the counters.
  void count_reconnects() {
    const std::uint64_t reconnects = nc_->reconnects();
    if (reconnects > reconnects_seen_) {
      counters_->nats_reconnects.fetch_add(reconnects - reconnects_seen_, std::memory_order_relaxed);
      reconnects_seen_ = reconnects;
    }
  }

  void run() {
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
        subject = expand_nats_subject(subject_, host_of(m->json));
        subject_seq = m->seq;
      }
      const Result<void> sent = publish(*m, subject);
      count_reconnects();
      if (sent) {
        counters_->nats_acked.fetch_add(1, std::memory_order_relaxed);
        publish_report_.succeeded();
        backoff = kFirstBackoff;
        drop_front(m->seq);
        continue;
      }
      {
        const std::lock_guard lock(mu_);
        if (stopping_) return;  // the close in the destructor ended it
      }
      if (sent.error().category == ErrorCategory::resource_exhausted) {
        publish_report_.failed(fmt::format("{}; dropped", sent.error().message));
        counters_->nats_dropped.fetch_add(1, std::memory_order_relaxed);
        drop_front(m->seq);
        continue;
      }
      publish_report_.failed(fmt::format("{}; {} alerts wait in the spool, retrying", sent.error().message,
                                         counters_->nats_spooled.load(std::memory_order_relaxed)));
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, kMaxBackoff);
    }
  }

  const std::string subject_;
  const std::string stream_;
  const std::chrono::milliseconds timeout_;
  const std::string name_;
  const std::shared_ptr<SinkCounters> counters_;
  FailureReporter spool_report_;    // submitting thread
  FailureReporter publish_report_;  // sender thread, except log() from the constructor
  std::uint64_t reconnects_seen_ = 0;  // sender thread

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<NatsSpool> spool_;  // guarded by mu_
  bool stopping_ = false;             // guarded by mu_
  std::atomic<bool> overflowing_{false};
  std::unique_ptr<NatsConnection> nc_;  // thread-safe (libnats); closed by the destructor
  JsCtxPtr js_;                          // after nc_: destroyed first
  std::thread thread_;  // last: started when everything above exists
};

}  // namespace

Result<std::unique_ptr<Sink>> make_nats_sink(const SinkConfig& config, std::shared_ptr<SinkCounters> counters,
                                             SinkLog log) {
  if (auto ok = check_nats_url(config.url); !ok) return std::unexpected(ok.error().prefixed("nats sink: url"));
  if (auto ok = check_nats_subject(config.subject); !ok) return std::unexpected(ok.error().prefixed("nats sink: subject"));
  if (auto ok = check_nats_stream(config.stream); !ok) return std::unexpected(ok.error().prefixed("nats sink: stream"));
  if (config.spool_dir.empty()) return fail(ErrorCategory::invalid_input, "nats sink: spool.dir is not set");
  auto spool = NatsSpool::open(config.spool_dir, config.spool_max_size, log);
  if (!spool) return std::unexpected(spool.error().prefixed("nats sink"));
  auto nc = NatsConnection::connect(nats_connection_config(config), "nats sink");
  if (!nc) return std::unexpected(nc.error());
  if (!(*nc)->connected_at_start() && log) {
    log(fmt::format("nats {}: not reachable yet; alerts are spooled in {} until it is", redact_nats_url(config.url),
                    config.spool_dir.string()));
  }
  auto js = (*nc)->jetstream();
  if (!js) return std::unexpected(js.error());
  return std::make_unique<NatsSink>(config, std::move(*spool), std::move(*nc), std::move(*js), std::move(counters),
                                    std::move(log));
}

}  // namespace airssys::daemoneye::detail
