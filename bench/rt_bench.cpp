// airssys-rt benchmarks, mirroring the CAF peers in ../shared/peers/caf (beside the repository):
//   rt_bench [pingpong|fanin|spawn|idle|firsttouch ...]   (no argument: the first four)
// Each scenario runs in its own forked process (so peak RSS is its own) and
// prints one JSON line. Environment: WORKERS (default: cores), N (scale),
// MEMORY_RESERVE_MB (SystemConfig::memory_reserve; default: the runtime's, 0).
#include <airssys/rt/system.hpp>

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace rt = airssys::rt;
using Clock = std::chrono::steady_clock;

namespace {

unsigned workers() {
  const char* w = std::getenv("WORKERS");
  return w != nullptr ? static_cast<unsigned>(std::atoi(w)) : 0;
}

// The system every scenario runs: the runtime's defaults but for the
// variables above.
rt::SystemConfig config() {
  rt::SystemConfig c{.workers = workers()};
  if (const char* m = std::getenv("MEMORY_RESERVE_MB")) {
    char* end = nullptr;
    errno = 0;
    const unsigned long mb = std::strtoul(m, &end, 10);
    if (*m < '0' || *m > '9' || *end != '\0' || errno != 0 || mb > 65536) {
      std::fprintf(stderr, "rt_bench: MEMORY_RESERVE_MB must be a number of MiB from 0 to 65536, not '%s'\n", m);
      std::exit(2);
    }
    c.memory_reserve = std::size_t{mb} << 20;
  }
  return c;
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

double cpu_ms() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

double thread_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

long rss_kb() {
  long pages = 0, resident = 0;
  std::ifstream f("/proc/self/statm");
  f >> pages >> resident;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

struct Done {
  std::atomic<bool> flag{false};
  Clock::time_point at;
  Clock::time_point spawned;  // spawn: when the spawning handler returned
  double loop_cpu_ms = 0;     // spawn: the spawning handler's own CPU time
  long loop_waits = 0;        // spawn: its voluntary context switches (it blocked)
  long loop_preempted = 0;    // spawn: its involuntary ones (another thread took the core)
  void set() {
    at = Clock::now();
    flag.store(true, std::memory_order_release);
    flag.notify_all();
  }
  void wait() { flag.wait(false, std::memory_order_acquire); }
};

double secs(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

void report(const char* name, double ops_per_s, double time_s, unsigned nworkers, const std::string& extra = {}) {
  std::printf("{\"bench\":\"%s\",\"ops_per_s\":%.0f,\"peak_rss_kb\":%ld,\"time_s\":%.4f,\"workers\":%u%s}\n", name,
              ops_per_s, peak_rss_kb(), time_s, nworkers, extra.c_str());
  std::fflush(stdout);
}

// ---- ping-pong: 1,000,000 round trips between two actors ----
// Two Players bat a Ball back and forth (each hop is one tell); the CAF
// peer's pong replies, its ping sends: the same two one-way messages per trip.
struct Ball { long n; };
struct Partner { rt::AnyRef other; };
class Player : public rt::Actor<Player, Ball, Partner> {
 public:
  explicit Player(Done* d) : done_(d) {}
  void handle(Partner& p) { other_ = rt::ActorRef<Ball>(p.other.cell()); }
  void handle(Ball& b) {
    if (b.n == 0) {
      done_->set();
      return;
    }
    (void)other_.tell(Ball{b.n - 1});
  }

 private:
  Done* done_;
  rt::ActorRef<Ball> other_;
};

void pingpong() {
  long n = 1'000'000;
  if (const char* e = std::getenv("N")) n = std::atol(e);
  rt::ActorSystem sys{config()};
  Done done;
  auto a = sys.spawn<Player>(&done).value();
  auto b = sys.spawn<Player>(&done).value();
  (void)a.tell(Partner{b});
  (void)b.tell(Partner{a});
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto t0 = Clock::now();
  (void)a.tell(Ball{2 * n});  // 2n one-way messages = n round trips
  done.wait();
  double s = secs(t0, done.at);
  report("pingpong", static_cast<double>(n) / s, s, sys.workers());
}

// ---- fan-in: 4 senders x 2,500,000 into one receiver, bounded mailbox ----
struct Msg { int v; };
class Receiver : public rt::Actor<Receiver, Msg> {
 public:
  Receiver(Done* d, long total) : done_(d), left_(total) {}
  void handle(Msg&) {
    if (--left_ == 0) done_->set();
  }

 private:
  Done* done_;
  long left_;
};

struct Go {};
class Sender : public rt::Actor<Sender, Go> {
 public:
  Sender(rt::ActorRef<Msg> to, long count, long batch) : to_(std::move(to)), left_(count), batch_(batch) {}
  void handle(Go&) {
    long k = std::min(batch_, left_);
    for (long i = 0; i < k; ++i) {
      if (!to_.tell(Msg{static_cast<int>(i)})) {
        // Mailbox full: resume when the receiver has drained half of it.
        when_space(to_, [this] { (void)self().tell(Go{}); });
        return;
      }
      --left_;
    }
    if (left_ > 0) (void)self().tell(Go{});
  }

 private:
  rt::ActorRef<Msg> to_;
  long left_;
  long batch_;
};

void fanin() {
  long per = 2'500'000, senders = 4, batch = 1000;
  if (const char* e = std::getenv("N")) per = std::atol(e) / 4;
  std::uint32_t cap = 4096;
  if (const char* e = std::getenv("CAPACITY")) cap = static_cast<std::uint32_t>(std::atol(e));
  rt::ActorSystem sys{config()};
  Done done;
  rt::SpawnOptions o;
  o.mailbox.capacity = cap;
  o.mailbox.overflow = rt::Overflow::fail;
  o.mailbox.batch = 1024;
  auto r = sys.spawn_with<Receiver>(o, &done, per * senders).value();
  std::vector<Sender::ref_type> ss;
  for (long i = 0; i < senders; ++i) ss.push_back(sys.spawn<Sender>(rt::ActorRef<Msg>(r), per, batch).value());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto t0 = Clock::now();
  for (auto& s : ss) (void)s.tell(Go{});
  done.wait();
  double s = secs(t0, done.at);
  // refused: sends that found the mailbox full (the sender then yields and retries)
  report("fanin", static_cast<double>(per * senders) / s, s, sys.workers(),
         ",\"capacity\":" + std::to_string(cap) + ",\"refused\":" + std::to_string(r.stats().dropped));
}

// ---- spawn: 100,000 actors spawned from inside an actor, each replies once and stops ----
struct Reply {};
struct Hello { rt::ActorRef<Reply> to; };
class Spawnee : public rt::Actor<Spawnee, Hello> {
 public:
  void handle(Hello& h) {
    (void)h.to.tell(Reply{});
    stop();
  }
};
struct Kick {};
class Driver : public rt::Actor<Driver, Kick, Reply> {
 public:
  Driver(Done* d, long n) : done_(d), n_(n) {}
  void handle(Kick&) {
    const double cpu0 = thread_cpu_ms();
    rusage u0{};
    getrusage(RUSAGE_THREAD, &u0);
    rt::ActorRef<Reply> me = self();
    for (long i = 0; i < n_; ++i) {
      auto c = system().spawn<Spawnee>();
      if (c) (void)c->tell(Hello{me});
    }
    done_->spawned = Clock::now();
    done_->loop_cpu_ms = thread_cpu_ms() - cpu0;
    rusage u1{};
    getrusage(RUSAGE_THREAD, &u1);
    done_->loop_waits = u1.ru_nvcsw - u0.ru_nvcsw;
    done_->loop_preempted = u1.ru_nivcsw - u0.ru_nivcsw;
  }
  void handle(Reply&) {
    if (++got_ == n_) done_->set();
  }

 private:
  Done* done_;
  long n_;
  long got_ = 0;
};

void spawn() {
  long n = 100'000;
  if (const char* e = std::getenv("N")) n = std::atol(e);
  // Construction is outside the timed window, as in CAF's peer; its time is
  // reported (construct_ms) because the memory reserve is prepared there.
  const auto c0 = Clock::now();
  rt::ActorSystem sys{config()};
  const double construct_ms = secs(c0, Clock::now()) * 1e3;
  Done done;
  auto d = sys.spawn<Driver>(&done, n).value();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double cpu0 = cpu_ms();
  auto t0 = Clock::now();
  (void)d.tell(Kick{});
  done.wait();
  // cpu_ms: the whole process (every worker) from the kick to the last
  // reply, give or take the idle worker's spinning before it parks.
  const double cpu = cpu_ms() - cpu0;
  double s = secs(t0, done.at);
  char extra[224];
  std::snprintf(extra, sizeof extra,
                ",\"spawn_loop_s\":%.4f,\"loop_cpu_ms\":%.1f,\"loop_waits\":%ld,\"loop_preempted\":%ld,\"cpu_ms\":%.1f"
                ",\"construct_ms\":%.2f",
                secs(t0, done.spawned), done.loop_cpu_ms, done.loop_waits, done.loop_preempted, cpu, construct_ms);
  report("spawn", static_cast<double>(n) / s, s, sys.workers(), extra);
}

// ---- idle: memory per live idle actor ----
std::atomic<long> g_started{0};
struct Nothing {};
class Idle : public rt::Actor<Idle, Nothing> {
 public:
  void pre_start() override { g_started.fetch_add(1, std::memory_order_relaxed); }
  void handle(Nothing&) {}
};

void idle() {
  long n = 100'000;
  if (const char* e = std::getenv("N")) n = std::atol(e);
  // Memory per actor is the growth of RSS while they are spawned: with
  // MEMORY_RESERVE_MB the reserve is counted before, and its first MiBs of
  // actors look free.
  rt::ActorSystem sys{config()};
  std::vector<Idle::ref_type> v;
  v.reserve(static_cast<std::size_t>(n));
  long r0 = rss_kb();
  auto t0 = Clock::now();
  for (long i = 0; i < n; ++i) v.push_back(sys.spawn<Idle>().value());
  auto t1 = Clock::now();
  while (g_started.load() < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long r1 = rss_kb();
  // The refs vector (8 bytes per actor) is included, as CAF's peer includes its vector.
  double per = static_cast<double>(r1 - r0) * 1024.0 / static_cast<double>(n);
  report("idle", static_cast<double>(n) / secs(t0, t1), secs(t0, t1), sys.workers(),
         ",\"bytes_per_actor\":" + std::to_string(static_cast<long>(per)));
}

// ---- firsttouch: what fresh memory costs here (why rt's pool uses huge pages) ----
// Maps 32 MiB as the pool did before (4 KiB pages, MAP_POPULATE) and as it
// does now (2 MiB-aligned, MADV_HUGEPAGE + MADV_POPULATE_WRITE), writes one
// pointer every 128 bytes (as carving envelope slabs does) and reports the
// cost per MiB, mapping included. Not run by default.
double touch_us_per_mib(bool huge) {
  constexpr std::size_t kSize = std::size_t{32} << 20, kHuge = std::size_t{2} << 20;
  auto t0 = Clock::now();
  void* raw = mmap(nullptr, kSize + kHuge, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | (huge ? 0 : MAP_POPULATE), -1, 0);
  if (raw == MAP_FAILED) return -1;
  auto* p = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + kHuge - 1) & ~(kHuge - 1));
  if (huge) {
    (void)madvise(p, kSize, MADV_HUGEPAGE);
    (void)madvise(p, kSize, MADV_POPULATE_WRITE);
  }
  for (std::size_t off = 0; off < kSize; off += 128) *reinterpret_cast<char**>(p + off) = p;
  double us = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
  munmap(raw, kSize + kHuge);
  return us / static_cast<double>(kSize >> 20);
}

void firsttouch() {
  double small = touch_us_per_mib(false), huge = touch_us_per_mib(true);
  std::printf("{\"bench\":\"firsttouch\",\"us_per_mib_4k_populate\":%.0f,\"us_per_mib_huge_populate\":%.0f}\n", small,
              huge);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> which;
  for (int i = 1; i < argc; ++i) which.emplace_back(argv[i]);
  if (which.empty()) which = {"pingpong", "fanin", "spawn", "idle"};
  int rc = 0;
  for (auto& w : which) {
    void (*fn)() = nullptr;
    if (w == "pingpong") fn = pingpong;
    else if (w == "fanin") fn = fanin;
    else if (w == "spawn") fn = spawn;
    else if (w == "idle") fn = idle;
    else if (w == "firsttouch") fn = firsttouch;
    if (fn == nullptr) {
      std::fprintf(stderr, "rt_bench: unknown scenario %s (pingpong, fanin, spawn, idle, firsttouch)\n", w.c_str());
      return 2;
    }
    std::fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      fn();
      std::fflush(stdout);
      _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) rc = 1;
  }
  return rc;
}
