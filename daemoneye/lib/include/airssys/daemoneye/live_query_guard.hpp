#pragma once
// LiveQueryGuard — whether an agent accepts a live query
// (docs/daemoneye.md "Live queries").
//
// admit() accepts a request only if, in this order:
//  1. it is signed and names a key among the trusted keys;
//  2. the signature verifies over canonical_bytes() with that key;
//  3. the subject replies go to is the signed reply_to, and it starts with
//     `_INBOX.` (what natsInbox_Create, and so daemoneye-cli, makes), so a
//     trusted key cannot aim an agent's reply at an alert stream or $JS.API;
//  4. it is addressed to this host (hosts holds the agent's host name,
//     compared exactly, or it is for all hosts);
//  5. now lies within [issued_at - max_skew, expires_at + max_skew] and
//     expires_at - issued_at is at most max_validity (so the replay cache
//     needs to remember a nonce for a bounded time);
//  6. it was issued no earlier than policy.not_before (the service's start:
//     the replay cache is in memory, so a request issued before a restart
//     was either seen or missed, and is refused either way);
//  7. its nonce was not accepted before while it could still be valid
//     (ReplayCache).
// Steps 1-3 are authenticate(); a caller must not answer a request that
// fails them (its reply subject is the sender's choice, not a signer's).
// admit_authenticated() is steps 4-7 for a request authenticate() passed;
// its refusals may be answered on the signed reply_to.
// Only signed requests reach the replay cache (steps 1-2 come first), so
// only a trusted key holder could fill it; when it is full (capacity
// requests within their validity) new requests are refused rather than a
// remembered nonce forgotten. A refusal is a `denied` Error whose message
// says why (never key material: the key is named by its fingerprint).
//
// Thread safety: admit() may be called from any thread.

#include <airssys/daemoneye/error.hpp>
#include <airssys/daemoneye/live_query.hpp>
#include <airssys/daemoneye/live_query_keys.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace airssys::daemoneye {

// Agents reply only to subjects starting with this (see admit()).
inline constexpr std::string_view kLiveQueryReplyPrefix = "_INBOX.";

// Nonces of accepted requests, each kept until its request can no longer be
// valid (expires_at + skew). At most `capacity` at a time.
// Not thread-safe (the guard holds it under its lock).
class ReplayCache {
 public:
  explicit ReplayCache(std::size_t capacity) : capacity_(capacity) {}
  enum class Outcome : std::uint8_t { fresh, replayed, full };
  // Forgets the nonces whose `forget_after` is before `now`, then records
  // `nonce` unless it is known (replayed) or the cache is full.
  [[nodiscard]] Outcome insert(const std::string& nonce, std::int64_t forget_after, std::int64_t now);
  [[nodiscard]] std::size_t size() const noexcept { return by_nonce_.size(); }

 private:
  std::size_t capacity_;
  std::map<std::string, std::int64_t> by_nonce_;
  std::multimap<std::int64_t, std::string> by_time_;
};

struct LiveQueryPolicy {
  std::string host;                            // this agent's host name (config `host`)
  std::chrono::seconds max_skew{30};           // clock difference tolerated either way
  std::chrono::seconds max_validity{300};      // expires_at - issued_at at most
  std::size_t replay_capacity = 100000;        // accepted requests remembered at a time
  std::int64_t not_before = 0;                 // Unix seconds: earlier issued_at is refused
};

class LiveQueryGuard {
 public:
  LiveQueryGuard(LiveQueryPolicy policy, std::vector<Ed25519PublicKey> trusted);

  // Ok, or `denied` with the reason. `reply_subject`: the subject the
  // request's message asks replies to go to; `now`: Unix seconds.
  [[nodiscard]] Result<void> admit(const LiveQueryRequest& r, std::string_view reply_subject, std::int64_t now);
  // Steps 1-3 (signature, trusted key, reply subject).
  [[nodiscard]] Result<void> authenticate(const LiveQueryRequest& r, std::string_view reply_subject) const;
  // Steps 4-7, for a request authenticate() accepted, with policy().not_before.
  [[nodiscard]] Result<void> admit_authenticated(const LiveQueryRequest& r, std::int64_t now);
  // The same with `not_before` in place of the policy's (the service works
  // it out at each request, so a wall-clock step does not move it).
  [[nodiscard]] Result<void> admit_authenticated(const LiveQueryRequest& r, std::int64_t now, std::int64_t not_before);

  [[nodiscard]] const LiveQueryPolicy& policy() const noexcept { return policy_; }
  // Replaces the trusted keys (a reload); the replay cache is kept. Not
  // while authenticate() runs on another thread: LiveQueryService calls
  // both under its lock.
  void replace_trusted(std::vector<Ed25519PublicKey> trusted) { trusted_ = std::move(trusted); }

 private:
  LiveQueryPolicy policy_;
  std::vector<Ed25519PublicKey> trusted_;
  std::mutex mu_;
  ReplayCache replay_;
};

}  // namespace airssys::daemoneye
