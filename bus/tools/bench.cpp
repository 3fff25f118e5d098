// airssys-bus bench: the scenarios of ../shared/peers/nats/natsbench.c with
// 16-byte payloads on subject bench.x / bench.rr, one JSON line each:
//   pub_only  N publishes then flush (PING/PONG): broker-processed msgs/s
//   1to1/1to5 S subscriber connections + 1 publisher, N messages: delivered
//             msgs/s aggregated over subscribers, from first publish to the
//             last subscriber's Nth message; lost = S*N - delivered
//   req_reply 1000 warm-up requests, then N sequential requests: p50/p99;
//             first, in the same run, raw_rtt: the same N round trips of 16
//             bytes over a socketpair to a forked echo process (the physical
//             floor: a request through the broker is two such round trips)
// Without --socket an embedded broker runs in this process (a temp dir).

#include "cli.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <thread>
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
    SubscribeOptions so;
    so.max_msgs = 100'000'000;  // as natsbench's pending limits: measure speed, not drops
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
  long prev = -1;
  auto last_progress = Clock::now();
  while (true) {
    long total = 0;
    bool all = true;
    for (auto& c : counters) {
      total += c.n.load();
      all = all && c.n.load() >= n;
    }
    if (all) break;
    if (total != prev) {
      prev = total;
      last_progress = Clock::now();
    } else if (Clock::now() - last_progress > std::chrono::seconds(5)) {
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
  const double dt = last != 0 ? secs(Clock::time_point(Clock::duration(last)) - t0) : secs(Clock::now() - t0);
  std::printf(
      "{\"bench\":\"1to%d\",\"subs\":%d,\"n\":%ld,\"pub_secs\":%.3f,\"pub_msgs_per_s\":%.0f,\"delivered\":%ld,"
      "\"secs\":%.3f,\"msgs_per_s\":%.0f,\"per_sub_per_s\":%.0f,\"lost\":%ld}\n",
      nsubs, nsubs, n, tp, n / tp, total, dt, total / dt, total / dt / nsubs, static_cast<long>(nsubs) * n - total);
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

// N round trips of 16 bytes between this process and a forked echo child
// over a Unix stream socketpair. The child only reads, writes and _exits
// (safe after fork in a process with threads).
std::optional<Percentiles> raw_rtt(long n) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return std::nullopt;
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::close(sv[0]);
    char b[16];
    while (true) {
      std::size_t got = 0;
      while (got < sizeof b) {
        const ssize_t r = ::read(sv[1], b + got, sizeof b - got);
        if (r <= 0) ::_exit(0);
        got += static_cast<std::size_t>(r);
      }
      if (::write(sv[1], b, sizeof b) != static_cast<ssize_t>(sizeof b)) ::_exit(1);
    }
  }
  ::close(sv[1]);
  const auto trip = [&] {
    char b[16] = {};
    if (::write(sv[0], kPayload.data(), 16) != 16) return false;
    std::size_t got = 0;
    while (got < sizeof b) {
      const ssize_t r = ::read(sv[0], b + got, sizeof b - got);
      if (r <= 0) return false;
      got += static_cast<std::size_t>(r);
    }
    return true;
  };
  std::vector<double> lat(static_cast<std::size_t>(n));
  bool ok = true;
  for (int i = 0; i < 1000 && ok; ++i) ok = trip();
  for (long i = 0; i < n && ok; ++i) {
    const auto a = Clock::now();
    ok = trip();
    lat[static_cast<std::size_t>(i)] = secs(Clock::now() - a) * 1e6;
  }
  ::close(sv[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!ok) return std::nullopt;
  return percentiles(lat);
}

int bench_rr(const std::string& socket, long n) {
  const auto raw = raw_rtt(n);
  if (!raw) {
    std::perror("airssys-bus: bench: raw socketpair round trip");
    return kFailure;
  }
  std::printf("{\"bench\":\"raw_rtt\",\"n\":%ld,\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f}\n", n,
              raw->p50, raw->p99, raw->p999, raw->max);
  auto responder = must_connect(socket);
  auto requester = must_connect(socket);
  Client* r = responder.get();
  auto s = responder->subscribe("bench.rr", [r](const MessageView& m) { (void)r->publish(m.reply_to, m.payload); });
  if (!s) return report(s.error());
  if (auto f = responder->flush(); !f) return report(f.error());
  for (int i = 0; i < 1000; ++i)
    if (auto rep = requester->request("bench.rr", kPayload, std::chrono::seconds(5)); !rep) return report(rep.error());
  std::vector<double> lat(static_cast<std::size_t>(n));
  const auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) {
    const auto a = Clock::now();
    if (auto rep = requester->request("bench.rr", kPayload, std::chrono::seconds(5)); !rep) return report(rep.error());
    lat[static_cast<std::size_t>(i)] = secs(Clock::now() - a) * 1e6;
  }
  const double dt = secs(Clock::now() - t0);
  const Percentiles p = percentiles(lat);
  // vs_2raw: each percentile over twice the raw round trip's (goal <= 1.5).
  std::printf(
      "{\"bench\":\"req_reply\",\"n\":%ld,\"secs\":%.3f,\"req_per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
      "\"p999_us\":%.1f,\"max_us\":%.1f,\"p50_vs_2raw\":%.2f,\"p99_vs_2raw\":%.2f}\n",
      n, dt, n / dt, p.p50, p.p99, p.p999, p.max, p.p50 / (2 * raw->p50), p.p99 / (2 * raw->p99));
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
