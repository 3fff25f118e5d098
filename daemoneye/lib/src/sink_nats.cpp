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
#include "nats_names.hpp"
#include "nats_spool.hpp"

namespace airssys::daemoneye::detail {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr std::chrono::milliseconds kFirstBackoff = 250ms;
constexpr std::chrono::milliseconds kMaxBackoff = 5s;

struct OptionsDeleter {
  void operator()(natsOptions* o) const noexcept { natsOptions_Destroy(o); }
};
struct ConnectionDeleter {
  void operator()(natsConnection* c) const noexcept { natsConnection_Destroy(c); }
};
struct JsDeleter {
  void operator()(jsCtx* j) const noexcept { jsCtx_Destroy(j); }
};
struct MsgDeleter {
  void operator()(natsMsg* m) const noexcept { natsMsg_Destroy(m); }
};
struct AckDeleter {
  void operator()(jsPubAck* a) const noexcept { jsPubAck_Destroy(a); }
};
struct StatsDeleter {
  void operator()(natsStatistics* s) const noexcept { natsStatistics_Destroy(s); }
};
using Options = std::unique_ptr<natsOptions, OptionsDeleter>;
using Connection = std::unique_ptr<natsConnection, ConnectionDeleter>;
using Js = std::unique_ptr<jsCtx, JsDeleter>;
using Msg = std::unique_ptr<natsMsg, MsgDeleter>;
using Ack = std::unique_ptr<jsPubAck, AckDeleter>;
using Stats = std::unique_ptr<natsStatistics, StatsDeleter>;

// With retry-on-failed-connect, libnats connects in the background only if
// given a callback; the sender needs no signal (it retries on its own).
void on_connected(natsConnection*, void*) {}

std::string status_text(natsStatus s) { return natsStatus_GetText(s); }

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

Result<Options> make_options(const SinkConfig& c) {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) {
    return fail(ErrorCategory::resource_exhausted, "nats sink: " + status_text(s));
  }
  Options o(raw);
  const auto check = [](natsStatus s, std::string_view what) -> Result<void> {
    if (s == NATS_OK) return {};
    // What failed and libnats's words for it (a file name, an SSL error; never a secret).
    const char* detail = nats_GetLastError(nullptr);
    return fail(s == NATS_NOT_FOUND || s == NATS_SSL_ERROR || s == NATS_INVALID_ARG ? ErrorCategory::invalid_input
                                                                                    : ErrorCategory::unavailable,
                fmt::format("nats sink: {}: {}", what, detail != nullptr && *detail != '\0' ? detail : status_text(s).c_str()));
  };
  Result<void> r = check(natsOptions_SetURL(raw, c.url.c_str()), "url");
  if (r) r = check(natsOptions_SetName(raw, "daemoneye-agent"), "name");
  if (r) r = check(natsOptions_SetTimeout(raw, c.timeout.count()), "timeout");
  if (r) r = check(natsOptions_SetMaxReconnect(raw, -1), "max reconnect");
  if (r) r = check(natsOptions_SetReconnectWait(raw, 1000), "reconnect wait");
  if (r) r = check(natsOptions_SetRetryOnFailedConnect(raw, true, &on_connected, nullptr), "retry on failed connect");
  if (r && !c.credentials.empty()) {
    r = check(natsOptions_SetUserCredentialsFromFiles(raw, c.credentials.c_str(), nullptr), "credentials");
  }
  if (r && !c.token.empty()) r = check(natsOptions_SetToken(raw, c.token.c_str()), "token");
  if (r && !c.user.empty()) r = check(natsOptions_SetUserInfo(raw, c.user.c_str(), c.password.c_str()), "user");
  if (r && !c.tls_ca.empty()) {
    r = check(natsOptions_SetSecure(raw, true), "tls");
    if (r) r = check(natsOptions_LoadCATrustedCertificates(raw, c.tls_ca.c_str()), "tls_ca " + c.tls_ca.string());
  }
  if (r && !c.tls_cert.empty()) {
    r = check(natsOptions_LoadCertificatesChain(raw, c.tls_cert.c_str(), c.tls_key.c_str()),
              "tls_cert " + c.tls_cert.string());
  }
  if (!r) return std::unexpected(r.error());
  return o;
}

class NatsSink final : public Sink {
 public:
  NatsSink(const SinkConfig& config, std::unique_ptr<NatsSpool> spool, Connection nc, Js js,
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
    natsConnection_Close(nc_.get());
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
  void count_reconnects(natsStatistics* stats) {
    if (stats == nullptr || natsConnection_GetStats(nc_.get(), stats) != NATS_OK) return;
    std::uint64_t reconnects = 0;
    if (natsStatistics_GetCounts(stats, nullptr, nullptr, nullptr, nullptr, &reconnects) != NATS_OK) return;
    if (reconnects > reconnects_seen_) {
      counters_->nats_reconnects.fetch_add(reconnects - reconnects_seen_, std::memory_order_relaxed);
      reconnects_seen_ = reconnects;
    }
  }

  void run() {
    natsStatistics* stats_raw = nullptr;
    (void)natsStatistics_Create(&stats_raw);
    const Stats stats(stats_raw);
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
      count_reconnects(stats.get());
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
  Connection nc_;  // thread-safe (libnats); closed by the destructor
  Js js_;          // after nc_: destroyed first
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
  auto options = make_options(config);
  if (!options) return std::unexpected(options.error());
  natsConnection* nc_raw = nullptr;
  const natsStatus s = natsConnection_Connect(&nc_raw, options->get());
  Connection nc(nc_raw);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
    return fail(ErrorCategory::unavailable,
                fmt::format("nats sink: connect to {}: {}", redact_nats_url(config.url), status_text(s)));
  }
  if (s == NATS_NOT_YET_CONNECTED && log) {
    log(fmt::format("nats {}: not reachable yet; alerts are spooled in {} until it is", redact_nats_url(config.url),
                    config.spool_dir.string()));
  }
  jsCtx* js_raw = nullptr;
  if (const natsStatus js = natsConnection_JetStream(&js_raw, nc.get(), nullptr); js != NATS_OK) {
    return fail(ErrorCategory::unavailable, "nats sink: JetStream context: " + status_text(js));
  }
  Js js(js_raw);
  return std::make_unique<NatsSink>(config, std::move(*spool), std::move(nc), std::move(js), std::move(counters),
                                    std::move(log));
}

}  // namespace airssys::daemoneye::detail
