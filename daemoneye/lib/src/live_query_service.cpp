// LiveQueryService (live_query_service.hpp): the agent's NATS subscriber
// for signed live queries.

#include <fmt/format.h>
#include <openssl/evp.h>

#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_guard.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>
#include <airssys/daemoneye/live_query_service.hpp>
#include <airssys/daemoneye/path_trust.hpp>
#include <airssys/daemoneye/query_engine.hpp>
#include <airssys/daemoneye/terminal_text.hpp>
#include <array>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "nats_connection.hpp"

namespace airssys::daemoneye {

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kRefusedQueryBytes = 256;
constexpr std::uint64_t kRefusalsAuditedPerMinute = 60;
constexpr std::int64_t kDefaultMaxPayload = 1024 * 1024;

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> d{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &n, EVP_sha256(), nullptr);
  return to_hex({reinterpret_cast<const char*>(d.data()), n});
}

// A query for a log line: control bytes as '?', at most 200 bytes.
std::string for_log(std::string_view q) {
  std::string s = printable(q.substr(0, 200));
  if (q.size() > 200) s += "…";
  return s;
}

struct SubDeleter {
  void operator()(natsSubscription* s) const noexcept { natsSubscription_Destroy(s); }
};
using Sub = std::unique_ptr<natsSubscription, SubDeleter>;

}  // namespace

std::string_view to_string(LiveQueryRefusal r) noexcept {
  switch (r) {
    case LiveQueryRefusal::malformed: return "malformed";
    case LiveQueryRefusal::unauthenticated: return "unauthenticated";
    case LiveQueryRefusal::not_addressed: return "not_addressed";
    case LiveQueryRefusal::clock: return "clock";
    case LiveQueryRefusal::before_start: return "before_start";
    case LiveQueryRefusal::replayed: return "replayed";
    case LiveQueryRefusal::busy: return "busy";
  }
  return "unknown";
}

namespace {

// Which of steps 4-7 refused: the guard's messages (live_query_guard.cpp)
// say it; daemoneye.live_query_service counts one of each.
LiveQueryRefusal admission_refusal(const Error& e) {
  if (e.category == ErrorCategory::busy) return LiveQueryRefusal::busy;
  if (e.message.starts_with("replayed")) return LiveQueryRefusal::replayed;
  if (e.message.starts_with("not addressed")) return LiveQueryRefusal::not_addressed;
  if (e.message.starts_with("issued at")) return LiveQueryRefusal::before_start;
  return LiveQueryRefusal::clock;
}

}  // namespace

std::string audit_json(const LiveQueryAuditRecord& r) {
  nlohmann::json j = nlohmann::json::object();
  j["type"] = "live_query";
  j["time"] = r.time;
  j["host"] = r.host;
  j["decision"] = r.accepted ? "accepted" : "refused";
  if (!r.accepted) j["reason"] = r.reason;
  j["key"] = r.key;
  j["nonce"] = r.nonce;
  j["subject"] = r.subject;
  j["reply_to"] = r.reply_to;
  j["query"] = r.query;
  j["query_sha256"] = r.query_sha256;
  if (r.suppressed > 0) j["suppressed"] = r.suppressed;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

struct LiveQueryService::Impl {
  LiveQueryServiceOptions options;
  std::unique_ptr<LiveQueryGuard> guard;
  std::unique_ptr<QueryEngine> engine;
  std::unique_ptr<detail::NatsConnection> connection;
  std::vector<Sub> subs;

  // One request at a time: guards everything below but `stats` and the
  // guard's key list. Held for a whole request (ledger fsync, the query, up
  // to live_query.timeout), so nothing the agent's thread calls takes it.
  std::mutex mu;
  // The counters, held only to read or bump them: stats() never waits for a request.
  mutable std::mutex stats_mu;
  LiveQueryStats stats;
  // The guard's checks and reload_trusted_keys(): a SIGHUP does not wait for a query.
  std::mutex guard_mu;
  std::int64_t window_start = 0;   // the current minute of the refusal audit limit
  std::uint64_t window_audited = 0;
  std::uint64_t suppressed = 0;    // refusals not audited since the last audited one
  // Nonces this service has answered (a result or a refusal), each until
  // its request expires (expires_at + skew): a refusal is sent once per
  // signed request, so a captured one republished in a loop makes no agent
  // publish anything (replays and expired requests are audited only).
  ReplayCache answered{100000};
  // When the service started, by the monotonic clock: "issued before the
  // start" is judged against now - (time since the start), so a wall-clock
  // step back (NTP) after the start does not refuse every query.
  std::chrono::steady_clock::time_point steady_start = std::chrono::steady_clock::now();

  std::mutex done_mu;
  std::condition_variable done_cv;
  std::size_t completed = 0;  // subscriptions whose last callback has returned

  std::int64_t now() const { return options.now ? options.now() : static_cast<std::int64_t>(::time(nullptr)); }

  // The wall-clock second this service started, seen from `now`: elapsed
  // monotonic time rounded up, so the start's own second is never refused.
  std::int64_t started_at(std::int64_t now) const {
    const auto elapsed = std::chrono::ceil<std::chrono::seconds>(std::chrono::steady_clock::now() - steady_start);
    return now - elapsed.count();
  }
  // Whether a refusal of signed `r` may be published: only while it is
  // still valid and only the first time its nonce is answered.
  bool answer_once(const LiveQueryRequest& r, std::int64_t now) {
    const std::int64_t skew = guard->policy().max_skew.count();
    if (r.expires_at < 0 || r.expires_at > kLiveQueryMaxTime || now > r.expires_at + skew) return false;
    return answered.insert(r.nonce, r.expires_at + skew, now) == ReplayCache::Outcome::fresh;
  }

  template <typename F>
  void count(F&& bump) {
    std::lock_guard lock(stats_mu);
    bump(stats);
  }

  void handle(natsMsg* raw);
  void refuse(LiveQueryAuditRecord rec, LiveQueryRefusal kind, const Error& why, const char* reply_subject);
  void publish(const char* reply_subject, LiveQueryReply& reply);
};

void LiveQueryService::Impl::publish(const char* reply_subject, LiveQueryReply& reply) {
  if (reply_subject == nullptr || *reply_subject == '\0') return;
  std::int64_t max = natsConnection_GetMaxPayload(connection->get());
  if (max <= 0) max = kDefaultMaxPayload;
  const std::string body = encode_reply_within(reply, static_cast<std::size_t>(max));
  if (const natsStatus s = natsConnection_Publish(connection->get(), reply_subject, body.data(), static_cast<int>(body.size()));
      s != NATS_OK) {
    if (options.log_warn)
      options.log_warn(fmt::format("live query: the reply to {} could not be sent: {}", reply_subject,
                                   detail::nats_status_text(s)));
    return;
  }
  count([&](LiveQueryStats& st) {
    ++st.answered;
    st.rows += reply.rows.size();  // encode_reply_within cut them to what was sent
  });
}

void LiveQueryService::Impl::refuse(LiveQueryAuditRecord rec, LiveQueryRefusal kind, const Error& why,
                                    const char* reply_subject) {
  count([&](LiveQueryStats& st) {
    ++st.refused;
    ++st.refused_by[static_cast<std::size_t>(kind)];
  });
  rec.accepted = false;
  rec.reason = why.message;
  rec.category = why.category;
  if (rec.query.size() > kRefusedQueryBytes) rec.query.resize(kRefusedQueryBytes);
  if (rec.time / 60 != window_start) {
    window_start = rec.time / 60;
    window_audited = 0;
  }
  if (window_audited < kRefusalsAuditedPerMinute) {
    ++window_audited;
    rec.suppressed = suppressed;
    suppressed = 0;
    if (options.audit) {
      if (auto a = options.audit(rec); !a && options.log_warn)
        options.log_warn(fmt::format("live query: the refusal could not be recorded: {}", a.error().message));
    }
    if (options.log_warn)
      options.log_warn(fmt::format("live query refused: {} (key {}, nonce {}, on {}{})", printable(rec.reason),
                                   rec.key.empty() ? "-" : printable(rec.key), rec.nonce.empty() ? "-" : rec.nonce,
                                   printable(rec.subject),
                                   rec.suppressed > 0 ? fmt::format("; {} more refused and not recorded before it",
                                                                    rec.suppressed)
                                                      : std::string()));
  } else {
    ++suppressed;
    count([](LiveQueryStats& st) { ++st.audit_suppressed; });
  }
  LiveQueryReply reply{.host = options.host, .nonce = rec.nonce, .status = LiveQueryStatus::refused,
                       .category = why.category, .message = why.message};
  publish(reply_subject, reply);
}

void LiveQueryService::Impl::handle(natsMsg* raw) {
  detail::NatsMsgPtr msg(raw);
  const char* subject = natsMsg_GetSubject(raw);
  const char* reply_subject = natsMsg_GetReply(raw);  // unchecked: see below
  const std::string_view data(natsMsg_GetData(raw), static_cast<std::size_t>(natsMsg_GetDataLength(raw)));
  std::lock_guard lock(mu);
  LiveQueryAuditRecord rec{.time = now(), .host = options.host, .subject = subject != nullptr ? subject : "",
                           .reply_to = reply_subject != nullptr ? reply_subject : ""};
  // Until the signature verifies with a trusted key and the message's reply
  // subject is the signed one, the reply subject is the sender's choice:
  // such refusals are audited and logged, never answered.
  auto req = decode_request(data);
  if (!req) {
    rec.query_sha256 = sha256_hex(data);
    refuse(std::move(rec), LiveQueryRefusal::malformed, req.error(), nullptr);
    return;
  }
  rec.key = req->key_id;
  rec.nonce = req->nonce;
  rec.query = req->query;
  rec.query_sha256 = sha256_hex(req->query);
  Result<void> authenticated, admitted;
  {
    std::lock_guard g(guard_mu);
    authenticated = guard->authenticate(*req, rec.reply_to);
    if (authenticated) admitted = guard->admit_authenticated(*req, rec.time, started_at(rec.time));
  }
  if (!authenticated) {
    refuse(std::move(rec), LiveQueryRefusal::unauthenticated, authenticated.error(), nullptr);
    return;
  }
  const char* const signed_reply = req->reply_to.c_str();
  if (auto& ok = admitted; !ok) {
    const bool answer = answer_once(*req, rec.time);
    if (!answer) count([](LiveQueryStats& st) { ++st.dropped; });
    refuse(std::move(rec), admission_refusal(ok.error()), ok.error(), answer ? signed_reply : nullptr);
    return;
  }
  // Remembered so that a replay's refusal is not answered either (a full
  // cache only means that refusal may be answered once).
  (void)answer_once(*req, rec.time);
  rec.accepted = true;
  if (options.audit) {
    if (auto a = options.audit(rec); !a) {
      count([](LiveQueryStats& st) {
        ++st.failed;
        ++st.failed_ledger;
      });
      if (options.log_warn)
        options.log_warn(fmt::format("live query {} not run: the audit ledger could not record it: {}", rec.nonce,
                                     a.error().message));
      LiveQueryReply reply{.host = options.host, .nonce = rec.nonce, .status = LiveQueryStatus::failed,
                           .category = a.error().category,
                           .message = "not run: the audit ledger could not record it: " + a.error().message};
      publish(signed_reply, reply);
      return;
    }
  }
  count([](LiveQueryStats& st) { ++st.accepted; });
  LiveQueryReply reply = run_live_query(*engine, *req, options.host);
  if (reply.status != LiveQueryStatus::ok) count([](LiveQueryStats& st) { ++st.failed; });
  if (options.log_info) {
    options.log_info(fmt::format("live query {} (key {}) {}: {}", rec.nonce, rec.key,
                                 reply.status == LiveQueryStatus::ok
                                     ? fmt::format("returned {} rows{}", reply.rows.size(), reply.truncated ? " (cut)" : "")
                                     : "failed: " + printable(reply.message),
                                 for_log(rec.query)));
  }
  publish(signed_reply, reply);
}

LiveQueryService::LiveQueryService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

LiveQueryService::~LiveQueryService() {
  if (!impl_) return;
  // Unsubscribe, then wait until libnats says each subscription's last
  // callback has returned: a request being handled may use the engine.
  std::size_t closing = 0;
  for (auto& s : impl_->subs)
    if (natsSubscription_Unsubscribe(s.get()) == NATS_OK) ++closing;
  {
    std::unique_lock lock(impl_->done_mu);
    impl_->done_cv.wait_for(lock, impl_->options.config.timeout + 30s, [&] { return impl_->completed >= closing; });
  }
  // The connection is closed (its reader thread joined) before the
  // subscriptions are destroyed: Debian 12's libnats (3.4) can crash when a
  // subscription is destroyed while that thread handles a message for it
  // (nats.c #637, fixed in 3.6).
  if (impl_->connection) impl_->connection->close();
  impl_->subs.clear();
  impl_->connection.reset();
}

LiveQueryStats LiveQueryService::stats() const {
  std::lock_guard lock(impl_->stats_mu);
  return impl_->stats;
}

namespace {

// Every key of live_query.trusted_keys, or the first file's error.
Result<std::vector<Ed25519PublicKey>> load_trusted_keys(const std::vector<std::filesystem::path>& files) {
  std::vector<Ed25519PublicKey> keys;
  for (const auto& file : files) {
    auto k = Ed25519PublicKey::load(file);
    if (!k) return std::unexpected(k.error().prefixed("live_query.trusted_keys"));
    keys.push_back(std::move(*k));
  }
  return keys;
}

}  // namespace

TrustedKeysReload LiveQueryService::reload_trusted_keys(const std::vector<std::filesystem::path>& files) {
  // Fail closed: a key whose file is gone or unsafe now is no longer
  // trusted (deleting or chmod'ing a key file revokes it), and one bad file
  // does not keep the others from being rotated. Unsafe includes the
  // directories above it (the start's check_config_paths rule): a key in a
  // directory another user can write is dropped like a key file they can
  // write, not kept from before.
  TrustedKeysReload out;
  std::vector<Ed25519PublicKey> keys;
  for (const auto& file : files) {
    if (auto trusted = check_trusted_path(file, "live_query.trusted_keys"); !trusted)
      out.dropped.push_back(trusted.error());
    else if (auto k = Ed25519PublicKey::load(file))
      keys.push_back(std::move(*k));
    else
      out.dropped.push_back(k.error().prefixed("live_query.trusted_keys"));
  }
  out.trusted = keys.size();
  std::lock_guard lock(impl_->guard_mu);  // no request is being checked meanwhile
  impl_->guard->replace_trusted(std::move(keys));
  return out;
}

Result<std::unique_ptr<LiveQueryService>> LiveQueryService::start(LiveQueryServiceOptions options) {
  auto impl = std::make_unique<Impl>();
  auto loaded = load_trusted_keys(options.config.trusted_keys);
  if (!loaded) return std::unexpected(loaded.error());
  std::vector<Ed25519PublicKey> keys = std::move(*loaded);
  // Requests issued before this second were either seen by a previous run
  // (whose replay cache is gone) or missed: both are refused. handle()
  // passes the guard started_at(now) instead, which follows the monotonic
  // clock; this is the policy's value for other callers.
  const std::int64_t started = options.now ? options.now() : static_cast<std::int64_t>(::time(nullptr));
  impl->guard = std::make_unique<LiveQueryGuard>(LiveQueryPolicy{.host = options.host, .not_before = started},
                                                 std::move(keys));
  auto engine = QueryEngine::open(options.database, {.time = options.config.timeout,
                                                     .max_rows = options.config.max_rows,
                                                     .max_bytes = options.max_bytes,
                                                     .temp_dir = directory_of(options.database)});
  if (!engine) return std::unexpected(engine.error().prefixed("live queries"));
  impl->engine = std::move(*engine);
  detail::NatsConnectionConfig nc{.url = options.config.url,
                                  .credentials = options.config.credentials,
                                  .token = options.config.token,
                                  .tls_ca = options.config.tls_ca,
                                  .tls_cert = options.config.tls_cert,
                                  .tls_key = options.config.tls_key};
  auto connection = detail::NatsConnection::connect(nc, "live queries");
  if (!connection) return std::unexpected(connection.error());
  impl->connection = std::move(*connection);
  impl->options = std::move(options);

  const auto on_msg = [](natsConnection*, natsSubscription*, natsMsg* m, void* closure) {
    static_cast<Impl*>(closure)->handle(m);
  };
  const auto on_complete = [](void* closure) {
    auto* self = static_cast<Impl*>(closure);
    std::lock_guard lock(self->done_mu);
    ++self->completed;
    self->done_cv.notify_all();
  };
  for (const auto& subject : {live_query_subject_for(impl->options.host), live_query_subject_all()}) {
    natsSubscription* raw = nullptr;
    natsStatus s = natsConnection_Subscribe(&raw, impl->connection->get(), subject.c_str(), on_msg, impl.get());
    Sub sub(raw);
    // A flood waits in a bounded queue; past it libnats drops (and counts) messages.
    if (s == NATS_OK) s = natsSubscription_SetPendingLimits(raw, 1000, 64 * 1024 * 1024);
    if (s == NATS_OK) s = natsSubscription_SetOnCompleteCB(raw, on_complete, impl.get());
    if (s != NATS_OK) {
      impl->connection->close();  // no callback may run on `impl` once it is gone
      return fail(ErrorCategory::unavailable,
                  fmt::format("live queries: subscribe to {}: {}", subject, detail::nats_status_text(s)));
    }
    impl->subs.push_back(std::move(sub));
  }
  // Once the server has the subscriptions, a request sent after start() returns is seen.
  if (impl->connection->connected_at_start()) (void)natsConnection_FlushTimeout(impl->connection->get(), 5000);
  if (impl->options.log_info)
    impl->options.log_info(fmt::format("live queries: listening on {} and {} ({} trusted keys){}",
                                       live_query_subject_for(impl->options.host), live_query_subject_all(),
                                       impl->options.config.trusted_keys.size(),
                                       impl->connection->connected_at_start() ? "" : "; the NATS servers do not answer yet"));
  return std::unique_ptr<LiveQueryService>(new LiveQueryService(std::move(impl)));
}

}  // namespace airssys::daemoneye
