// The real airssys-bus binary: serve, sub (line per message, flushed into a
// pipe; clean exit on SIGTERM), pub, request/reply, stats, exit codes, and a
// subscriber killed mid-stream not disturbing the broker or other clients.

#include <airssys/bus/client.hpp>
#include <airssys/testing/child.hpp>
#include <airssys/testing/run.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

extern char** environ;

namespace {

using namespace std::chrono_literals;

std::string bin() {
  const char* p = std::getenv("AIRSSYS_BUS_BIN");
  if (p == nullptr) throw std::runtime_error("AIRSSYS_BUS_BIN is not set (run through ctest)");
  return p;
}

struct Proc {
  pid_t pid = -1;
  int out = -1;  // child's stdout
  int err = -1;  // child's stderr when captured (read it, or a chatty child blocks)
  std::string buf;

  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  explicit Proc(const std::vector<std::string>& args, bool capture_stderr = false) {
    int p[2], e[2] = {-1, -1};
    if (::pipe2(p, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    if (capture_stderr && ::pipe2(e, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    if (capture_stderr) posix_spawn_file_actions_adddup2(&fa, e[1], 2);
    std::vector<std::string> all{bin()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawn(&pid, all[0].c_str(), &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(p[1]);
    out = p[0];
    if (capture_stderr) {
      ::close(e[1]);
      err = e[0];
    }
    if (rc != 0) throw std::runtime_error("posix_spawn");
  }
  ~Proc() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
    if (err >= 0) ::close(err);
  }
  // Everything the child wrote to stderr until it closed it.
  std::string all_stderr() const {
    std::string all;
    char tmp[4096];
    ssize_t r;
    while ((r = ::read(err, tmp, sizeof tmp)) > 0) all.append(tmp, static_cast<std::size_t>(r));
    return all;
  }
  // Reads until `n` lines arrived (or timeout); returns them.
  std::vector<std::string> lines(std::size_t n, std::chrono::milliseconds timeout = 20s) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::count(buf.begin(), buf.end(), '\n') < static_cast<long>(n) && std::chrono::steady_clock::now() < end) {
      pollfd p{out, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char tmp[4096];
      const ssize_t r = ::read(out, tmp, sizeof tmp);
      if (r <= 0) break;
      buf.append(tmp, static_cast<std::size_t>(r));
    }
    std::vector<std::string> v;
    std::size_t start = 0, nl;
    while ((nl = buf.find('\n', start)) != std::string::npos) {
      v.push_back(buf.substr(start, nl - start));
      start = nl + 1;
    }
    return v;
  }
  // The exit code, or -1 if the child is still running after `limit`.
  int wait_for(std::chrono::milliseconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        pid = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(10ms);
    }
    return -1;
  }
  int wait() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
};

struct Result {
  int code;
  std::string out;
};

Result run(const std::vector<std::string>& args) {
  std::vector<std::string> argv{bin()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = airssys::testing::run(argv);
  return {r.status, std::move(r.out)};
}

// Waits until a broker accepts on `sock` (the socket file appears at bind(),
// a moment before listen()); returns the last `stats` exit code.
int wait_listening(const std::string& sock) {
  int code = 1;
  for (int i = 0; i < 2000 && code == 1; ++i) {
    code = run({"stats", "--socket", sock}).code;
    if (code == 1) std::this_thread::sleep_for(10ms);
  }
  return code;
}

struct Env {
  airssys::testing::TempDir tmp{"airssys-bus-cli"};
  std::filesystem::path dir = tmp.path();
  std::string sock;
  std::unique_ptr<Proc> server;
  Env() {
    sock = (dir / "run" / "bus.sock").native();
    server = std::make_unique<Proc>(std::vector<std::string>{"serve", "--socket", sock});
    wait_listening(sock);
  }
  ~Env() { server.reset(); }
  // Waits until the broker reports `n` subscriptions (so a publish cannot race a sub).
  void wait_subs(std::size_t n) const {
    for (int i = 0; i < 2000; ++i) {
      auto r = run({"stats", "--socket", sock});
      if (r.code == 0) {
        std::size_t have = 0;
        const auto j = nlohmann::json::parse(r.out);
        for (const auto& c : j["conns"]) have += c["subscriptions"].size();
        if (have >= n) return;
      }
      std::this_thread::sleep_for(10ms);
    }
    FAIL() << "subscriptions never appeared";
  }
};

TEST(Cli, SubPrintsEachLineAsItArrivesAndExitsOnSigterm) {
  Env env;
  Proc sub({"sub", "greet.>", "--socket", env.sock});
  env.wait_subs(1);
  ASSERT_EQ(run({"pub", "greet.a", "hello world", "--socket", env.sock}).code, 0);
  auto l = sub.lines(1);  // arrives before the next publish: flushed per message into the pipe
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0], "greet.a hello world");
  ASSERT_EQ(run({"pub", "greet.b.c", "2", "--socket", env.sock}).code, 0);
  l = sub.lines(2);
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[1], "greet.b.c 2");
  ::kill(sub.pid, SIGTERM);
  EXPECT_EQ(sub.wait(), 0);
}

TEST(Cli, SubCountAndQueueGroup) {
  Env env;
  Proc a({"sub", "jobs", "--queue", "w", "--count", "2", "--socket", env.sock});
  Proc b({"sub", "jobs", "--queue", "w", "--count", "2", "--socket", env.sock});
  env.wait_subs(2);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(run({"pub", "jobs", std::to_string(i), "--socket", env.sock}).code, 0);
  EXPECT_EQ(a.wait(), 0);  // each got exactly two of the four, then exited
  EXPECT_EQ(b.wait(), 0);
  EXPECT_EQ(a.lines(2).size() + b.lines(2).size(), 4u);
}

TEST(Cli, RequestReplyAndTimeout) {
  Env env;
  Proc rep({"reply", "svc.time", "noon", "--socket", env.sock});
  env.wait_subs(1);
  auto r = run({"request", "svc.time", "what", "--socket", env.sock});
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out, "noon\n");
  EXPECT_EQ(rep.lines(1).at(0), "svc.time what");
  r = run({"request", "svc.none", "x", "--timeout", "200ms", "--socket", env.sock});
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(run({"request", "svc.none", "x", "--timeout", "soon", "--socket", env.sock}).code, 2);
}

TEST(Cli, HeadersFromPubToSub) {
  Env env;
  Proc sub({"sub", "hdr.x", "--headers", "--socket", env.sock});
  env.wait_subs(1);
  ASSERT_EQ(run({"pub", "hdr.x", "body", "--header", "Trace-Id: 42", "--header", "k:v:w", "--header", "Trace-Id:7",
                 "--socket", env.sock})
                .code,
            0);
  const auto l = sub.lines(4);
  ASSERT_EQ(l.size(), 4u);
  EXPECT_EQ(l[0], "hdr.x body");
  EXPECT_EQ(l[1], "\tTrace-Id: 42");
  EXPECT_EQ(l[2], "\tk: v:w");
  EXPECT_EQ(l[3], "\tTrace-Id: 7");
  EXPECT_EQ(run({"pub", "hdr.x", "b", "--header", "novalue", "--socket", env.sock}).code, 2);
  EXPECT_EQ(run({"pub", "hdr.x", "b", "--header", "bad name: 1", "--socket", env.sock}).code, 2);
}

TEST(Cli, ExitCodes) {
  Env env;
  EXPECT_EQ(run({"pub", "a.*", "x", "--socket", env.sock}).code, 2);
  EXPECT_EQ(run({"sub", "a..b", "--socket", env.sock}).code, 2);
  EXPECT_EQ(run({"pub"}).code, 2);
  EXPECT_EQ(run({"pub", "a", "x", "--socket", (env.dir / "nope" / "s.sock").native()}).code, 1);
  auto s = run({"stats", "--socket", env.sock});
  ASSERT_EQ(s.code, 0);
  EXPECT_EQ(nlohmann::json::parse(s.out)["connections"], 1);
}

// The exit codes hold whatever happens to the message on stderr: on
// /dev/full it is lost (fprintf never threw), and on a pipe whose reader
// went away its write raised SIGPIPE, which ended the command (141) in
// place of its code.
TEST(Cli, TheCodesHoldWhenStderrCannotBeWritten) {
  Env env;
  airssys::testing::TempDir tmp("airssys-bus-cli");
  const std::string refusing = (tmp / "r" / "s.sock").native();
  Proc refuser({"serve", "--socket", refusing, "--allow-uid", std::to_string(::geteuid() + 4242)});
  ASSERT_EQ(wait_listening(refusing), 4);
  int no_reader[2];
  ASSERT_EQ(::pipe2(no_reader, O_CLOEXEC), 0);
  ::close(no_reader[0]);
  const auto old = ::signal(SIGPIPE, SIG_DFL);  // as a shell starts a command; inherited through exec
  const std::vector<std::pair<std::vector<std::string>, int>> cases = {
      {{"frobnicate"}, 2},
      {{"pub", "a.*", "x", "--socket", env.sock}, 2},
      {{"sub", "a", "--policy", "keep-all", "--socket", env.sock}, 2},
      {{"pub", "a", "x", "--socket", (env.dir / "nope" / "s.sock").native()}, 1},
      {{"request", "svc.none", "x", "--timeout", "200ms", "--socket", env.sock}, 3},
      {{"pub", "a", "x", "--socket", refusing}, 4},
  };
  for (const auto& [args, code] : cases) {
    std::vector<std::string> argv{bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    airssys::testing::Child full(argv, {.stderr_path = "/dev/full"});
    EXPECT_EQ(full.wait(), std::optional<int>(code)) << args[0] << " " << args.back() << " 2>/dev/full";
    airssys::testing::Child piped(argv, {.stderr_fd = no_reader[1]});
    EXPECT_EQ(piped.wait(), std::optional<int>(code)) << args[0] << " " << args.back() << " 2>pipe without a reader";
  }
  ::signal(SIGPIPE, old);
  ::close(no_reader[1]);
}

// `pub --reply-to "$INBOX"` or `sub --queue "$GROUP"` with the variable
// unset: '' read as the option left out, so the message went out with no
// reply inbox, the subscriber joined no queue group (and took every
// message), and `bench --socket ''` measured an embedded broker. Now exit
// 2 naming the option, nothing sent and nothing subscribed.
TEST(Cli, AnOptionGivenAnEmptyValueIsRefused) {
  Env env;
  Proc sub({"sub", "e.>", "--socket", env.sock});
  env.wait_subs(1);
  const airssys::testing::RunOptions bounded{.timeout = 60s};  // before: `sub --queue ''` ran until killed
  const std::vector<std::vector<std::string>> cases{
      {"pub", "e.x", "d", "--reply-to", ""},          {"pub", "e.x", "d", "--correlation-id", ""},
      {"pub", "e.x", "d", "--content-type", ""},      {"request", "e.x", "d", "--timeout", ""},
      {"sub", "e.q", "--queue", ""},                  {"reply", "e.q", "ok", "--queue", ""},
      {"serve", "--pub-allow", ""},                   {"stats", "--socket", ""}};
  for (const auto& c : cases) {
    std::vector<std::string> argv{bin()};
    argv.insert(argv.end(), c.begin(), c.end());
    if (c[c.size() - 2] != "--socket") argv.insert(argv.end(), {"--socket", env.sock});
    const auto r = airssys::testing::run(argv, bounded);
    EXPECT_EQ(r.status, 2) << c[0] << " " << c[c.size() - 2] << ": " << r.err;
    EXPECT_EQ(r.err, "airssys-bus: " + c[c.size() - 2] + ": no value given (leave the option out for its default)\n");
  }
  const auto bench = airssys::testing::run({bin(), "bench", "--socket", "", "--scenario", "pub", "--msgs", "10"}, bounded);
  EXPECT_EQ(bench.status, 2) << bench.out;
  EXPECT_EQ(bench.out, "") << "no embedded broker measured";
  ASSERT_EQ(run({"pub", "e.last", "1", "--socket", env.sock}).code, 0);
  const auto l = sub.lines(1);
  ASSERT_FALSE(l.empty());
  EXPECT_EQ(l[0], "e.last 1") << "the refused publishes sent nothing";
  // A positional may be empty: the empty payload.
  ASSERT_EQ(run({"pub", "e.empty", "", "--socket", env.sock}).code, 0);
  EXPECT_EQ(sub.lines(2).back(), "e.empty ");
}

// Numbers and durations a person mistypes: exit 2 and a message naming the
// option and saying what to type (CLI11's own were "Could not convert" and
// "not in range 0.000000 to 1.79e308"), before any connection is tried.
TEST(Cli, BadNumbersSayWhatIsWrong) {
  const std::string nowhere = "/nonexistent/airssys-bus.sock";
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"sub", "x", "--max-msgs", "ten"}, "--max-msgs: 'ten' is not a whole number; use e.g. 10"},
      {{"sub", "x", "--max-msgs", "-1"}, "--max-msgs: '-1' is not a whole number"},
      {{"sub", "x", "--max-msgs", "4294967296"}, "--max-msgs: '4294967296' is too large (at most 4294967295)"},
      {{"sub", "x", "--max-bytes", "1e3"}, "--max-bytes: '1e3' is not a whole number"},
      {{"sub", "x", "--max-bytes", "18446744073709551616"}, "--max-bytes: '18446744073709551616' is too large"},
      {{"reply", "x", "y", "--count", "0"}, "--count: 0 is too small (at least 1)"},
      {{"serve", "--max-frame", "0x10"}, "--max-frame: '0x10' is not a whole number"},
      {{"serve", "--max-frame", "10"}, "--max-frame: 10 is too small (at least 64)"},
      {{"serve", "--max-connections", "0"}, "--max-connections: 0 is too small (at least 1)"},
      {{"serve", "--allow-uid", "root"}, "--allow-uid: 'root' is not a whole number"},
      {{"serve", "--pub-allow", "x1:a.>"}, "the UID of 'x1:a.>': 'x1' is not a whole number"},
      {{"serve", "--busy-poll-us", "fast"}, "--busy-poll-us: 'fast' is not a whole number; use e.g. 10; or 'auto'"},
      {{"serve", "--busy-poll-us", "1000001"}, "--busy-poll-us: '1000001' is too large (at most 1000000)"},
      {{"bench", "--msgs", "-5"}, "--msgs: '-5' is not a whole number"},
      {{"request", "x", "y", "--timeout", "5x"}, "--timeout: '5x' is not a duration; use e.g. 30s"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> argv{bin()};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    argv.insert(argv.end(), {"--socket", nowhere});
    const auto r = airssys::testing::run(argv);
    EXPECT_EQ(r.status, 2) << c.message;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << "wanted: " << c.message << "\ngot: " << r.err;
  }
}

// --busy-poll-us: left out or `auto` polls after request/reply turns, 0
// never, N after every turn (the broker's stats say which).
TEST(Cli, ServeBusyPollModes) {
  airssys::testing::TempDir tmp{"airssys-bus-cli"};
  const struct {
    std::vector<std::string> option;
    std::string mode;
    int window_us;
  } cases[] = {{{}, "auto", 50}, {{"--busy-poll-us", "auto"}, "auto", 50}, {{"--busy-poll-us", "0"}, "off", 0},
               {{"--busy-poll-us", "75"}, "always", 75}};
  int n = 0;
  for (const auto& c : cases) {
    const std::string sock = (tmp.path() / ("run" + std::to_string(n++)) / "bus.sock").native();
    std::vector<std::string> args{"serve", "--socket", sock};
    args.insert(args.end(), c.option.begin(), c.option.end());
    Proc server(args);
    ASSERT_EQ(wait_listening(sock), 0);
    const auto r = run({"stats", "--socket", sock});
    ASSERT_EQ(r.code, 0);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["busy_poll"], c.mode) << r.out;
    EXPECT_EQ(j["busy_poll_us"], c.window_us) << r.out;
  }
}

TEST(Cli, RefusedUidAndSubjectExitFour) {
  airssys::testing::TempDir tmp("airssys-bus-cli");
  const std::string sock = (tmp / "r" / "s.sock").native();
  const std::string me = std::to_string(::geteuid());
  {
    Proc server({"serve", "--socket", sock, "--allow-uid", std::to_string(::geteuid() + 4242)});
    EXPECT_EQ(wait_listening(sock), 4);
    EXPECT_EQ(run({"pub", "a", "x", "--socket", sock}).code, 4);
  }
  {
    Proc server({"serve", "--socket", sock, "--pub-allow", me + ":ok.>", "--sub-allow", me + ":ok.>"});
    wait_listening(sock);
    EXPECT_EQ(run({"pub", "ok.x", "x", "--socket", sock}).code, 0);
    EXPECT_EQ(run({"pub", "no.x", "x", "--socket", sock}).code, 4);
    EXPECT_EQ(run({"sub", "no.x", "--socket", sock}).code, 4);
  }
}

// A subscription the broker refuses when the client re-sends it after a
// reconnect (the new broker restricts this uid) ends `sub` with exit 4 and
// the error's name on stderr, instead of a silent subscriber that gets nothing.
TEST(Cli, SubExitsWhenResubscribeIsRefused) {
  Env env;
  Proc sub({"sub", "no.x", "--socket", env.sock}, true);
  env.wait_subs(1);
  env.server.reset();  // SIGKILL: the client starts reconnecting
  const std::string me = std::to_string(::geteuid());
  env.server = std::make_unique<Proc>(std::vector<std::string>{"serve", "--socket", env.sock, "--sub-allow", me + ":ok.>"});
  ASSERT_EQ(sub.wait_for(60s), 4);
  const std::string err = sub.all_stderr();
  EXPECT_NE(err.find("permission_denied: permission denied: uid " + me + " may not subscribe to 'no.x'"),
            std::string::npos)
      << err;
}

// The publisher is an in-process client: starting 60 `pub` processes (each an
// ASan-instrumented binary, ~150 ms idle and over 0.5 s on a loaded machine)
// made this test take 10-30 s; what is tested is the `sub` and `serve`
// processes. Messages 0-4 reach the victim before it is killed, 5-59 are
// published right after the kill, while the broker still holds its socket.
TEST(Cli, SubscriberKilledMidStream) {
  Env env;
  Proc victim({"sub", "stream", "--socket", env.sock});
  Proc survivor({"sub", "stream", "--socket", env.sock});
  env.wait_subs(2);
  airssys::bus::ClientOptions o;
  o.socket_path = env.sock;
  auto pub = airssys::bus::Client::connect(o);
  ASSERT_TRUE(pub) << pub.error().to_string();
  const auto publish = [&](int i) {
    ASSERT_TRUE((*pub)->publish("stream", std::to_string(i)));
    ASSERT_TRUE((*pub)->flush());
  };
  for (int i = 0; i < 5; ++i) publish(i);
  ASSERT_EQ(victim.lines(5).size(), 5u);
  ::kill(victim.pid, SIGKILL);
  for (int i = 5; i < 60; ++i) publish(i);
  auto l = survivor.lines(60);
  ASSERT_EQ(l.size(), 60u);  // the survivor got every message, in order
  for (int i = 0; i < 60; ++i) EXPECT_EQ(l[static_cast<std::size_t>(i)], "stream " + std::to_string(i));
  EXPECT_EQ(victim.wait(), 128 + SIGKILL);
  pub->reset();
  auto s = run({"stats", "--socket", env.sock});
  ASSERT_EQ(s.code, 0);
  EXPECT_EQ(nlohmann::json::parse(s.out)["connections"], 2);  // survivor + this stats client
}

}  // namespace
