// The webhook sink's shutdown while a name lookup hangs: an attempt that
// times out during the lookup does not wait for libcurl's resolver thread
// (CURLOPT_QUICK_EXIT; getaddrinfo has no timeout of its own, curl issue
// #2975), so the sink's shutdown stays within about its timeout and the
// agent's stop budget (agent/stop_budget.hpp) holds. Before, the shutdown
// waited for the resolver to give up: 60 s here (timeout:30 attempts:2),
// against about 1 s now.
//
// The lookup goes to a DNS server the test holds - a UDP socket on
// 127.53.0.1:53 that reads queries and never answers - through an
// /etc/resolv.conf bind-mounted over the real one. getaddrinfo reads it
// only through the `dns` NSS module, so an /etc/nsswitch.conf whose hosts
// line is `files dns` is mounted too (nss-resolve would ask
// systemd-resolved instead), and nscd's socket directory, if there is one,
// is covered by an empty one (glibc falls back to its own lookup when
// nscd cannot be reached). That needs root
// (CAP_SYS_ADMIN, and port 53): skipped otherwise. The body runs in a
// forked child in its own mount namespace, so the mount, the socket, the
// unset proxy variables and the resolver thread left hanging all end with
// the child: the test process (later tests, --gtest_repeat) resolves as
// before.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <airssys/osl/unique_fd.hpp>
#include <airssys/testing/child.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "alert_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using osl::UniqueFd;
using testing::eventually;
using testing::make_alert;

// Whether a DNS query has arrived on `dns` (a datagram waiting).
bool query_arrived(int dns) {
  pollfd p{dns, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1;
}

// The child's verdict: its exit code, and why (on its pipe).
constexpr int kPassed = 0;
constexpr int kFailed = 1;
constexpr int kSkipped = 77;
struct Verdict {
  int code;
  std::string why;
};

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// The test body, in the forked child (gtest assertions would not reach the
// parent): the mount namespace, the silent DNS server, the sink's shutdown.
// `dir` holds the resolv.conf and nsswitch.conf to mount.
Verdict hanging_lookup_shutdown(const std::filesystem::path& dir) {
  if (::unshare(CLONE_NEWNS) != 0) return {kSkipped, errno_text("unshare(CLONE_NEWNS)")};
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return {kFailed, errno_text("mount / private")};

  UniqueFd dns(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!dns) return {kFailed, errno_text("socket")};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  if (::inet_pton(AF_INET, "127.53.0.1", &a.sin_addr) != 1) return {kFailed, "inet_pton"};
  if (::bind(dns.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    return {kSkipped, errno_text("cannot bind 127.53.0.1:53")};
  }
  for (const char* name : {"resolv.conf", "nsswitch.conf"}) {
    const auto from = dir / name;
    const auto over = std::filesystem::path("/etc") / name;
    if (::mount(from.c_str(), over.c_str(), nullptr, MS_BIND, nullptr) != 0) {
      return {kFailed, errno_text("bind-mount " + over.string())};
    }
  }
  // glibc's nscd socket is /var/run/nscd/socket.
  std::error_code ec;
  if (std::filesystem::is_directory("/var/run/nscd", ec)) {
    const auto empty = dir / "no-nscd";
    if (::mount(empty.c_str(), "/var/run/nscd", nullptr, MS_BIND, nullptr) != 0) {
      return {kSkipped, errno_text("nscd's socket directory cannot be covered")};
    }
  }
  // A proxy from the environment would resolve the name elsewhere.
  for (const char* v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    ::unsetenv(v);
  }

  std::chrono::steady_clock::duration shutdown{};
  {
    AlertsConfig c;
    SinkConfig s;
    s.type = SinkType::webhook;
    s.url = "http://webhook.hangs.example/hook";
    s.retries = 3;
    s.timeout = 1s;
    c.sinks = {s};
    auto p = AlertPipeline::create(c, nullptr, [](std::string_view) {});
    if (!p) return {kFailed, "AlertPipeline::create: " + p.error().message};
    if (!(*p)->submit({make_alert("r", 1)}, 0)) return {kFailed, "submit refused the alert"};
    // The lookup is under way (and will never be answered).
    if (!eventually([&] { return query_arrived(dns.get()); })) {
      return {kFailed, "no DNS query reached 127.53.0.1:53 within 60 s"};
    }
    const auto started = std::chrono::steady_clock::now();
    p->reset();
    shutdown = std::chrono::steady_clock::now() - started;
  }
  // About one timeout (1 s); the resolver alone would hold it 60 s. The
  // bound is generous so that a slow machine cannot fail it.
  if (shutdown >= 20s) {
    return {kFailed, "the shutdown took " +
                         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(shutdown).count()) +
                         " ms (waited for the resolver)"};
  }
  return {kPassed, ""};
}

TEST(WebhookResolver, AShutdownDoesNotWaitForAHangingNameLookup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: its own mount namespace and port 53";
  airssys::testing::TempDir dir;
  std::ofstream(dir.path() / "resolv.conf") << "nameserver 127.53.0.1\noptions timeout:30 attempts:2\n";
  std::ofstream(dir.path() / "nsswitch.conf") << "hosts: files dns\n";
  std::filesystem::create_directory(dir.path() / "no-nscd");

  int fds[2];
  ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
  UniqueFd from_child(fds[0]);
  UniqueFd to_parent(fds[1]);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0) << std::strerror(errno);
  if (pid == 0) {
    from_child.reset();
    const Verdict v = hanging_lookup_shutdown(dir.path());
    for (std::size_t at = 0; at < v.why.size();) {
      const ssize_t n = ::write(to_parent.get(), v.why.data() + at, v.why.size() - at);
      if (n <= 0) break;
      at += static_cast<std::size_t>(n);
    }
    // _exit: the resolver thread it left hanging, and the parent's gtest
    // state, must not run exit handlers.
    ::_exit(v.code);
  }
  auto child = airssys::testing::Child::adopt(pid);
  to_parent.reset();
  // The lookup's wait (60 s) and the shutdown's bound (20 s), with room.
  const auto code = child.wait(120s);
  ASSERT_TRUE(code) << "the child did not end within 120 s";
  std::string why;
  char buf[512];
  for (ssize_t n; (n = ::read(from_child.get(), buf, sizeof buf)) > 0;) why.append(buf, static_cast<std::size_t>(n));
  if (*code == kSkipped) GTEST_SKIP() << why;
  EXPECT_EQ(*code, kPassed) << why;
}

}  // namespace
}  // namespace airssys::daemoneye
