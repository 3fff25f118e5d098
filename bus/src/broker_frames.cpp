// Broker frame handling: publish routing (cached per subject, queue groups
// round robin), bounded per-subscription queues with their drop/disconnect
// policy, permissions, control replies and stats.

#include "broker_impl.hpp"
#include "bytes_equal.hpp"

#include <airssys/bus/subject.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>

namespace airssys::bus {

using detail::Conn;
using detail::Frame;
using detail::Op;
using detail::Route;
using detail::Sub;

namespace {
constexpr std::size_t kRouteCacheMax = 8192;
constexpr std::size_t kPermCacheMax = 1024;
constexpr std::size_t kBacklogBatch = 4096;      // frames moved per sub before rotating
constexpr std::size_t kControlSlack = 4u << 20;  // control replies a non-reader may pile up
constexpr std::string_view kInbox = "_INBOX.";
// A STATS reply's frame beyond its JSON: op, sid and the payload's tag and
// length (1+1 + 1+10 + 1+5 bytes), rounded up.
constexpr std::size_t kStatsFraming = 32;

// "_INBOX.<tok>" of a pattern under a literal inbox token; empty otherwise.
std::string_view inbox_prefix(std::string_view pattern) {
  if (!pattern.starts_with(kInbox)) return {};
  const std::size_t end = pattern.find('.', kInbox.size());
  const std::string_view prefix = pattern.substr(0, end);
  const std::string_view tok = prefix.substr(kInbox.size());
  return tok == "*" || tok == ">" ? std::string_view{} : prefix;
}
}  // namespace

void Broker::Impl::handle(Conn& c, const Frame& f) {
  ++c.msgs_in;
  switch (f.op) {
    case Op::pub: publish(c, f); return;
    case Op::sub: subscribe(c, f); return;
    case Op::unsub: unsubscribe(c, f.sid); return;
    case Op::ping: {
      Frame r;
      r.op = Op::pong;
      r.sid = f.sid;
      send_control(c, r);
      return;
    }
    case Op::stats: {
      const std::string json = stats_json(c);
      Frame r;
      r.op = Op::stats;
      r.sid = f.sid;
      r.payload = json;
      send_control(c, r);
      return;
    }
    default:
      ++protocol_errors;
      close_later(c, "protocol error: a client may not send op " + std::to_string(static_cast<unsigned>(f.op)));
      return;
  }
}

void Broker::Impl::publish(Conn& c, const Frame& f) {
  const Route* route = c.last_route;
  if (c.last_route_gen != route_gen || !detail::bytes_equal(f.subject, c.last_subject)) {
    if (auto v = validate_publish_subject(f.subject); !v) return send_err(c, 0, v.error().message);
    if (c.perm != nullptr && !may_publish(c, f.subject))
      return send_err(c, 0, "permission denied: uid " + std::to_string(c.cred.uid) + " may not publish to '" +
                                std::string(f.subject) + "'");
    if (f.subject.starts_with(kInbox)) {
      // A reply: its subject (the inbox and a request number) is used once.
      // Cached, every reply allocated a route and a key, and filled the
      // cache so that it was emptied, hot routes too, every kRouteCacheMax
      // replies.
      route = &uncached_route(f.subject);
    } else {
      route = &route_for(f.subject);  // may bump route_gen (cache full)
      c.last_subject.assign(f.subject);
      c.last_route = route;
      c.last_route_gen = route_gen;
    }
  }
  if (!f.reply_to.empty()) {
    // A responder trusts reply_to and publishes there with its own rights, so
    // a restricted uid may name only an inbox or a subject it may publish to.
    if (auto v = validate_publish_subject(f.reply_to); !v)
      return send_err(c, 0, "invalid reply_to: " + v.error().message);
    if (c.perm != nullptr && !may_publish(c, f.reply_to))
      return send_err(c, 0, "permission denied: uid " + std::to_string(c.cred.uid) + " may not use reply_to '" +
                                std::string(f.reply_to) + "' (only _INBOX.… or a subject it may publish to)");
  }
  // Every subscriber's decoder allows max_frame_bytes; the MSG carries a sid
  // the PUB did not, so refuse what would not fit rather than relay a frame
  // that makes each subscriber drop its connection. The MSG re-encoded from
  // the decoded fields is never larger than the body received, so the exact
  // size is needed only near the limit.
  if (f.body.size() + detail::kRelaySidMax > opt.max_frame_bytes)
    if (const std::size_t relayed = detail::relayed_body_size(f); relayed > opt.max_frame_bytes)
      return send_err(c, 0, "message too large: " + std::to_string(relayed) + " bytes as relayed to subscribers on '" +
                                std::string(f.subject) + "' exceeds the frame limit of " +
                                std::to_string(opt.max_frame_bytes));
  const Route& r = *route;
  if (r.plain.empty() && r.groups.empty()) return;
  // A request forwarded or a reply delivered: request/reply waits for the
  // broker's next turn (BrokerOptions::busy_poll, auto).
  if (!f.reply_to.empty() || f.subject.starts_with(kInbox)) request_reply_turn = true;
  detail::Relay m(f, opt.max_frame_bytes);
  for (Sub* s : r.plain) deliver(*s, m);
  for (const auto& group : r.groups) {
    const std::size_t start = rr++ % group.size();
    for (std::size_t k = 0; k < group.size(); ++k) {
      Sub* s = group[(start + k) % group.size()];
      if (s->conn->closing) continue;
      deliver(*s, m);
      break;
    }
  }
}

void Broker::Impl::match_route(std::string_view subject, Route& r) const {
  index.match(subject, [&](Sub* s) {
    if (s->queue.empty()) {
      r.plain.push_back(s);
      return;
    }
    for (auto& g : r.groups) {
      if (g.front()->queue == s->queue) {
        g.push_back(s);
        return;
      }
    }
    r.groups.push_back({s});
  });
}

const Route& Broker::Impl::route_for(std::string_view subject) {
  if (const auto it = routes.find(subject); it != routes.end()) return it->second;
  if (routes.size() >= kRouteCacheMax) invalidate_routes();
  Route r;
  match_route(subject, r);
  return routes.emplace(std::string(subject), std::move(r)).first->second;
}

const Route& Broker::Impl::uncached_route(std::string_view subject) {
  scratch_route.plain.clear();  // keeps its capacity: no allocation per reply
  scratch_route.groups.clear();
  match_route(subject, scratch_route);
  return scratch_route;
}

detail::Relay::Relay(const Frame& pub, std::size_t max_frame) : pub_(pub) {
  // A copied body is at most kRelaySidMax larger; near the limit the
  // re-encoded MSG (which may be smaller) is what was checked to fit.
  if (pub.relayable && pub.body.size() + kRelaySidMax <= max_frame) return;
  Frame& m = msg_.emplace();
  m.op = Op::msg;
  m.subject = pub.subject;
  m.reply_to = pub.reply_to;
  m.payload = pub.payload;
  m.correlation_id = pub.correlation_id;
  m.content_type = pub.content_type;
  m.headers = pub.headers;
}

std::size_t detail::Relay::size(std::uint64_t sid) {
  if (!msg_) return relay_frame_size(pub_.body, sid);
  msg_->sid = sid;
  return kLengthPrefix + body_size(*msg_);
}

void detail::Relay::encode(ByteBuffer& out, std::uint64_t sid) {
  if (!msg_) return encode_relay(out, pub_.body, sid);
  msg_->sid = sid;
  encode_frame(out, *msg_);
}

void Broker::Impl::deliver(Sub& s, detail::Relay& m) {
  Conn& c = *s.conn;
  if (c.closing) return;
  // Staged output is written before a message is queued or judged against
  // the queue's limits: a subscriber whose socket still takes bytes is not
  // slow, however many messages one turn of the loop brings. (Queueing first
  // and writing at the end of the turn made drop-newest drop messages of a
  // subscriber that was still reading, and a stalled one receive the last
  // message whenever the final turn was short.)
  if ((!s.q.empty() || c.out.size() >= opt.out_high_water) && c.writable) flush(c);
  if (c.closing) return;
  if (s.q.empty() && c.out.size() < opt.out_high_water) {
    m.encode(c.out, s.sid);
    ++s.delivered;
    ++c.msgs_out;
  } else {
    const std::size_t sz = m.size(s.sid);
    const auto full = [&] {
      return s.q.frames() >= s.max_msgs || s.q.bytes() + sz > s.max_bytes ||
             c.queued + sz > opt.max_queued_bytes_per_connection || queued_total + sz > opt.max_queued_bytes_total;
    };
    if (full()) {
      switch (s.policy) {
        case Policy::drop_newest:
          ++s.dropped;
          return;
        case Policy::disconnect:
          ++slow_consumers;
          close_later(c, "slow consumer: subscription " + std::to_string(s.sid) + " on '" + s.subject + "' has " +
                             std::to_string(s.q.frames()) + " messages (" + std::to_string(s.q.bytes()) +
                             " bytes) queued; the connection " + std::to_string(c.queued) + " bytes, the broker " +
                             std::to_string(queued_total));
          return;
        case Policy::drop_oldest:
          while (!s.q.empty() && full()) {
            unqueue(c, s.q.pop_front());
            ++s.dropped;
          }
          if (full()) {  // the message alone exceeds a limit
            ++s.dropped;
            return;
          }
          break;
      }
    }
    scratch.clear();
    m.encode(scratch, s.sid);
    s.q.push(scratch.view());
    c.queued += sz;
    queued_total += sz;
    if (!s.in_backlog) {
      s.in_backlog = true;
      c.backlog.push_back(&s);
    }
  }
  if (!c.dirty) {
    c.dirty = true;
    dirty.push_back(&c);
  }
}

void Broker::Impl::refill(Conn& c) {
  while (c.out.size() < opt.out_high_water && !c.backlog.empty()) {
    Sub* s = c.backlog.front();
    c.backlog.pop_front();
    // Move a run of whole frames with one copy (at least one frame, so a
    // frame larger than the room still moves).
    const std::size_t room = opt.out_high_water - c.out.size();
    std::size_t bytes = 0, k = 0;
    while (k < s->q.frames() && k < kBacklogBatch && (k == 0 || bytes + s->q.frame_size(k) <= room))
      bytes += s->q.frame_size(k++);
    unqueue(c, s->q.move_front(c.out, k));
    s->delivered += k;
    c.msgs_out += k;
    if (s->q.empty()) {
      s->in_backlog = false;
    } else {
      c.backlog.push_back(s);
    }
  }
}

void Broker::Impl::send_control(Conn& c, const Frame& f) {
  if (c.out.size() > opt.out_high_water + kControlSlack) {
    ++slow_consumers;
    close_later(c, "slow consumer: replies to its own requests are not being read");
    return;
  }
  detail::encode_frame(c.out, f);
  if (!c.dirty) {
    c.dirty = true;
    dirty.push_back(&c);
  }
}

void Broker::Impl::send_err(Conn& c, std::uint64_t sid, const std::string& text) {
  Frame f;
  f.op = Op::err;
  f.sid = sid;
  f.text = text;
  send_control(c, f);
}

void Broker::Impl::subscribe(Conn& c, const Frame& f) {
  if (auto v = validate_subscribe_subject(f.subject); !v) return send_err(c, f.sid, v.error().message);
  if (c.perm != nullptr && !may_subscribe(c, f.subject))
    return send_err(c, f.sid, "permission denied: uid " + std::to_string(c.cred.uid) + " may not subscribe to '" +
                                  std::string(f.subject) + "'");
  if (f.sid == 0 || c.subs.contains(f.sid))
    return send_err(c, f.sid, "subscription id " + std::to_string(f.sid) + " is zero or already in use");
  if (c.subs.size() >= opt.max_subscriptions_per_connection)
    return send_err(c, f.sid, "too many subscriptions on this connection (limit " +
                                  std::to_string(opt.max_subscriptions_per_connection) + ")");
  if (!claim_inbox(c, f.subject))
    return send_err(c, f.sid, "permission denied: reply inbox '" + std::string(inbox_prefix(f.subject)) +
                                  "' belongs to another connection");
  auto s = std::make_unique<Sub>();
  s->conn = &c;
  s->sid = f.sid;
  s->subject = f.subject;
  s->queue = f.queue;
  s->policy = static_cast<Policy>(f.policy);
  s->max_msgs = f.max_msgs == 0 ? opt.default_max_msgs : std::min(f.max_msgs, opt.cap_max_msgs);
  s->max_bytes = f.max_bytes == 0 ? opt.default_max_bytes : std::min(f.max_bytes, opt.cap_max_bytes);
  index.insert(s->subject, s.get());
  invalidate_routes();
  c.subs.emplace(f.sid, std::move(s));
}

void Broker::Impl::unsubscribe(Conn& c, std::uint64_t sid) {
  const auto it = c.subs.find(sid);
  if (it == c.subs.end()) return;  // already gone: unsubscribing twice is harmless
  remove_sub(c, *it->second);
  c.subs.erase(it);
}

void Broker::Impl::remove_sub(Conn& c, Sub& s) {
  if (s.in_backlog) c.backlog.erase(std::find(c.backlog.begin(), c.backlog.end(), &s));
  index.erase(s.subject, &s);
  release_inbox(c, s.subject);
  unqueue(c, s.q.bytes());
  s.q.clear();
  invalidate_routes();
}

bool Broker::Impl::claim_inbox(Conn& c, std::string_view pattern) {
  const std::string_view prefix = inbox_prefix(pattern);
  if (prefix.empty()) return true;
  if (const auto it = inbox_owner.find(prefix); it != inbox_owner.end() && it->second != c.id) return false;
  inbox_owner.emplace(std::string(prefix), c.id);
  if (const auto it = c.inboxes.find(prefix); it != c.inboxes.end())
    ++it->second;
  else
    c.inboxes.emplace(std::string(prefix), 1);
  return true;
}

void Broker::Impl::release_inbox(Conn& c, std::string_view pattern) {
  const std::string_view prefix = inbox_prefix(pattern);
  if (prefix.empty()) return;
  const auto it = c.inboxes.find(prefix);
  if (it == c.inboxes.end() || --it->second > 0) return;
  c.inboxes.erase(it);  // `prefix` views `pattern`, not this key
  if (const auto o = inbox_owner.find(prefix); o != inbox_owner.end() && o->second == c.id) inbox_owner.erase(o);
}

bool Broker::Impl::may_publish(Conn& c, std::string_view subject) {
  if (subject.starts_with(kInbox)) return true;
  if (const auto it = c.pub_allowed.find(subject); it != c.pub_allowed.end()) return it->second;
  bool ok = false;
  for (const std::string& p : c.perm->publish) ok = ok || subject_matches(p, subject);
  if (c.pub_allowed.size() >= kPermCacheMax) c.pub_allowed.clear();
  c.pub_allowed.emplace(std::string(subject), ok);
  return ok;
}

bool Broker::Impl::may_subscribe(const Conn& c, std::string_view pattern) const {
  if (pattern.starts_with(kInbox)) {
    // Own reply inbox: the token after _INBOX. must be literal, so nobody can
    // listen to everyone's replies with _INBOX.> or _INBOX.*.
    const std::string_view rest = pattern.substr(kInbox.size());
    const std::string_view tok = rest.substr(0, rest.find('.'));
    if (tok != "*" && tok != ">") return true;
  }
  return std::any_of(c.perm->subscribe.begin(), c.perm->subscribe.end(),
                     [&](const std::string& p) { return subject_covers(p, pattern); });
}

std::string Broker::Impl::stats_json(const Conn& viewer) const {
  // A restricted uid could read other clients' inbox tokens here and forge
  // replies to them; it sees only its own connection's inbox subscriptions.
  const auto hidden = [&](const Conn& owner, const Sub& s) {
    return viewer.perm != nullptr && &owner != &viewer && s.subject.starts_with(kInbox);
  };
  std::vector<const Conn*> sorted;
  for (const auto& [id, c] : conns) sorted.push_back(c.get());
  std::sort(sorted.begin(), sorted.end(), [](const Conn* a, const Conn* b) { return a->id < b->id; });
  std::uint64_t dropped = 0;
  for (const Conn* c : sorted)
    for (const auto& [sid, s] : c->subs) dropped += s->dropped;

  nlohmann::json j;
  j["connections"] = conns.size();
  j["accepted"] = accepted;
  j["refused"] = refused;
  j["protocol_errors"] = protocol_errors;
  j["slow_consumer_disconnects"] = slow_consumers;
  j["dropped"] = dropped;
  j["busy_poll"] = !opt.busy_poll ? "auto" : opt.busy_poll->count() == 0 ? "off" : "always";
  j["busy_poll_us"] = (opt.busy_poll ? *opt.busy_poll : kRequestReplyPoll).count();
  j["poll_turns"] = poll_turns;
  j["polls"] = polls;
  j["poll_backoffs"] = poll_backoffs;
  j["truncated"] = false;
  j["conns"] = nlohmann::json::array();
  const auto dump = [](const nlohmann::json& v) {
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  // The reply travels in one STATS frame (op, sid, payload): keep the JSON
  // within max_frame_bytes less that framing, so a big broker's stats never
  // become a frame the client must refuse. Totals always come first.
  const std::size_t budget = opt.max_frame_bytes > kStatsFraming ? opt.max_frame_bytes - kStatsFraming : 0;
  std::size_t size = dump(j).size();
  bool truncated = false;
  auto list = nlohmann::json::array();
  for (const Conn* c : sorted) {
    nlohmann::json cj{{"id", c->id},           {"uid", c->cred.uid},         {"gid", c->cred.gid},
                      {"pid", c->cred.pid},    {"frames_in", c->msgs_in},    {"bytes_in", c->bytes_in},
                      {"msgs_out", c->msgs_out}, {"bytes_out", c->bytes_out}, {"out_buffered", c->out.size()},
                      {"subscriptions", nlohmann::json::array()}};
    const std::size_t conn_size = dump(cj).size() + 1;  // + comma
    if (size + conn_size > budget) {
      truncated = true;
      break;
    }
    size += conn_size;
    std::vector<const Sub*> ss;
    for (const auto& [sid, s] : c->subs) ss.push_back(s.get());
    std::sort(ss.begin(), ss.end(), [](const Sub* a, const Sub* b) { return a->sid < b->sid; });
    auto& subs = cj["subscriptions"];
    for (const Sub* s : ss) {
      if (hidden(*c, *s)) continue;
      nlohmann::json sj{{"sid", s->sid},
                        {"subject", s->subject},
                        {"queue", s->queue},
                        {"policy", std::string(to_string(s->policy))},
                        {"max_msgs", s->max_msgs},
                        {"max_bytes", s->max_bytes},
                        {"delivered", s->delivered},
                        {"dropped", s->dropped},
                        {"pending_msgs", s->q.frames()},
                        {"pending_bytes", s->q.bytes()}};
      const std::size_t sub_size = dump(sj).size() + 1;
      if (size + sub_size > budget) {
        truncated = true;
        break;
      }
      size += sub_size;
      subs.push_back(std::move(sj));
    }
    list.push_back(std::move(cj));
    if (truncated) break;
  }
  j["truncated"] = truncated;
  j["conns"] = std::move(list);
  return dump(j);
}

}  // namespace airssys::bus
