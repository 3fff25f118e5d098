#pragma once
// In-process publish/subscribe by topic for one message type M. Publishing
// tells each subscriber a copy of the message, so every subscriber's own
// mailbox policy applies (a full bounded mailbox refuses or drops per its
// Overflow). Subscribers that have terminated are dropped on the next publish.
//
// Thread-safety: every member function is thread-safe; publish() takes a
// shared lock (publishers do not serialise each other).
#include <airssys/rt/actor_ref.hpp>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace airssys::rt {

struct PublishResult {
  std::size_t delivered = 0;
  std::size_t refused = 0;  // mailbox full, or the subscriber had stopped
};

template <class M>
class Broker {
 public:
  void subscribe(const std::string& topic, const ActorRef<M>& sub) {
    std::unique_lock lk(m_);
    auto& v = topics_[topic];
    for (auto& s : v)
      if (s == sub) return;
    v.push_back(sub);
  }

  void unsubscribe(const std::string& topic, const ActorRef<M>& sub) {
    std::unique_lock lk(m_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    std::erase(it->second, sub);
    if (it->second.empty()) topics_.erase(it);
  }

  PublishResult publish(const std::string& topic, const M& msg, const SendOptions& o = {}) {
    PublishResult r;
    bool saw_stopped = false;
    {
      std::shared_lock lk(m_);
      auto it = topics_.find(topic);
      if (it == topics_.end()) return r;
      for (auto& s : it->second) {
        if (s.tell(M(msg), o)) {
          ++r.delivered;
        } else {
          ++r.refused;
          saw_stopped = saw_stopped || s.stopped();
        }
      }
    }
    if (saw_stopped) prune(topic);
    return r;
  }

  [[nodiscard]] std::size_t subscribers(const std::string& topic) const {
    std::shared_lock lk(m_);
    auto it = topics_.find(topic);
    return it == topics_.end() ? 0 : it->second.size();
  }

 private:
  void prune(const std::string& topic) {
    std::unique_lock lk(m_);
    auto it = topics_.find(topic);
    if (it == topics_.end()) return;
    std::erase_if(it->second, [](const ActorRef<M>& s) { return s.stopped(); });
    if (it->second.empty()) topics_.erase(it);
  }

  mutable std::shared_mutex m_;
  std::unordered_map<std::string, std::vector<ActorRef<M>>> topics_;
};

}  // namespace airssys::rt
