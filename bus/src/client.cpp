// bus::Client: the public API over ClientCore, and the handshake, publish,
// flush, request and subscription bookkeeping. client_reader.cpp holds the
// reader thread (dispatch and reconnect).

#include "bytes_equal.hpp"
#include "client_core.hpp"
#include "plain_pub.hpp"

#include <airssys/bus/subject.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <utility>

namespace airssys::bus {

using detail::ClientCore;
using detail::Frame;
using detail::Op;
using detail::PubFields;

Message Message::from(const MessageView& v) {
  Message m{std::string(v.subject), std::string(v.reply_to), std::string(v.payload),
            std::string(v.correlation_id), std::string(v.content_type), {}};
  for (const Header& h : v.headers) m.headers.emplace_back(h.name, h.value);
  return m;
}

// ---- Subscription ----

Subscription::Subscription() = default;
Subscription::Subscription(Subscription&&) noexcept = default;
Subscription& Subscription::operator=(Subscription&& o) noexcept {
  if (this != &o) {
    unsubscribe();
    core_ = std::move(o.core_);
    sid_ = std::exchange(o.sid_, 0);
    pull_ = std::move(o.pull_);
  }
  return *this;
}
Subscription::~Subscription() { unsubscribe(); }

void Subscription::unsubscribe() {
  if (sid_ == 0) return;
  if (auto c = core_.lock()) c->remove_sub(sid_);
  if (pull_) {
    std::lock_guard lk(pull_->mu);
    pull_->closed = true;
    pull_->cv.notify_all();
  }
  sid_ = 0;
}

std::optional<Message> Subscription::next(std::chrono::milliseconds timeout) {
  if (!pull_) return std::nullopt;
  std::unique_lock lk(pull_->mu);
  pull_->cv.wait_for(lk, timeout, [&] { return !pull_->q.empty() || pull_->closed; });
  if (pull_->q.empty()) return std::nullopt;
  Message m = std::move(pull_->q.front());
  pull_->q.pop_front();
  return m;
}

std::uint64_t Subscription::dropped() const {
  if (!pull_) return 0;
  std::lock_guard lk(pull_->mu);
  return pull_->dropped;
}

// ---- Client ----

std::expected<std::unique_ptr<Client>, Error> Client::connect(ClientOptions options) {
  auto core = std::make_shared<ClientCore>(std::move(options));
  if (auto s = core->start(); !s) return std::unexpected(s.error());
  return std::unique_ptr<Client>(new Client(std::move(core)));
}

Client::Client(std::shared_ptr<ClientCore> core) : core_(std::move(core)) {}
Client::~Client() {
  core_->close();
  core_->outlive_reader(core_);
}

std::expected<void, Error> Client::publish(std::string_view subject, std::string_view payload,
                                           const PublishOptions& options) {
  return core_->publish(subject, payload, options);
}

std::expected<Subscription, Error> Client::subscribe(std::string_view pattern, Handler handler,
                                                     SubscribeOptions options) {
  if (!handler) return std::unexpected(Error::make(ErrorCategory::invalid_argument, "subscribe without a handler"));
  // add_sub may wait for a requester to hand back the read role: hold the
  // core, as request() does, in case another thread destroys the Client.
  const auto core = core_;
  detail::SubEntry e;
  e.options = std::move(options);
  e.handler = std::make_shared<Handler>(std::move(handler));
  auto sid = core->add_sub(pattern, std::move(e));
  if (!sid) return std::unexpected(sid.error());
  Subscription s;
  s.core_ = core;
  s.sid_ = *sid;
  return s;
}

std::expected<Subscription, Error> Client::subscribe_pull(std::string_view pattern, SubscribeOptions options) {
  const auto core = core_;  // see subscribe()
  detail::SubEntry e;
  auto pq = std::make_shared<detail::PullQueue>();
  pq->capacity = options.pull_capacity == 0 ? 1 : options.pull_capacity;
  e.options = std::move(options);
  e.pull = pq;
  auto sid = core->add_sub(pattern, std::move(e));
  if (!sid) return std::unexpected(sid.error());
  Subscription s;
  s.core_ = core;
  s.sid_ = *sid;
  s.pull_ = std::move(pq);
  return s;
}

// The calls that wait hold their own reference to the core: a Client
// destroyed by another thread meanwhile closes it (the call returns
// `closed`), and the core lives until the call has left it.
std::expected<Message, Error> Client::request(std::string_view subject, std::string_view payload,
                                              std::chrono::milliseconds timeout, const PublishOptions& options) {
  const std::shared_ptr<ClientCore> core = core_;
  return core->request(subject, payload, timeout, options);
}

std::expected<void, Error> Client::flush(std::chrono::milliseconds timeout) {
  const std::shared_ptr<ClientCore> core = core_;
  return core->flush(timeout);
}
std::expected<std::string, Error> Client::stats(std::chrono::milliseconds timeout) {
  const std::shared_ptr<ClientCore> core = core_;
  return core->stats(timeout);
}
bool Client::connected() const { return core_->is_connected(); }
std::uint64_t Client::reconnects() const { return core_->reconnect_count(); }

// ---- ClientCore ----

namespace detail {

namespace {
thread_local const ClientCore* tl_reading = nullptr;  // the ClientCore whose reader this thread is
}  // namespace

bool on_reader_thread(const ClientCore* c) noexcept { return tl_reading == c; }
const ClientCore* mark_reader_thread(const ClientCore* c) noexcept { return std::exchange(tl_reading, c); }

namespace {

Error closed_error() { return Error::make(ErrorCategory::closed, "the client is closed"); }
Error disconnected_error() { return Error::make(ErrorCategory::not_connected, "not connected to the broker (reconnecting)"); }
// flush() and stats() wait for a reply only the thread holding the read
// role reads: called on that thread (from a handler, or from on_error on the
// reader thread or a requesting one) they would wait out their timeout.
Error read_role_error(std::string_view call) {
  return Error::make(ErrorCategory::invalid_argument,
                     std::string(call) + " called from a handler or on_error (its reply is read by this very thread)");
}

bool write_all(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// write_all() that gives up at `deadline` (false): the fd stays blocking
// for everyone else, this write polls between non-blocking sends.
bool write_all_until(int fd, const char* p, std::size_t n, std::chrono::steady_clock::time_point deadline) {
  while (n > 0) {
    const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w >= 0) {
      p += w;
      n -= static_cast<std::size_t>(w);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pf{fd, POLLOUT, 0};
    if (::poll(&pf, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) < 0 && errno != EINTR) return false;
  }
  return true;
}

}  // namespace

ClientCore::~ClientCore() { close(); }

void ClientCore::outlive_reader(std::shared_ptr<ClientCore>& self) {
  // Only the reader thread itself sets reader_detached (in close()), and we
  // are on that thread when it is set: no lock needed.
  if (reader_detached && std::this_thread::get_id() == reader_id) keep = std::move(self);
}

std::expected<void, Error> ClientCore::start() {
  auto fd = dial();
  if (!fd) return std::unexpected(fd.error());
  wake = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return std::unexpected(Error::from_errno(errno, "eventfd"));
  sock = std::move(*fd);
  connected = true;
  set_out_state(OutState::open);
  reader = std::thread([this] {
    reader_id = std::this_thread::get_id();  // before any handler can run here
    reader_loop();
    // Destroyed from one of our handlers: the last reference may be ours,
    // and the state goes with it here, on this thread (nothing runs after).
    auto last = std::move(keep);
  });
  reader_id = reader.get_id();
  flusher = std::thread([this] { flusher_loop(); });
  return {};
}

void ClientCore::close() {
  {
    // Publishes stop being taken and the buffer is swapped out in one step
    // under out_mu: a publish is either in what is written below or fails
    // with `closed`. (Until session 15 close() wrote the buffer first and
    // refused publishes after, and one accepted in between was dropped.)
    // write_mu, held until that write is done, keeps the socket in place
    // (reconnect and on_disconnect take it and see `closed`) and lets no
    // other write run: any earlier flush_out has finished its write.
    // A write under way (the flusher, or a publisher flushing inline) holds
    // write_mu; if the broker has stopped reading it never ends. Past
    // close_timeout the socket is shut, which fails that write and frees
    // write_mu (the socket is replaced only with mu held too).
    const auto deadline = std::chrono::steady_clock::now() + opt.close_timeout;
    // (try_lock in a loop, not a timed_mutex: GCC 12's ThreadSanitizer
    // does not see pthread_mutex_clocklock and reports every such lock.)
    std::unique_lock w(write_mu, std::try_to_lock);
    while (!w.owns_lock()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        {
          std::lock_guard lk(mu);
          if (sock) ::shutdown(sock.get(), SHUT_RDWR);
        }
        w.lock();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      (void)w.try_lock();
    }
    bool was_open = false;
    {
      std::lock_guard lk(mu);
      if (closed) return;
      closed = true;
      connected = false;
      {
        std::lock_guard g(out_mu);
        was_open = out_state == OutState::open;
        out_state = OutState::closed;
        out.swap(spare);
      }
      cv_flush.notify_all();
      cv_reply.notify_all();
      cv_state.notify_all();
      cv_role.notify_all();
    }
    // Best effort: a write that fails is a lost connection, which drops
    // the buffer as it would have anyway.
    if (was_open && !spare.empty()) (void)write_all_until(sock.get(), spare.data(), spare.size(), deadline);
    spare.clear();
  }
  if (close_hook) close_hook();
  {
    // `sock` no longer changes: only reconnect and on_disconnect replace
    // it, and both stop at `closed`.
    std::lock_guard lk(mu);
    if (sock) ::shutdown(sock.get(), SHUT_RDWR);
  }
  if (wake) {
    const std::uint64_t one = 1;
    (void)!::write(wake.get(), &one, sizeof one);
  }
  if (!on_reader_thread(this)) {
    // A requester reading the socket stops at its next poll (woken above);
    // once it has handed the role back, nothing of ours runs on_error on
    // its thread any more. (Called from on_error on that thread, it stops
    // after the current batch instead.)
    std::unique_lock lk(mu);
    cv_role.wait(lk, [&] { return reading != Reading::request; });
  }
  if (std::this_thread::get_id() == reader_id) {
    // From a handler or on_error on the reader thread: it cannot join
    // itself (join() throws resource_deadlock_would_occur); it sees
    // `closed` and ends once the handler returns.
    if (reader.joinable()) reader.detach();
    reader_detached = true;
  } else if (reader.joinable()) {
    reader.join();
  }
  if (flusher.joinable()) flusher.join();
  for (auto& [sid, e] : subs) {
    if (e.pull) {
      std::lock_guard pl(e.pull->mu);
      e.pull->closed = true;
      e.pull->cv.notify_all();
    }
  }
}

std::expected<UniqueFd, Error> ClientCore::dial() {
  auto fd = connect_unix(opt.socket_path);
  if (!fd) return fd;
  ByteBuffer b;
  Frame ping;
  ping.op = Op::ping;
  encode_frame(b, ping);
  // A broker that refuses us sends ERR and closes at once, so this write may
  // fail (EPIPE) while the ERR still waits to be read: read either way.
  (void)write_all(fd->get(), b.data(), b.size());
  FrameDecoder dec(opt.max_frame_bytes);
  const auto deadline = std::chrono::steady_clock::now() + opt.handshake_timeout;
  while (true) {
    auto f = dec.next();
    if (!f) return std::unexpected(f.error());
    if (*f) {
      if ((*f)->op == Op::pong) return fd;
      if ((*f)->op == Op::err) {
        const std::string text((*f)->text);
        return std::unexpected(Error::make(text.starts_with("not authorized") ? ErrorCategory::not_authorized : ErrorCategory::io, text));
      }
      continue;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::unexpected(Error::make(ErrorCategory::timeout, "no handshake reply from the broker"));
    pollfd p{fd->get(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return std::unexpected(Error::from_errno(errno, "poll"));
    if (r <= 0) continue;
    char* dst = dec.prepare(4096);
    const ssize_t n = ::read(fd->get(), dst, 4096);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      return std::unexpected(Error::make(ErrorCategory::not_connected, "the broker closed the connection during the handshake"));
    }
    dec.commit(static_cast<std::size_t>(n));
  }
}

std::expected<void, Error> ClientCore::publish(std::string_view subject, std::string_view payload,
                                               const PublishOptions& po) {
  // Publishers usually repeat a subject, and whether one is valid depends on
  // its bytes alone: each thread remembers the last valid subject it
  // published to (validation was a fifth of a publish's time, perf).
  thread_local std::string tl_valid_subject;
  if (subject.empty() || !bytes_equal(subject, tl_valid_subject)) {
    if (auto v = validate_publish_subject(subject); !v) return v;
    tl_valid_subject.assign(subject);
  }
  // Most publishes carry a subject and a payload only: those take the
  // inline encoder (plain_pub.hpp), the rest the general one. (Two paths,
  // not one with an optional PubFields: zeroing that struct per publish
  // was a tenth of the time, perf.)
  if (po.reply_to.empty() && po.correlation_id.empty() && po.content_type.empty() && po.headers.empty()) {
    const std::size_t body = plain_pub_body_size(subject, payload);
    return append_pub(body, [&](ByteBuffer& b) { encode_plain_pub(b, subject, payload, body); });
  }
  if (!po.reply_to.empty())
    if (auto v = validate_publish_subject(po.reply_to); !v) return v;
  for (const Header& h : po.headers)
    if (auto v = validate_header(h); !v) return v;
  const PubFields p{subject, po.reply_to, payload, po.correlation_id, po.content_type, po.headers};
  const std::size_t body = pub_body_size(p);
  return append_pub(body, [&](ByteBuffer& b) { encode_pub(b, p, body); });
}

template <class Encode>
std::expected<void, Error> ClientCore::append_pub(std::size_t body, const Encode& encode) {
  if (const std::size_t relayed = body + kRelaySidMax; relayed > opt.max_frame_bytes)
    return std::unexpected(Error::make(ErrorCategory::frame_too_large, "message of " + std::to_string(relayed) +
                                                                  " bytes as relayed to subscribers exceeds the frame limit of " +
                                                                  std::to_string(opt.max_frame_bytes)));
  // Only the output buffer's spin lock per message: `mu` (a futex-based
  // mutex shared with the flusher and reader) cost a second atomic
  // operation per publish and put the publisher to sleep whenever the
  // flusher held it.
  bool was_empty = false;
  std::size_t buffered = 0;
  OutState state;
  {
    std::lock_guard g(out_mu);
    state = out_state;
    if (state == OutState::open) {
      was_empty = out.empty();
      encode(out);
      buffered = out.size();
    }
  }
  if (state != OutState::open) [[unlikely]]
    return std::unexpected(state == OutState::closed ? closed_error() : disconnected_error());
  if (buffered >= opt.flush_threshold) {
    flush_out();
  } else if (was_empty && !on_reader_thread(this)) {
    // A lone publish on an idle client (nothing written for flush_delay)
    // goes out at once: waiting for the flusher would only add its delay
    // and a thread hand-off to a message nothing will batch with. Under
    // load the last write was recent, and the flusher batches. (On the
    // reader thread, replies from handlers are written after the handler.)
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const std::int64_t last = last_write.load(std::memory_order_relaxed);
    if (last == kNeverWritten ||
        now - last >= std::chrono::duration_cast<std::chrono::steady_clock::duration>(opt.flush_delay).count()) {
      flush_out();
    } else {
      // Under mu, so the flusher is either about to test its predicate
      // (and sees the bytes) or already waiting (and is woken).
      std::lock_guard lk(mu);
      cv_flush.notify_one();
    }
  }
  return {};
}

void ClientCore::set_out_state(OutState s) {
  std::lock_guard g(out_mu);
  out_state = s;
}

bool ClientCore::out_pending() {
  std::lock_guard g(out_mu);
  return !out.empty();
}

void ClientCore::append_control(const Frame& f) {
  std::lock_guard g(out_mu);
  if (out.empty()) cv_flush.notify_one();
  encode_frame(out, f);
}

void ClientCore::flush_out() {
  std::lock_guard w(write_mu);
  {
    std::lock_guard g(out_mu);
    if (out.empty() || out_state != OutState::open) return;
    out.swap(spare);
  }
  const int fd = sock.get();  // replaced only with write_mu held
  if (!write_all(fd, spare.data(), spare.size())) ::shutdown(fd, SHUT_RDWR);  // the reader reconnects
  last_write.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  spare.clear();
  spare.shrink_if_above(4 * opt.flush_threshold);
}

void ClientCore::flusher_loop() {
  std::unique_lock lk(mu);
  while (!closed) {
    cv_flush.wait(lk, [&] { return closed || (connected && out_pending()); });
    if (closed) break;
    lk.unlock();
    wait_for_batch();
    flush_out();
    lk.lock();
  }
}

std::size_t ClientCore::out_size() {
  std::lock_guard g(out_mu);
  return out.size();
}

bool ClientCore::flusher_pause(std::chrono::microseconds d) {
  // Not sleep_for: close() joins the flusher, and with a sleep it cannot end
  // close() waited out what was left of flush_delay. A flusher that saw a
  // lone publish's bytes just before the publisher wrote them itself (the
  // idle case in append_pub) sleeps a whole flush_delay for nothing: 2
  // minutes in bus.broker's IdleClientWritesALonePublishAtOnce, past
  // ctest's timeout. close() notifies cv_state after setting `closed`, as
  // for reconnect()'s backoff.
  std::unique_lock lk(mu);
  return !cv_state.wait_for(lk, d, [&] { return closed; });
}

void ClientCore::wait_for_batch() {
  if (opt.flush_delay.count() <= 0) return;
  batch_waits.fetch_add(1, std::memory_order_relaxed);
  // The deferral is bounded by time, not by the number of sleeps (a sleep
  // of flush_delay overshoots under load): bytes wait at most
  // kFlushDeferPeriods * flush_delay after the check before they arrived,
  // plus one sleep.
  using clock = std::chrono::steady_clock;
  const auto budget = kFlushDeferPeriods * opt.flush_delay;
  std::size_t before = out_size();
  auto checked = clock::now();
  auto deadline = checked + budget;
  for (;;) {
    if (!flusher_pause(opt.flush_delay)) return;  // closed: close() wrote the buffer
    const auto at = clock::now();
    const std::size_t now = out_size();
    if (now == 0) return;  // written meanwhile (or dropped with the connection)
    if (now < before) {
      // A publisher wrote a full buffer itself: it is busy; the bytes here
      // came after that write, i.e. after the previous check, so their
      // wait is counted from there.
      before = now;
      deadline = checked + budget;
      checked = at;
      if (at >= deadline) return;
      continue;
    }
    const std::size_t grew = now - before;
    if (grew == 0 || at >= deadline) return;
    // At this pace the publisher reaches flush_threshold (and writes the
    // buffer itself) before the deadline: leave it the whole batch.
    const auto periods_left = static_cast<std::size_t>((deadline - at) / opt.flush_delay);
    if (now + grew * periods_left < opt.flush_threshold) return;
    before = now;
    checked = at;
  }
}

void ClientCore::encode_sub(std::uint64_t sid, const SubEntry& e) {
  Frame f;
  f.op = Op::sub;
  f.sid = sid;
  f.subject = e.subject;
  f.queue = e.options.queue;
  f.policy = static_cast<std::uint32_t>(e.options.policy);
  f.max_msgs = e.options.max_msgs;
  f.max_bytes = e.options.max_bytes;
  append_control(f);
}

std::expected<std::uint64_t, Error> ClientCore::add_sub(std::string_view pattern, SubEntry entry) {
  if (auto v = validate_subscribe_subject(pattern); !v) return std::unexpected(v.error());
  std::unique_lock lk(mu);
  if (closed) return std::unexpected(closed_error());
  const std::uint64_t sid = next_sid++;
  entry.subject = pattern;
  const bool has_handler = static_cast<bool>(entry.handler);
  subs.emplace(sid, std::move(entry));
  if (has_handler && ++handler_subs == 1 && reading == Reading::request && !on_reader_thread(this)) {
    // A requester reads: it hands the role back (woken from its poll) before
    // the broker can send this subscription anything, so its handler never
    // runs on a requesting thread. From a requester's own on_error the
    // requester stops after the current batch, which cannot hold messages
    // for a SUB not yet sent.
    const std::uint64_t one = 1;
    (void)!::write(wake.get(), &one, sizeof one);
    cv_role.wait(lk, [&] { return reading != Reading::request || closed; });
    if (closed) {
      subs.erase(sid);
      --handler_subs;
      return std::unexpected(closed_error());
    }
  }
  if (connected) encode_sub(sid, subs.at(sid));  // else sent on reconnect
  return sid;
}

void ClientCore::remove_sub(std::uint64_t sid) {
  std::lock_guard lk(mu);
  const auto it = subs.find(sid);
  if (it == subs.end()) return;
  if (it->second.handler) --handler_subs;
  subs.erase(it);
  subs_gen.fetch_add(1, std::memory_order_release);
  if (!connected) return;
  Frame f;
  f.op = Op::unsub;
  f.sid = sid;
  append_control(f);
}

std::expected<std::uint64_t, Error> ClientCore::send_ping(Op op) {
  std::uint64_t seq = 0;
  {
    std::lock_guard lk(mu);
    if (closed) return std::unexpected(closed_error());
    if (!connected) return std::unexpected(disconnected_error());
    seq = ++ping_seq;
    Frame f;
    f.op = op;
    f.sid = seq;
    std::lock_guard g(out_mu);  // written below, not by the flusher
    encode_frame(out, f);
  }
  flush_out();
  return seq;
}

std::expected<void, Error> ClientCore::flush(std::chrono::milliseconds timeout) {
  if (on_reader_thread(this)) return std::unexpected(read_role_error("flush()"));
  std::uint64_t gen = 0;
  {
    std::lock_guard lk(mu);
    gen = conn_gen;
  }
  auto seq = send_ping(Op::ping);
  if (!seq) return std::unexpected(seq.error());
  std::unique_lock lk(mu);
  const bool done =
      cv_reply.wait_for(lk, timeout, [&] { return closed || conn_gen != gen || pong_seq >= *seq; });
  if (closed) return std::unexpected(closed_error());
  if (conn_gen != gen) return std::unexpected(lost_error());
  if (!done) return std::unexpected(Error::make(ErrorCategory::timeout, "the broker did not answer a flush in time"));
  if (first_err) {
    Error e = std::move(*first_err);
    first_err.reset();
    return std::unexpected(std::move(e));
  }
  return {};
}

std::expected<std::string, Error> ClientCore::stats(std::chrono::milliseconds timeout) {
  if (on_reader_thread(this)) return std::unexpected(read_role_error("stats()"));
  std::uint64_t gen = 0;
  {
    std::lock_guard lk(mu);
    gen = conn_gen;
  }
  auto seq = send_ping(Op::stats);
  if (!seq) return std::unexpected(seq.error());
  std::unique_lock lk(mu);
  cv_reply.wait_for(lk, timeout, [&] { return closed || conn_gen != gen || stats_replies.contains(*seq); });
  const auto it = stats_replies.find(*seq);
  if (it == stats_replies.end()) {
    if (closed) return std::unexpected(closed_error());
    if (conn_gen != gen) return std::unexpected(lost_error());
    return std::unexpected(Error::make(ErrorCategory::timeout, "no stats reply from the broker in time"));
  }
  std::string s = std::move(it->second);
  stats_replies.erase(it);
  return s;
}

std::expected<Message, Error> ClientCore::request(std::string_view subject, std::string_view payload,
                                                  std::chrono::milliseconds timeout, const PublishOptions& po) {
  if (auto v = validate_publish_subject(subject); !v) return std::unexpected(v.error());
  for (const Header& h : po.headers)
    if (auto v = validate_header(h); !v) return std::unexpected(v.error());
  // On the thread that reads the socket (in a subscription handler) the reply
  // could only arrive after the handler returned: fail now, not at the timeout.
  if (on_reader_thread(this))
    return std::unexpected(Error::make(ErrorCategory::invalid_argument,
                                       "request() called from a subscription handler (its reply would be read only after the handler returns)"));
  std::uint64_t id = 0, gen = 0;
  {
    std::lock_guard lk(mu);
    if (closed) return std::unexpected(closed_error());
    if (!connected) return std::unexpected(disconnected_error());
    if (inbox_sid == 0) {
      unsigned char rnd[12];
      if (::getrandom(rnd, sizeof rnd, 0) != static_cast<ssize_t>(sizeof rnd))
        return std::unexpected(Error::from_errno(errno, "getrandom"));
      static constexpr char kHex[] = "0123456789abcdef";
      inbox_prefix = "_INBOX.";
      for (unsigned char c : rnd) {
        inbox_prefix += kHex[c >> 4];
        inbox_prefix += kHex[c & 15];
      }
      inbox_prefix += '.';
      inbox_sid = next_sid++;
      SubEntry e;
      e.subject = inbox_prefix + "*";
      e.options.max_msgs = 0;
      auto& ref = subs.emplace(inbox_sid, std::move(e)).first->second;
      encode_sub(inbox_sid, ref);
    }
    id = next_req++;
    gen = conn_gen;
    requests.emplace(id, std::nullopt);
    // The inbox prefix (32 bytes) and the request number, without a heap
    // allocation per request.
    char reply_to[64];
    const std::size_t plen = std::min(inbox_prefix.size(), sizeof reply_to - 20);
    std::memcpy(reply_to, inbox_prefix.data(), plen);
    const char* const end = std::to_chars(reply_to + plen, reply_to + sizeof reply_to, id).ptr;
    const PubFields p{subject, std::string_view(reply_to, static_cast<std::size_t>(end - reply_to)), payload,
                      po.correlation_id, po.content_type, po.headers};
    std::lock_guard g(out_mu);  // written below, not by the flusher
    encode_pub(out, p, pub_body_size(p));
  }
  flush_out();
  // Wait for the reply, reading it ourselves when we can (client_core.hpp,
  // the read role): the reply then wakes this thread, not the reader thread.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lk(mu);
  ++req_waiters;
  while (!request_done(id, gen)) {
    if (reading == Reading::none && connected && handler_subs == 0) {
      reading = Reading::request;
      const int fd = sock.get();  // replaced only by the reader thread, with the role
      lk.unlock();
      try {
        lead(fd, id, gen, deadline);
      } catch (...) {
        // From on_error (a handler's exception is caught in dispatch): the
        // role is given back, not kept by a thread that left request().
        lk.lock();
        reading = Reading::none;
        released_at = {};
        --req_waiters;
        requests.erase(id);
        cv_reply.notify_all();
        cv_role.notify_all();
        throw;
      }
      lk.lock();
      reading = Reading::none;
      // A lost connection is for the reader thread to restore at once, and
      // so is reading for a new handler subscription.
      const bool reader_now = conn_gen != gen || closed || handler_subs > 0;
      const auto now = std::chrono::steady_clock::now();
      released_at = reader_now ? std::chrono::steady_clock::time_point{} : now;
      if (req_waiters > 1) cv_reply.notify_all();  // another request may read now
      if (reader_now) cv_role.notify_all();
      if (now >= deadline) break;
      continue;
    }
    if (reading == Reading::background && !kicked && handler_subs == 0) {
      kicked = true;
      const std::uint64_t one = 1;
      (void)!::write(wake.get(), &one, sizeof one);
    }
    if (cv_reply.wait_until(lk, deadline) == std::cv_status::timeout) break;
  }
  --req_waiters;
  auto node = requests.extract(id);
  if (node.mapped()) return std::move(*node.mapped());
  if (closed) return std::unexpected(closed_error());
  if (conn_gen != gen) return std::unexpected(lost_error());
  return std::unexpected(Error::make(ErrorCategory::timeout, "no reply on '" + std::string(subject) + "' within " +
                                                        std::to_string(timeout.count()) + " ms"));
}

Error ClientCore::lost_error() const {
  if (!lost_why) return disconnected_error();
  return Error{lost_why->category, lost_why->errno_value, "connection to the broker lost: " + lost_why->message};
}

bool ClientCore::is_connected() const {
  std::lock_guard lk(mu);
  return connected;
}

std::uint64_t ClientCore::reconnect_count() const {
  std::lock_guard lk(mu);
  return reconnects;
}

}  // namespace detail
}  // namespace airssys::bus
