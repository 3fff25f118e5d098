// Reading the socket: the read role's holder (the reader thread, or a thread
// waiting in request(); client_core.hpp) reads big chunks, dispatches every
// frame in them, then sends what handlers published (so replies leave at
// once). The reader thread reconnects with exponential backoff when the
// connection drops.

#include "client_core.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

namespace airssys::bus::detail {

namespace {
constexpr std::size_t kReadChunk = 256 * 1024;
}  // namespace

void ClientCore::report(const Error& e) {
  if (opt.on_error) opt.on_error(e);
}

void ClientCore::reader_loop() {
  mark_reader_thread(this);
  while (true) {
    int fd = -1;
    bool conn = false;
    {
      std::unique_lock lk(mu);
      while (!closed) {
        if (reading == Reading::none && handler_subs > 0) break;  // requesters do not read then
        if (reading == Reading::none && req_waiters == 0) {
          const auto until = released_at + kReadLinger;
          if (std::chrono::steady_clock::now() >= until) break;
          cv_role.wait_until(lk, until);
        } else {
          // A requester holds or wants the role. Its hand-back does not
          // notify (see kReadLinger): look again a linger later.
          cv_role.wait_for(lk, kReadLinger);
        }
      }
      if (closed) return;
      reading = Reading::background;
      kicked = false;
      fd = sock.get();
      conn = connected;
    }
    bool keep_going = true;
    if (!conn) {
      keep_going = reconnect();
    } else {
      while (true) {
        const Pumped p = pump(fd, -1);
        if (p == Pumped::lost) break;  // reconnect, with the role taken again
        if (p == Pumped::woken) {
          std::lock_guard lk(mu);
          if (closed || (req_waiters > 0 && handler_subs == 0)) break;
          // A requester that signalled may have its reply already (it came
          // with the signal): let the next one signal again.
          kicked = false;
        }
      }
    }
    {
      std::lock_guard lk(mu);
      reading = Reading::none;
    }
    cv_reply.notify_all();  // a requester waiting for the role
    if (!keep_going) return;
  }
}

ClientCore::Pumped ClientCore::pump(int fd, int timeout_ms) {
  pollfd p[2] = {{fd, POLLIN, 0}, {wake.get(), POLLIN, 0}};
  const int r = ::poll(p, 2, timeout_ms);
  if (r < 0) {
    if (errno == EINTR) return Pumped::idle;
    on_disconnect(Error::from_errno(errno, "poll"));
    in_dec = FrameDecoder(opt.max_frame_bytes);
    return Pumped::lost;
  }
  Pumped result = r == 0 ? Pumped::idle : Pumped::data;
  if (p[1].revents != 0) {
    // Drained by whoever sees it, so a stale signal never spins the next
    // holder; the reason (closed, a waiting requester) is state under mu.
    std::uint64_t v = 0;
    (void)!::read(wake.get(), &v, sizeof v);
    result = Pumped::woken;
  }
  if (p[0].revents == 0) return result;
  char* dst = in_dec.prepare(kReadChunk);
  const ssize_t n = ::read(fd, dst, kReadChunk);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return result;
  if (n <= 0) {
    on_disconnect(n == 0 ? Error::make(ErrorCategory::not_connected, "the broker closed the connection")
                         : Error::from_errno(errno, "read from broker"));
    in_dec = FrameDecoder(opt.max_frame_bytes);
    return Pumped::lost;
  }
  in_dec.commit(static_cast<std::size_t>(n));
  while (true) {
    auto got = in_dec.next(in_frame);
    if (!got) {
      on_disconnect(Error{got.error().category, got.error().errno_value, "from broker: " + got.error().message});
      in_dec = FrameDecoder(opt.max_frame_bytes);
      return Pumped::lost;
    }
    if (!*got) break;
    dispatch(in_frame);
  }
  in_dec.shrink_if_above(4 * kReadChunk);
  if (out_pending()) flush_out();
  return result;
}

bool ClientCore::request_done(std::uint64_t id, std::uint64_t gen) {
  if (closed || conn_gen != gen) return true;
  const auto it = requests.find(id);
  return it != requests.end() && it->second.has_value();
}

void ClientCore::lead(int fd, std::uint64_t id, std::uint64_t gen, std::chrono::steady_clock::time_point deadline) {
  // on_error may run here: a request() from it fails at once (see
  // request()). The mark is put back as it was: this thread may be another
  // client's reader, inside one of its handlers.
  struct PutBack {
    const ClientCore* previous;
    ~PutBack() { mark_reader_thread(previous); }
  } put_back{mark_reader_thread(this)};
  while (true) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) break;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    const Pumped p = pump(fd, static_cast<int>(std::min<std::int64_t>(ms, 60'000)));
    if (p == Pumped::lost) break;
    std::lock_guard lk(mu);
    if (request_done(id, gen) || handler_subs > 0) break;
  }
}

void ClientCore::dispatch(const Frame& f) {
  switch (f.op) {
    case Op::msg: {
      // Hot path: the same subscription as the last message and none removed
      // since: no lock, no reference counting.
      if (f.sid != cached_sid || cached_gen != subs_gen.load(std::memory_order_acquire)) {
        std::unique_lock lk(mu);
        if (f.sid == inbox_sid && inbox_sid != 0) {
          lk.unlock();  // inbox_prefix is fixed once inbox_sid is set
          return deliver_reply(f);
        }
        const auto it = subs.find(f.sid);
        if (it == subs.end()) return;  // unsubscribed meanwhile
        cached_sid = f.sid;
        cached_gen = subs_gen.load(std::memory_order_relaxed);
        cached_handler = it->second.handler;
        cached_pull = it->second.pull;
      }
      Handler* const handler = cached_handler.get();  // kept alive by the cache
      PullQueue* const pull = cached_pull.get();
      const MessageView v{f.subject, f.reply_to, f.payload, f.correlation_id, f.content_type, Headers(f.headers)};
      if (handler) {
        try {
          (*handler)(v);
        } catch (const std::exception& e) {
          report(Error::make(ErrorCategory::invalid_argument, std::string("subscription handler threw: ") + e.what()));
        }
      } else if (pull) {
        std::lock_guard pl(pull->mu);
        if (pull->q.size() >= pull->capacity) {
          ++pull->dropped;
        } else {
          pull->q.push_back(Message::from(v));
          pull->cv.notify_one();
        }
      }
      return;
    }
    case Op::pong: {
      {
        std::lock_guard lk(mu);
        pong_seq = std::max(pong_seq, f.sid);
      }
      cv_reply.notify_all();  // after unlocking: see deliver_reply
      return;
    }
    case Op::stats: {
      std::string json(f.payload);
      {
        std::lock_guard lk(mu);
        stats_replies[f.sid] = std::move(json);
      }
      cv_reply.notify_all();
      return;
    }
    case Op::err: {
      const std::string text(f.text);
      ErrorCategory code = ErrorCategory::io;
      if (text.starts_with("permission denied")) code = ErrorCategory::permission_denied;
      if (text.starts_with("message too large")) code = ErrorCategory::frame_too_large;
      if (text.find("in subject") != std::string::npos || text.starts_with("empty subject")) code = ErrorCategory::invalid_subject;
      Error e = Error::make(code, text);
      {
        std::lock_guard lk(mu);
        if (!first_err) first_err = e;
        if (const auto it = f.sid != 0 ? subs.find(f.sid) : subs.end(); it != subs.end()) {  // refused SUB
          if (it->second.handler) --handler_subs;
          subs.erase(it);
          subs_gen.fetch_add(1, std::memory_order_release);
        }
      }
      report(e);
      return;
    }
    default:
      return;  // nothing else is sent to clients; ignore
  }
}

void ClientCore::deliver_reply(const Frame& f) {
  std::uint64_t id = 0;
  const std::string_view tok = f.subject.substr(std::min(f.subject.size(), inbox_prefix.size()));
  if (std::from_chars(tok.data(), tok.data() + tok.size(), id).ec != std::errc{}) return;
  // The copy is made before taking mu, and the waiter is woken after
  // releasing it: woken while we still held mu, it would only block on mu
  // again, one more sleep and wake-up on every request's critical path.
  Message m = Message::from({f.subject, f.reply_to, f.payload, f.correlation_id, f.content_type, Headers(f.headers)});
  bool taken = false;
  {
    std::lock_guard lk(mu);
    if (const auto it = requests.find(id); it != requests.end() && !it->second) {
      it->second = std::move(m);
      taken = true;
    }
  }
  if (taken) cv_reply.notify_all();
}

void ClientCore::on_disconnect(const Error& why) {
  {
    std::lock_guard w(write_mu);
    std::lock_guard lk(mu);
    if (closed) return;  // our own close(), not a lost connection
    connected = false;
    lost_why = why;
    ++conn_gen;
    {
      std::lock_guard g(out_mu);
      out_state = OutState::disconnected;
      out.clear();
    }
    sock.reset();
    cv_reply.notify_all();
  }
  report(why);
}

bool ClientCore::reconnect() {
  auto delay = opt.reconnect_initial;
  while (true) {
    {
      std::unique_lock lk(mu);
      if (closed || !opt.reconnect) return false;
      cv_state.wait_for(lk, delay, [&] { return closed; });
      if (closed) return false;
    }
    auto fd = dial();
    if (!fd) {
      report(Error{fd.error().category, fd.error().errno_value, "reconnect failed: " + fd.error().message});
      delay = std::min(delay * 2, opt.reconnect_max);
      continue;
    }
    {
      std::lock_guard w(write_mu);
      std::lock_guard lk(mu);
      if (closed) return false;
      sock = std::move(*fd);
      connected = true;
      ++reconnects;
      // The subscriptions go first: a publish may be queued the moment the
      // state is open (it takes only out_mu), and one queued ahead of the
      // SUBs would miss this client's own subscriptions.
      for (const auto& [sid, e] : subs) encode_sub(sid, e);
      set_out_state(OutState::open);
    }
    flush_out();
    if (opt.on_reconnect) opt.on_reconnect();
    return true;
  }
}

}  // namespace airssys::bus::detail
