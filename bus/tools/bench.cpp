// airssys-bus bench: the scenarios of ../shared/peers/nats/natsbench.c with
// 16-byte payloads on subject bench.x / bench.rr, one JSON line each:
//   pub_only  N publishes then flush (PING/PONG): broker-processed msgs/s
//   1to1/1to5 S subscriber connections + 1 publisher, N messages: delivered
//             msgs/s aggregated over subscribers, from first publish to the
//             last subscriber's Nth message (or its last message, when the
//             broker dropped some); dropped = what the broker's queue
//             limits dropped (its stats), lost = S*N - delivered
//   rr        raw_rtt, relay_rtt, then req_reply: N round trips of 16 bytes
//             over a socketpair to a forked echo process (the physical
//             floor: a request through the broker is two such round trips),
//             N through a forked relay process to a forked echo (a request's
//             shape with no broker work) and N sequential requests, p50/p99
//             of each, after 1000 warm-up of each. Since 2026-12-05 (issue
//             12) the three are INTERLEAVED in blocks of 200, so all see the
//             same machine state; before, all raw trips ran first, then all
//             requests (and there was no relay), and the raw floor (3.6-29
//             us with the VM's wake-up costs) could differ between the
//             halves. req_reply also gives each block's p50 ratio
//             (min/median/max) and the context switches of this process
//             per request / per raw trip. Since 2026-12-05 (session 11)
//             also relay_epoll_rtt: the relay waiting in epoll_wait() on
//             both sockets, as a broker serving many connections must,
//             interleaved with the other three.
// Without --socket an embedded broker runs in this process (a temp dir).

#include "cli.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <nlohmann/json.hpp>

#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <expected>
#include <cstdio>
#include <cerrno>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

namespace airssys::bus::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kPayload = "aaaaaaaaaaaaaaaa";  // 16 bytes

double secs(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::unique_ptr<Client> must_connect(const std::string& socket) {
  ClientOptions o;
  o.socket_path = socket;
  auto c = Client::connect(std::move(o));
  if (!c) {
    std::fprintf(stderr, "airssys-bus: bench: %s\n", c.error().to_string().c_str());
    std::exit(kFailure);
  }
  return std::move(*c);
}

int bench_pub(const std::string& socket, long n) {
  auto c = must_connect(socket);
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i)
    if (auto r = c->publish("bench.x", kPayload); !r) return report(r.error());
  if (auto f = c->flush(std::chrono::seconds(60)); !f) return report(f.error());
  const double dt = secs(Clock::now() - t0);
  std::printf("{\"bench\":\"pub_only\",\"n\":%ld,\"secs\":%.3f,\"msgs_per_s\":%.0f}\n", n, dt, n / dt);
  std::fflush(stdout);
  return kOk;
}

// Messages the broker dropped for this process's subscriptions to bench.x
// (drop-newest, once a subscriber is further behind than its queue budget:
// docs/bus.md "Backpressure"), from the broker's stats. Asked after the
// publisher's flush: the broker has routed every PUB by then, so the count
// is final and the bench need not wait for messages that will never come.
std::expected<long, Error> broker_dropped(Client& c) {
  auto text = c.stats(std::chrono::seconds(60));
  if (!text) return std::unexpected(text.error());
  const auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("conns") || j.value("truncated", false))
    return std::unexpected(Error::make(ErrorCategory::io, "the broker's stats are unreadable or truncated"));
  long dropped = 0;
  for (const auto& conn : j["conns"]) {
    if (conn.value("pid", 0L) != static_cast<long>(::getpid()) || !conn.contains("subscriptions")) continue;
    for (const auto& sub : conn["subscriptions"])
      if (sub.value("subject", std::string()) == "bench.x") dropped += sub.value("dropped", 0L);
  }
  return dropped;
}

int bench_fan(const std::string& socket, long n, int nsubs) {
  struct Counter {
    std::atomic<long> n{0};
    std::atomic<Clock::rep> last{0};
  };
  std::vector<Counter> counters(static_cast<std::size_t>(nsubs));
  std::vector<std::unique_ptr<Client>> clients;
  std::vector<Subscription> subs;
  for (int i = 0; i < nsubs; ++i) {
    clients.push_back(must_connect(socket));
    Counter* ctr = &counters[static_cast<std::size_t>(i)];
    // As natsbench raises its pending limits. The broker still caps them
    // (256 MiB per subscription, 64 MiB per connection by default), so a
    // subscriber that falls that far behind, under load, loses messages:
    // counted as "dropped".
    SubscribeOptions so;
    so.max_msgs = 100'000'000;
    so.max_bytes = 2'000'000'000;
    auto s = clients.back()->subscribe(
        "bench.x",
        [ctr, n](const MessageView&) {
          const long k = ctr->n.load(std::memory_order_relaxed) + 1;  // only this reader thread writes
          ctr->n.store(k, std::memory_order_relaxed);
          if (k == n) ctr->last.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
        },
        so);
    if (!s) return report(s.error());
    subs.push_back(std::move(*s));
    if (auto f = clients.back()->flush(); !f) return report(f.error());
  }
  auto pub = must_connect(socket);
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i)
    if (auto r = pub->publish("bench.x", kPayload); !r) return report(r.error());
  if (auto f = pub->flush(std::chrono::seconds(60)); !f) return report(f.error());
  const double tp = secs(Clock::now() - t0);
  const auto dropped = broker_dropped(*pub);
  if (!dropped) return report(dropped.error());
  // Everything the broker did not drop is on its way. (Until 2026-12-06 the
  // bench waited for all S*N, and after drops gave up only after 5 s
  // without progress: the ~5.5 s runs under load, docs/BENCHMARKS.md.)
  const long expected = static_cast<long>(nsubs) * n - *dropped;
  long prev = -1;
  auto last_progress = Clock::now();
  auto done_at = last_progress;
  while (true) {
    long total = 0;
    for (auto& c : counters) total += c.n.load();
    done_at = Clock::now();
    if (total >= expected) break;
    if (total != prev) {
      prev = total;
      last_progress = done_at;
    } else if (done_at - last_progress > std::chrono::seconds(5)) {
      // Neither delivered nor dropped: a message stuck in the broker or the
      // client, which this bench must not hide.
      std::fprintf(stderr, "airssys-bus: bench: no message for 5 s, %ld neither delivered nor dropped by the broker\n",
                   expected - total);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  long total = 0;
  Clock::rep last = 0;
  for (auto& c : counters) {
    total += c.n.load();
    last = std::max(last, c.last.load(std::memory_order_acquire));
  }
  // A subscriber's Nth message is the end when nothing was dropped; else the
  // loop above saw the last one (to its 1 ms).
  const bool all_nth = *dropped == 0 && total == expected && last != 0;
  const double dt = all_nth ? secs(Clock::time_point(Clock::duration(last)) - t0) : secs(done_at - t0);
  std::printf(
      "{\"bench\":\"1to%d\",\"subs\":%d,\"n\":%ld,\"pub_secs\":%.3f,\"pub_msgs_per_s\":%.0f,\"delivered\":%ld,"
      "\"secs\":%.3f,\"msgs_per_s\":%.0f,\"per_sub_per_s\":%.0f,\"dropped\":%ld,\"lost\":%ld}\n",
      nsubs, nsubs, n, tp, n / tp, total, dt, total / dt, total / dt / nsubs, *dropped,
      static_cast<long>(nsubs) * n - total);
  std::fflush(stdout);
  return kOk;
}

struct Percentiles {
  double p50 = 0, p99 = 0, p999 = 0, max = 0;
};

Percentiles percentiles(std::vector<double>& lat) {
  std::sort(lat.begin(), lat.end());
  const auto at = [&](double q) { return lat[std::min(lat.size() - 1, static_cast<std::size_t>(q * static_cast<double>(lat.size())))]; };
  return {at(0.5), at(0.99), at(0.999), lat.back()};
}

// Forked peers for the floors request/reply is measured against. A child
// keeps only the fds it uses (so a parent closing its end is an EOF the
// child sees), only reads, writes and _exits (safe after fork in a process
// with threads), and lives until the parent's end is closed, so its blocks
// can alternate with requests.
// Closes every fd from 3 up but `a` and `b` (-1: none). No allocation: it
// runs in a child forked from a process that may have threads.
void close_all_but(int a, int b = -1) {
  const int lo = b < 0 ? a : std::min(a, b), hi = b < 0 ? a : std::max(a, b);
  unsigned next = 3;
  for (const int k : {lo, hi}) {
    if (static_cast<unsigned>(k) > next) ::close_range(next, static_cast<unsigned>(k) - 1, 0);
    next = std::max(next, static_cast<unsigned>(k) + 1);
  }
  ::close_range(next, ~0u, 0);
}

// False on an error (errno says which) or when the peer closed (errno
// ECONNRESET, not whatever errno held before).
bool read16(int fd, char* b) {
  std::size_t got = 0;
  while (got < 16) {
    const ssize_t r = ::read(fd, b + got, 16 - got);
    if (r == 0) errno = ECONNRESET;
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

// Round trips of 16 bytes over a Unix stream socketpair, cross-process like
// every hop of a request, no pinning on either side.
//   raw:   this process <-> an echo child: the physical floor (a request
//          through the broker is two such round trips).
//   relay: this process <-> a relay child <-> an echo child, the relay
//          blocking on one socket at a time: a request's shape (four
//          wake-ups, three processes) with no broker or client work, what
//          a broker could reach at best on this machine at this moment.
//   relay_epoll: the same relay waiting in epoll_wait() on both sockets and
//          then reading the one that is ready, as a broker multiplexing its
//          connections must (two system calls per hop where the relay
//          makes one; poll() costs the same), still with no broker work.
class Floor {
 public:
  Floor() = default;
  Floor(const Floor&) = delete;
  Floor& operator=(const Floor&) = delete;
  ~Floor() {
    if (fd_ >= 0) ::close(fd_);
    for (const pid_t pid : pids_) {
      int status = 0;
      ::waitpid(pid, &status, 0);
    }
  }

  // On failure every fd but fd_ is closed (fd_ goes with the object), so a
  // child already started sees EOF and the destructor's waitpid returns.
  enum class Kind { raw, relay, relay_epoll };
  bool start(Kind kind) {
    const bool relay = kind != Kind::raw;
    int near[2], far[2] = {-1, -1};
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, near) != 0) return false;
    fd_ = near[0];
    struct Others {
      int* fds[3];
      ~Others() {
        for (int* fd : fds)
          if (*fd >= 0) ::close(std::exchange(*fd, -1));
      }
    } others{{&near[1], &far[0], &far[1]}};
    if (relay && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, far) != 0) return false;
    // The echo child answers on far[1] (relay) or near[1] (raw).
    const int echo_fd = relay ? far[1] : near[1];
    if (!spawn([echo_fd] {
          close_all_but(echo_fd);
          char b[16];
          while (read16(echo_fd, b))
            if (::write(echo_fd, b, sizeof b) != static_cast<ssize_t>(sizeof b)) ::_exit(1);
          ::_exit(0);
        }))
      return false;
    if (kind == Kind::relay && !spawn([in = near[1], out = far[0]] {
          close_all_but(in, out);
          char b[16];
          while (read16(in, b)) {
            if (::write(out, b, sizeof b) != static_cast<ssize_t>(sizeof b) || !read16(out, b) ||
                ::write(in, b, sizeof b) != static_cast<ssize_t>(sizeof b))
              ::_exit(1);
          }
          ::_exit(0);
        }))
      return false;
    if (kind == Kind::relay_epoll && !spawn([in = near[1], out = far[0]] {
          close_all_but(in, out);
          const int ep = ::epoll_create1(EPOLL_CLOEXEC);
          epoll_event ev{};
          ev.events = EPOLLIN;
          ev.data.fd = in;
          if (ep < 0 || ::epoll_ctl(ep, EPOLL_CTL_ADD, in, &ev) != 0) ::_exit(1);
          ev.data.fd = out;
          if (::epoll_ctl(ep, EPOLL_CTL_ADD, out, &ev) != 0) ::_exit(1);
          char b[16];
          while (true) {
            epoll_event got[2];
            const int n = ::epoll_wait(ep, got, 2, -1);
            if (n < 0 && errno != EINTR) ::_exit(1);
            for (int i = 0; i < n; ++i) {
              const int from = got[i].data.fd;
              if (!read16(from, b)) ::_exit(0);  // the bench closed its end
              if (::write(from == in ? out : in, b, sizeof b) != static_cast<ssize_t>(sizeof b)) ::_exit(1);
            }
          }
        }))
      return false;
    return true;
  }

  // MSG_NOSIGNAL: a child gone is an error to report, not a SIGPIPE that
  // ends the bench without a word.
  bool trip() const {
    char b[16] = {};
    return ::send(fd_, kPayload.data(), 16, MSG_NOSIGNAL) == 16 && read16(fd_, b);
  }

 private:
  template <class F>
  bool spawn(const F& child) {
    const pid_t pid = ::fork();
    if (pid < 0) return false;
    if (pid == 0) child();
    pids_.push_back(pid);
    return true;
  }

  int fd_ = -1;
  std::vector<pid_t> pids_;
};

// Context switches (voluntary and not) of this whole process so far: the
// requesting thread, the responder's reader thread and the clients' other
// threads — and the broker's threads too when it is embedded (no --socket);
// with --socket they are its own process's.
long process_switches() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

// Raw round trips, relay round trips and requests alternate in blocks of
// kRrBlock, each timed trip by trip, so all see the same machine state
// (same-core or cross-core wake-ups, idle states, others' load), which
// swings the raw floor 3.6-29 us between runs and, measured all raw first
// then all requests, had the halves of one ratio see different machines.
// The order rotates block by block so no kind always follows another.
constexpr long kRrBlock = 200;

struct Series {
  std::vector<double> lat, block_p50;
  long switches = 0;
  Clock::duration time{};
};

int bench_rr(const std::string& socket, long n) {
  Floor raw, relay, relay_epoll;
  if (!raw.start(Floor::Kind::raw) || !relay.start(Floor::Kind::relay) || !relay_epoll.start(Floor::Kind::relay_epoll)) {
    std::perror("airssys-bus: bench: socketpair echo");
    return kFailure;
  }
  auto responder = must_connect(socket);
  auto requester = must_connect(socket);
  Client* r = responder.get();
  auto s = responder->subscribe("bench.rr", [r](const MessageView& m) { (void)r->publish(m.reply_to, m.payload); });
  if (!s) return report(s.error());
  if (auto f = responder->flush(); !f) return report(f.error());
  const auto floor_trip = [](const Floor& f) { return [&f]() -> std::expected<void, Error> {
    if (f.trip()) return {};
    return std::unexpected(Error::from_errno(errno, "socketpair round trip"));
  }; };
  const auto request = [&]() -> std::expected<void, Error> {
    auto rep = requester->request("bench.rr", kPayload, std::chrono::seconds(5));
    if (!rep) return std::unexpected(rep.error());
    return {};
  };
  // The requests' index in kinds and series.
  constexpr std::size_t kReq = 3;
  const std::function<std::expected<void, Error>()> kinds[4] = {floor_trip(raw), floor_trip(relay),
                                                                floor_trip(relay_epoll), request};
  Series series[4];
  for (const auto& once : kinds)
    for (int i = 0; i < 1000; ++i)
      if (auto ok = once(); !ok) return report(ok.error());
  for (auto& x : series) x.lat.reserve(static_cast<std::size_t>(n));
  std::vector<double> block;
  for (long done = 0, b = 0; done < n; done += kRrBlock, ++b) {
    const long k = std::min(kRrBlock, n - done);
    for (int j = 0; j < 4; ++j) {
      const auto kind = static_cast<std::size_t>((b + j) % 4);
      Series& x = series[kind];
      block.clear();
      const long c0 = process_switches();
      const auto t0 = Clock::now();
      for (long i = 0; i < k; ++i) {
        const auto a = Clock::now();
        if (auto ok = kinds[kind](); !ok) return report(ok.error());
        block.push_back(secs(Clock::now() - a) * 1e6);
      }
      x.time += Clock::now() - t0;
      x.switches += process_switches() - c0;
      x.lat.insert(x.lat.end(), block.begin(), block.end());
      x.block_p50.push_back(percentiles(block).p50);
    }
  }
  const double dn = static_cast<double>(n);
  const Percentiles rp = percentiles(series[0].lat);
  const Percentiles lp = percentiles(series[1].lat);
  const Percentiles ep = percentiles(series[2].lat);
  const Percentiles p = percentiles(series[kReq].lat);
  std::vector<double> block_ratio;
  for (std::size_t i = 0; i < series[kReq].block_p50.size(); ++i)
    block_ratio.push_back(series[kReq].block_p50[i] / (2 * series[0].block_p50[i]));
  std::sort(block_ratio.begin(), block_ratio.end());
  const long blocks_met = std::count_if(block_ratio.begin(), block_ratio.end(), [](double x) { return x <= 1.5; });
  std::printf(
      "{\"bench\":\"raw_rtt\",\"n\":%ld,\"method\":\"interleaved\",\"block\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"p999_us\":%.1f,\"max_us\":%.1f,\"csw_per_trip\":%.2f}\n",
      n, kRrBlock, rp.p50, rp.p99, rp.p999, rp.max, static_cast<double>(series[0].switches) / dn);
  // relay_rtt: the request's shape with nothing but reads and writes; its
  // vs_2raw is what the machine allows a three-process relay right now.
  std::printf(
      "{\"bench\":\"relay_rtt\",\"n\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"relay_p50_vs_2raw\":%.2f,\"relay_p99_vs_2raw\":%.2f}\n",
      n, lp.p50, lp.p99, lp.p999, lp.max, lp.p50 / (2 * rp.p50), lp.p99 / (2 * rp.p99));
  // relay_epoll_rtt: the same with the relay waiting as a broker must.
  std::printf(
      "{\"bench\":\"relay_epoll_rtt\",\"n\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
      "\"p50_vs_relay\":%.2f,\"p99_vs_relay\":%.2f,\"p50_vs_2raw\":%.2f,\"p99_vs_2raw\":%.2f}\n",
      n, ep.p50, ep.p99, ep.p999, ep.max, ep.p50 / lp.p50, ep.p99 / lp.p99, ep.p50 / (2 * rp.p50), ep.p99 / (2 * rp.p99));
  const double dt = secs(series[kReq].time);
  // vs_2raw: each percentile over twice the raw round trip's (goal <= 1.5);
  // vs_relay: over the relay's; vs_epoll_relay: over the epoll relay's. blocks_*: each block's p50 ratio to twice
  // the raw p50 of the same round of blocks (min, median, max; how many <= 1.5).
  std::printf(
      "{\"bench\":\"req_reply\",\"n\":%ld,\"secs\":%.3f,\"req_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"p999_us\":%.1f,\"max_us\":%.1f,\"csw_per_req\":%.2f,\"blocks\":%zu,\"blocks_p50_met\":%ld,"
      "\"blocks_p50_vs_2raw_min\":%.2f,\"blocks_p50_vs_2raw_med\":%.2f,\"blocks_p50_vs_2raw_max\":%.2f,"
      "\"p50_vs_relay\":%.2f,\"p99_vs_relay\":%.2f,\"p50_vs_epoll_relay\":%.2f,\"p99_vs_epoll_relay\":%.2f,"
      "\"p50_vs_2raw\":%.2f,\"p99_vs_2raw\":%.2f}\n",
      n, dt, dn / dt, p.p50, p.p99, p.p999, p.max, static_cast<double>(series[kReq].switches) / dn, block_ratio.size(),
      blocks_met, block_ratio.front(), block_ratio[block_ratio.size() / 2], block_ratio.back(), p.p50 / lp.p50,
      p.p99 / lp.p99, p.p50 / ep.p50, p.p99 / ep.p99, p.p50 / (2 * rp.p50), p.p99 / (2 * rp.p99));
  std::fflush(stdout);
  return kOk;
}

}  // namespace

int run_bench(const std::string& socket, const std::string& scenario, long msgs, long rr_msgs) {
  std::unique_ptr<Broker> embedded;
  std::filesystem::path tmp;
  std::string path = socket;
  if (path.empty()) {
    char tmpl[] = "/tmp/airssys-bus-bench.XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      std::perror("airssys-bus: mkdtemp");
      return kFailure;
    }
    tmp = tmpl;
    BrokerOptions o;
    o.socket_path = tmp / "bus.sock";
    auto b = Broker::start(std::move(o));
    if (!b) return report(b.error());
    embedded = std::move(*b);
    path = embedded->socket_path();
  }
  int rc = kOk;
  const bool all = scenario == "all";
  if (rc == kOk && (all || scenario == "pub")) rc = bench_pub(path, msgs);
  if (rc == kOk && (all || scenario == "1to1")) rc = bench_fan(path, msgs, 1);
  if (rc == kOk && (all || scenario == "1to5")) rc = bench_fan(path, msgs, 5);
  if (rc == kOk && (all || scenario == "rr")) rc = bench_rr(path, rr_msgs);
  embedded.reset();
  if (!tmp.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(tmp, ec);
  }
  return rc;
}

}  // namespace airssys::bus::cli
