// LiveQueryGuard and ReplayCache (live_query_guard.hpp).

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <airssys/daemoneye/live_query_guard.hpp>
#include <algorithm>

namespace airssys::daemoneye {

ReplayCache::Outcome ReplayCache::insert(const std::string& nonce, std::int64_t forget_after, std::int64_t now) {
  while (!by_time_.empty() && by_time_.begin()->first < now) {
    by_nonce_.erase(by_time_.begin()->second);
    by_time_.erase(by_time_.begin());
  }
  if (by_nonce_.contains(nonce)) return Outcome::replayed;
  if (by_nonce_.size() >= capacity_) return Outcome::full;
  by_nonce_.emplace(nonce, forget_after);
  by_time_.emplace(forget_after, nonce);
  return Outcome::fresh;
}

LiveQueryGuard::LiveQueryGuard(LiveQueryPolicy policy, std::vector<Ed25519PublicKey> trusted)
    : policy_(std::move(policy)), trusted_(std::move(trusted)), replay_(policy_.replay_capacity) {}

namespace {
Result<void> refuse(std::string reason) { return fail(ErrorCategory::denied, std::move(reason)); }
}  // namespace

Result<void> LiveQueryGuard::admit(const LiveQueryRequest& r, std::string_view reply_subject, std::int64_t now) {
  if (auto ok = authenticate(r, reply_subject); !ok) return ok;
  return admit_authenticated(r, now);
}

Result<void> LiveQueryGuard::authenticate(const LiveQueryRequest& r, std::string_view reply_subject) const {
  if (r.signature.empty()) return refuse("not signed");
  const auto key = std::ranges::find_if(trusted_, [&](const Ed25519PublicKey& k) { return k.fingerprint() == r.key_id; });
  if (key == trusted_.end()) return refuse(fmt::format("key {} is not trusted", r.key_id));
  const auto sig = from_hex(r.signature);
  if (!sig || !key->verify(canonical_bytes(r), *sig)) return refuse(fmt::format("bad signature (key {})", r.key_id));
  if (reply_subject != r.reply_to)
    return refuse(fmt::format("reply subject '{}' is not the signed one '{}'", reply_subject, r.reply_to));
  if (!r.reply_to.starts_with(kLiveQueryReplyPrefix) || r.reply_to.size() == kLiveQueryReplyPrefix.size())
    return refuse(fmt::format("reply subject '{}' does not start with '{}'", r.reply_to, kLiveQueryReplyPrefix));
  return {};
}

Result<void> LiveQueryGuard::admit_authenticated(const LiveQueryRequest& r, std::int64_t now) {
  return admit_authenticated(r, now, policy_.not_before);
}

Result<void> LiveQueryGuard::admit_authenticated(const LiveQueryRequest& r, std::int64_t now, std::int64_t not_before) {
  // decode_request keeps them in range; a request built in code may not.
  for (const std::int64_t t : {r.issued_at, r.expires_at, now})
    if (t < 0 || t > kLiveQueryMaxTime) return refuse(fmt::format("time {} out of range 0-{}", t, kLiveQueryMaxTime));
  if (!r.all_hosts && std::ranges::find(r.hosts, policy_.host) == r.hosts.end())
    return refuse(fmt::format("not addressed to this host '{}' (hosts: {})", policy_.host, fmt::join(r.hosts, ", ")));
  const std::int64_t skew = policy_.max_skew.count();
  if (r.expires_at < r.issued_at) return refuse(fmt::format("expires ({}) before it was issued ({})", r.expires_at, r.issued_at));
  if (r.expires_at - r.issued_at > policy_.max_validity.count())
    return refuse(fmt::format("valid for {} s, more than the {} s this agent accepts", r.expires_at - r.issued_at,
                              policy_.max_validity.count()));
  if (r.issued_at > now + skew)
    return refuse(fmt::format("issued in the future ({} s ahead of this host's clock; {} s of skew tolerated)",
                              r.issued_at - now, skew));
  if (now > r.expires_at + skew)
    return refuse(fmt::format("expired {} s ago ({} s of skew tolerated)", now - r.expires_at, skew));
  if (r.issued_at < not_before)
    return refuse(fmt::format("issued at {}, before this agent started listening at {} (a request from before a restart "
                              "may have been seen then)",
                              r.issued_at, not_before));
  std::lock_guard lock(mu_);
  switch (replay_.insert(r.nonce, r.expires_at + skew, now)) {
    case ReplayCache::Outcome::fresh: return {};
    case ReplayCache::Outcome::replayed: return refuse(fmt::format("replayed (nonce {} was seen before)", r.nonce));
    case ReplayCache::Outcome::full:
      return fail(ErrorCategory::busy, fmt::format("too many live queries within their validity ({} remembered); try again later",
                                policy_.replay_capacity));
  }
  return refuse("internal: unknown replay outcome");
}

}  // namespace airssys::daemoneye
