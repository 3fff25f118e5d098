#pragma once
// In-process publish/subscribe by topic for one message type M. Publishing
// tells each subscriber a copy of the message, so every subscriber's own
// mailbox policy applies (a full bounded mailbox refuses or drops per its
// Overflow). Subscribers that have terminated are dropped on the next publish.
//
// Topics are NATS subjects: tokens separated by '.'. A subscription may use
// NATS wildcards: '*' matches exactly one token ("prices.*" matches
// "prices.eur" but not "prices.eur.usd"), '>' as the last token matches one
// or more tokens ("prices.>" matches both, not "prices"). Each subscription
// gets its own copy: an actor subscribed to "a.b" and "a.*" receives a
// message published on "a.b" twice (as in NATS). A published topic must be
// literal: publishing to a topic with a wildcard delivers nothing.
//
// Thread-safety: every member function is thread-safe; publish() takes a
// shared lock (publishers do not serialise each other).
#include <airssys/rt/actor_ref.hpp>
#include <airssys/rt/error.hpp>
#include <expected>
#include <iterator>
#include <mutex>
#include <string_view>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace airssys::rt {

struct PublishResult {
  std::size_t delivered = 0;
  std::size_t refused = 0;  // mailbox full, or the subscriber had stopped
};

namespace detail {
enum class SubjectKind : std::uint8_t { literal, wildcard, invalid };
// invalid: empty, an empty token ("a..b", ".a"), a token mixing a wildcard
// with other characters ("a*"), or '>' before the last token.
[[nodiscard]] SubjectKind classify_subject(std::string_view s) noexcept;
// pattern (valid, may hold wildcards) against a literal subject.
[[nodiscard]] bool subject_matches(std::string_view pattern, std::string_view subject) noexcept;
}  // namespace detail

template <class M>
class Broker {
 public:
  // Errors: invalid_argument for a malformed topic.
  [[nodiscard]] std::expected<void, Error> subscribe(const std::string& topic, const ActorRef<M>& sub) {
    const auto kind = detail::classify_subject(topic);
    if (kind == detail::SubjectKind::invalid)
      return std::unexpected(Error{ErrorCategory::invalid_argument, "malformed topic: '" + topic + "'"});
    detail::flush_outbox();  // a publisher that sees the subscription comes after this handler's tells
    std::unique_lock lk(m_);
    auto& v = kind == detail::SubjectKind::literal ? topics_[topic] : patterns_[topic];
    for (auto& s : v)
      if (s == sub) return {};
    v.push_back(sub);
    return {};
  }

  void unsubscribe(const std::string& topic, const ActorRef<M>& sub) {
    detail::flush_outbox();
    std::unique_lock lk(m_);
    for (auto* map : {&topics_, &patterns_}) {
      auto it = map->find(topic);
      if (it == map->end()) continue;
      std::erase(it->second, sub);
      if (it->second.empty()) map->erase(it);
    }
  }

  PublishResult publish(const std::string& topic, const M& msg, const SendOptions& o = {}) {
    PublishResult r;
    if (detail::classify_subject(topic) != detail::SubjectKind::literal) return r;
    bool saw_stopped = false;
    // Sends happen after the lock is released: a send to an Overflow::block
    // mailbox may wait, and a subscriber actor calling subscribe() meanwhile
    // must not block its worker on this lock.
    std::vector<ActorRef<M>> targets;
    {
      std::shared_lock lk(m_);
      if (auto it = topics_.find(topic); it != topics_.end())
        targets.insert(targets.end(), it->second.begin(), it->second.end());
      for (auto& [pattern, subs] : patterns_)  // usually few: one pass, no index
        if (detail::subject_matches(pattern, topic)) targets.insert(targets.end(), subs.begin(), subs.end());
    }
    for (auto& s : targets) {
      if (s.tell(M(msg), o)) {
        ++r.delivered;
      } else {
        ++r.refused;
        saw_stopped = saw_stopped || s.stopped();
      }
    }
    if (saw_stopped) prune();
    return r;
  }

  // Subscriptions made with exactly this topic string (literal or pattern).
  [[nodiscard]] std::size_t subscribers(const std::string& topic) const {
    std::shared_lock lk(m_);
    std::size_t n = 0;
    for (auto* map : {&topics_, &patterns_})
      if (auto it = map->find(topic); it != map->end()) n += it->second.size();
    return n;
  }

 private:
  void prune() {
    std::unique_lock lk(m_);
    for (auto* map : {&topics_, &patterns_}) {
      for (auto it = map->begin(); it != map->end();) {
        std::erase_if(it->second, [](const ActorRef<M>& s) { return s.stopped(); });
        it = it->second.empty() ? map->erase(it) : std::next(it);
      }
    }
  }

  mutable std::shared_mutex m_;
  std::unordered_map<std::string, std::vector<ActorRef<M>>> topics_;    // literal subjects
  std::unordered_map<std::string, std::vector<ActorRef<M>>> patterns_;  // with '*' or '>'
};

}  // namespace airssys::rt
