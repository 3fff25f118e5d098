// run_fleet_query (live_query_client.hpp).

#include <fmt/format.h>

#include <airssys/daemoneye/live_query_client.hpp>
#include <algorithm>
#include <ctime>
#include <set>

#include "nats_connection.hpp"
#include "nats_names.hpp"

namespace airssys::daemoneye {

namespace {

using Clock = std::chrono::steady_clock;

struct SubDeleter {
  void operator()(natsSubscription* s) const noexcept { natsSubscription_Destroy(s); }
};
struct InboxDeleter {
  void operator()(natsInbox* i) const noexcept { natsInbox_Destroy(i); }
};

// Agents accept at most 300 s between issue and expiry (LiveQueryPolicy).
constexpr std::int64_t kMaxValidity = 300;

}  // namespace

Result<FleetQueryResult> run_fleet_query(const LiveQueryConfig& connection, const Ed25519PrivateKey& key,
                                         const FleetQuery& q) {
  const std::int64_t validity = std::max<std::int64_t>(1, (q.timeout.count() + 999) / 1000);
  if (validity > kMaxValidity)
    return fail(ErrorCategory::invalid_input, fmt::format("the timeout may be at most {} s (agents refuse longer-lived requests)", kMaxValidity));
  if (!q.all_hosts && q.hosts.empty()) return fail(ErrorCategory::invalid_input, "no host named");

  detail::NatsConnectionConfig nc{.url = connection.url,
                                  .name = "daemoneye-cli",
                                  .credentials = connection.credentials,
                                  .token = connection.token,
                                  .tls_ca = connection.tls_ca,
                                  .tls_cert = connection.tls_cert,
                                  .tls_key = connection.tls_key};
  auto conn = detail::NatsConnection::connect(nc, "fleet query");
  if (!conn) return std::unexpected(conn.error());
  if (!(*conn)->connected_at_start())
    return fail(ErrorCategory::unavailable,
                fmt::format("fleet query: no NATS server answers at {}", detail::redact_nats_url(connection.url)));
  natsConnection* c = (*conn)->get();

  natsInbox* raw_inbox = nullptr;
  if (natsInbox_Create(&raw_inbox) != NATS_OK) return fail(ErrorCategory::resource_exhausted, "fleet query: no inbox");
  std::unique_ptr<natsInbox, InboxDeleter> inbox(raw_inbox);
  natsSubscription* raw_sub = nullptr;
  if (const natsStatus s = natsConnection_SubscribeSync(&raw_sub, c, raw_inbox); s != NATS_OK)
    return fail(ErrorCategory::unavailable, "fleet query: subscribe: " + detail::nats_status_text(s));
  std::unique_ptr<natsSubscription, SubDeleter> sub(raw_sub);
  // Debian 12's libnats (3.4) can crash when a subscription is destroyed while
  // the connection's reader thread handles a message for it (nats.c #637,
  // fixed in 3.6): replies still arriving after we stop collecting (a cut, a
  // timeout) did so under load. Closing the connection first joins that
  // thread; this guard, declared after `sub`, runs before its deleter.
  struct CloseFirst {
    detail::NatsConnection& connection;
    ~CloseFirst() { connection.close(); }
  } close_first{**conn};

  LiveQueryRequest r;
  r.key_id = key.fingerprint();
  r.query = q.query;
  r.all_hosts = q.all_hosts;
  r.hosts = q.all_hosts ? std::vector<std::string>{} : q.hosts;
  auto nonce = make_nonce();
  if (!nonce) return std::unexpected(nonce.error());
  r.nonce = *nonce;
  r.issued_at = static_cast<std::int64_t>(::time(nullptr));
  r.expires_at = r.issued_at + validity;
  r.reply_to = raw_inbox;
  auto sig = key.sign(canonical_bytes(r));
  if (!sig) return std::unexpected(sig.error());
  r.signature = to_hex(*sig);
  const std::string body = encode_request(r);

  std::vector<std::string> subjects;
  if (q.all_hosts) {
    subjects.push_back(live_query_subject_all());
  } else {
    for (const auto& h : q.hosts) subjects.push_back(live_query_subject_for(h));
    std::ranges::sort(subjects);
    subjects.erase(std::unique(subjects.begin(), subjects.end()), subjects.end());
  }
  for (const auto& s : subjects) {
    if (const natsStatus st = natsConnection_PublishRequest(c, s.c_str(), raw_inbox, body.data(), static_cast<int>(body.size()));
        st != NATS_OK)
      return fail(st == NATS_MAX_PAYLOAD ? ErrorCategory::invalid_input : ErrorCategory::unavailable,
                  fmt::format("fleet query: publish to {}: {}", s, detail::nats_status_text(st)));
  }
  if (const natsStatus st = natsConnection_FlushTimeout(c, q.timeout.count() > 0 ? q.timeout.count() : 1); st != NATS_OK)
    return fail(ErrorCategory::unavailable, "fleet query: flush: " + detail::nats_status_text(st));

  FleetQueryResult out;
  out.nonce = r.nonce;
  std::set<std::string> answered;
  std::set<std::string> waiting(q.hosts.begin(), q.hosts.end());
  std::size_t kept_bytes = 0;
  const auto deadline = Clock::now() + q.timeout;
  while (q.all_hosts || !waiting.empty()) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) break;
    natsMsg* m = nullptr;
    if (natsSubscription_NextMsg(&m, raw_sub, left) != NATS_OK) break;
    detail::NatsMsgPtr msg(m);
    auto reply = decode_reply({natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))});
    // Another request's reply or garbage on our inbox: not ours.
    if (!reply || reply->nonce != r.nonce) continue;
    // Replies are not signed: with named hosts, take only theirs, once each.
    if (!q.all_hosts && !waiting.contains(reply->host)) continue;
    if (!answered.insert(reply->host).second) continue;
    waiting.erase(reply->host);
    // What the decoded reply holds, not its wire size: tiny values take
    // 8-20 times their JSON bytes in memory (memory_estimate).
    kept_bytes += memory_estimate(*reply);
    out.replies.push_back(std::move(*reply));
    if (out.replies.size() >= q.max_replies || kept_bytes >= q.max_reply_bytes) {
      out.cut = fmt::format("stopped collecting at {} replies (about {} bytes in memory): at most {} replies or {} "
                            "bytes are kept",
                            out.replies.size(), kept_bytes, q.max_replies, q.max_reply_bytes);
      break;
    }
  }
  out.missing.assign(waiting.begin(), waiting.end());
  return out;
}

}  // namespace airssys::daemoneye
