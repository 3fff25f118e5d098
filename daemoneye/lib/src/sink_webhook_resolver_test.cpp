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
// /etc/resolv.conf bind-mounted over the real one in this process's own
// mount namespace (it ends with the process). That needs root
// (CAP_SYS_ADMIN, and port 53): skipped otherwise.
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <airssys/osl/unique_fd.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

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

TEST(WebhookResolver, AShutdownDoesNotWaitForAHangingNameLookup) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: its own mount namespace and port 53";
  // This process only (ctest runs each test executable on its own).
  if (::unshare(CLONE_NEWNS) != 0) GTEST_SKIP() << "unshare(CLONE_NEWNS): " << std::strerror(errno);
  ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0) << std::strerror(errno);

  UniqueFd dns(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(dns);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  ASSERT_EQ(::inet_pton(AF_INET, "127.53.0.1", &a.sin_addr), 1);
  if (::bind(dns.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    GTEST_SKIP() << "cannot bind 127.53.0.1:53: " << std::strerror(errno);
  }

  airssys::testing::TempDir dir;
  const auto conf = dir.path() / "resolv.conf";
  std::ofstream(conf) << "nameserver 127.53.0.1\noptions timeout:30 attempts:2\n";
  ASSERT_EQ(::mount(conf.c_str(), "/etc/resolv.conf", nullptr, MS_BIND, nullptr), 0) << std::strerror(errno);
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
    ASSERT_TRUE(p) << p.error();
    ASSERT_TRUE((*p)->submit({make_alert("r", 1)}, 0));
    // The lookup is under way (and will never be answered).
    ASSERT_TRUE(eventually([&] { return query_arrived(dns.get()); }));
    const auto started = std::chrono::steady_clock::now();
    p->reset();
    shutdown = std::chrono::steady_clock::now() - started;
  }
  // About one timeout (1 s); the resolver alone would hold it 60 s. The
  // bound is generous so that a slow machine cannot fail it.
  EXPECT_LT(shutdown, 20s);
}

}  // namespace
}  // namespace airssys::daemoneye
