#pragma once
// Client internals. Locking, in the order taken: `write_mu` serialises
// socket writes and guards `sock` together with `mu` (replaced only with
// both held, so either suffices to read it); `mu` guards the state below
// it; `out_mu`, innermost, guards the output buffer and `out_state` and is
// all a publish takes (a spin lock: held for one append or one swap).
//
// The read role: one thread at a time reads the socket, decodes and
// dispatches — the reader thread, or a thread waiting in request(), which
// reads its own reply rather than being woken by the reader thread (one
// thread hand-off less per request). `reading` (under mu) says who holds
// it; the decoder and the handler cache below belong to the holder, and
// every hand-over goes through mu. A requester takes the role when it is
// free; when the reader thread holds it, the requester signals `wake` and
// the reader thread gives it up at its next poll. A requester hands the
// role back when its reply arrived (or it timed out, or the connection was
// lost); the reader thread takes it back only after kReadLinger without a
// requester, so back-to-back requests do not bounce it between threads.
// Only the reader thread reconnects. Requesters read only while the client
// has no subscription with a handler (`handler_subs`): handlers run on the
// reader thread alone, so a caller may hold a lock its handler takes while
// it waits in request(). subscribe() with a handler makes a reading
// requester hand the role back before the SUB is sent.

#include "frame.hpp"
#include "spin_lock.hpp"
#include "unix_socket.hpp"

#include <airssys/bus/client.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace airssys::bus::detail {

// How long the reader thread leaves the read role free after a requester
// handed it back. A request within it reads its reply without a hand-over
// (back-to-back requests never wake the reader thread); a message for a
// subscription arriving meanwhile waits up to this long to be dispatched.
inline constexpr std::chrono::milliseconds kReadLinger{1};

// The flusher writes flush_delay after the buffer became non-empty, unless
// a publisher keeps filling it fast enough to reach flush_threshold within
// this many flush_delays: then it waits (period by period, until this many
// have passed on the clock) and leaves the write to that publisher. Under a fast stream the flusher's
// 100 µs writes had cost the publisher a sixth of its throughput (a thread
// and the broker woken per small batch, write_mu held against the
// publisher; docs/BENCHMARKS.md); a message waits about this many
// flush_delays (1 ms by default) plus one sleep's overshoot at most.
inline constexpr int kFlushDeferPeriods = 10;

class ClientCore;
// Whether the calling thread is c's reader thread (set by the reader loop).
[[nodiscard]] bool on_reader_thread(const ClientCore* c) noexcept;
// Marks the calling thread as c's reader (nullptr: none); returns the mark
// it replaces, for a caller to put back.
const ClientCore* mark_reader_thread(const ClientCore* c) noexcept;

struct PullQueue {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Message> q;
  std::size_t capacity = 0;
  std::uint64_t dropped = 0;
  bool closed = false;
};

struct SubEntry {
  std::string subject;
  SubscribeOptions options;
  std::shared_ptr<Handler> handler;
  std::shared_ptr<PullQueue> pull;
};

class ClientCore {
 public:
  explicit ClientCore(ClientOptions o) : opt(std::move(o)) {}
  ~ClientCore();

  std::expected<void, Error> start();  // first connect + threads
  void close();                        // idempotent
  // Called by the owner (Client's destructor) after close(): when that ran
  // on our own reader thread (a handler or on_error destroying its
  // client), close() could not join that thread, so it detached it, and
  // the state must live until the thread's loop has returned. `self` is
  // the owner's reference; it is kept by the reader thread and released
  // as its last act. Otherwise a no-op (`self` is released by the caller).
  void outlive_reader(std::shared_ptr<ClientCore>& self);

  std::expected<void, Error> publish(std::string_view subject, std::string_view payload, const PublishOptions& po);
  std::expected<std::uint64_t, Error> add_sub(std::string_view pattern, SubEntry entry);
  void remove_sub(std::uint64_t sid);
  std::expected<Message, Error> request(std::string_view subject, std::string_view payload,
                                        std::chrono::milliseconds timeout, const PublishOptions& po);
  std::expected<void, Error> flush(std::chrono::milliseconds timeout);
  std::expected<std::string, Error> stats(std::chrono::milliseconds timeout);
  bool is_connected() const;
  std::uint64_t reconnect_count() const;

 private:
  std::expected<UniqueFd, Error> dial();  // connect + handshake
  void reader_loop();
  // With the read role held: waits up to timeout_ms (-1: no limit) for the
  // socket or `wake`, reads what is there, dispatches every complete frame
  // and writes what handlers published. `lost`: the connection is gone
  // (on_disconnect done, decoder reset).
  enum class Pumped { data, idle, woken, lost };
  Pumped pump(int fd, int timeout_ms);
  // request(): read as the role holder until the reply to `id` is in,
  // the connection `gen` is gone, the client is closed or `deadline`.
  void lead(int fd, std::uint64_t id, std::uint64_t gen, std::chrono::steady_clock::time_point deadline);
  bool request_done(std::uint64_t id, std::uint64_t gen);  // with mu held
  // publish() after validation: checks the frame limit, appends the PUB
  // (`body` bytes, written by encode(out) under out_mu) and writes the
  // buffer when due.
  template <class Encode>
  std::expected<void, Error> append_pub(std::size_t body, const Encode& encode);
  void flusher_loop();
  // The flusher's wait before it writes (kFlushDeferPeriods).
  void wait_for_batch();
  // The flusher's sleep of `d`, cut short by close(); false once closed.
  bool flusher_pause(std::chrono::microseconds d);
  [[nodiscard]] std::size_t out_size();
  void flush_out();
  void dispatch(const Frame& f);
  void deliver_reply(const Frame& f);  // a MSG on the reply inbox
  void on_disconnect(const Error& why);
  bool reconnect();  // false when closed
  void report(const Error& e);
  void encode_sub(std::uint64_t sid, const SubEntry& e);  // with mu held
  std::expected<std::uint64_t, Error> send_ping(Op op);    // PING or STATS; returns seq

  // Whether publishes are taken (out_state, under out_mu): it follows
  // `connected` and `closed` and is changed with them, under mu.
  enum class OutState { open, disconnected, closed };
  void set_out_state(OutState s);
  // A control frame (SUB, UNSUB, PING, STATS) into `out`, waking the
  // flusher if it was empty; with mu held.
  void append_control(const Frame& f);
  [[nodiscard]] bool out_pending();

  const ClientOptions opt;

  mutable std::mutex mu;
  UniqueFd sock;
  bool connected = false, closed = false;
  std::uint64_t conn_gen = 0, reconnects = 0;
  std::unordered_map<std::uint64_t, SubEntry> subs;
  std::uint64_t next_sid = 1;
  std::uint64_t ping_seq = 0, pong_seq = 0;
  std::unordered_map<std::uint64_t, std::string> stats_replies;
  std::optional<Error> first_err;
  // Why the last connection was lost (e.g. frame_too_large): what a flush,
  // request or stats waiting on that connection returns.
  std::optional<Error> lost_why;
  Error lost_error() const;  // with mu held
  std::string inbox_prefix;
  std::uint64_t inbox_sid = 0, next_req = 1;
  std::unordered_map<std::uint64_t, std::optional<Message>> requests;
  std::condition_variable cv_flush, cv_reply, cv_state;
  // The read role (see the top of this file); all under mu.
  enum class Reading { none, background, request };
  Reading reading = Reading::none;
  std::size_t req_waiters = 0;  // requests waiting for their reply
  bool kicked = false;          // `wake` signalled since the reader thread took the role
  std::size_t handler_subs = 0;  // subscriptions with a handler (requesters then never read)
  std::chrono::steady_clock::time_point released_at{};  // a requester last handed the role back
  std::condition_variable cv_role;  // the reader thread waits here for the role
  // Bumped (under mu) whenever a subscription is removed, so the reader can
  // reuse its last handler lookup without taking mu per message.
  std::atomic<std::uint64_t> subs_gen{0};

  // The read role's holder only: the decoder and the last MSG target.
  FrameDecoder in_dec{opt.max_frame_bytes};
  Frame in_frame;  // reused: decoding writes every field
  std::uint64_t cached_sid = 0, cached_gen = 0;
  std::shared_ptr<Handler> cached_handler;
  std::shared_ptr<PullQueue> cached_pull;

  std::mutex write_mu;
  ByteBuffer spare;  // under write_mu

  SpinLock out_mu;
  ByteBuffer out;
  OutState out_state = OutState::disconnected;
  // steady_clock ticks of the last socket write: a publish on a client idle
  // for flush_delay is written at once instead of through the flusher.
  // kNeverWritten until the first write: not 0, which is the clock's epoch
  // (boot), so a machine up for less than flush_delay saw every client as
  // busy and left its first publish to the flusher.
  static constexpr std::int64_t kNeverWritten = std::numeric_limits<std::int64_t>::min();
  std::atomic<std::int64_t> last_write{kNeverWritten};

 public:
  // How many times the flusher has begun a batch wait (wait_for_batch): for
  // tests, to know it is in that wait before they close the client.
  [[nodiscard]] std::uint64_t flusher_batch_waits() const noexcept {
    return batch_waits.load(std::memory_order_relaxed);
  }
  // For tests: run by close() on its own thread once it has written the
  // buffer for the last time, before it shuts the socket down, so a test
  // can publish at exactly that point. Set before close() is called.
  std::function<void()> close_hook;

 private:
  std::atomic<std::uint64_t> batch_waits{0};

  UniqueFd wake;  // eventfd: stops the read role holder's poll (close, or a requester wants the role)
  std::thread reader, flusher;
  std::atomic<std::thread::id> reader_id{};  // the reader thread's; set by it and by start()
  bool reader_detached = false;       // close() ran on the reader thread
  std::shared_ptr<ClientCore> keep;   // see outlive_reader(); touched only on the reader thread
};

}  // namespace airssys::bus::detail
