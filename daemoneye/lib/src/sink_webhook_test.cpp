// The webhook sink through the AlertPipeline against a tiny real HTTP
// server on 127.0.0.1 (a thread that accepts, reads each request and
// answers from a script: a status code, "close" without answering, or
// "hang" — keep the connection open and never answer).
#include <airssys/daemoneye/alert_pipeline.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <airssys/osl/unique_fd.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <thread>

#include "alert_sink.hpp"
#include "alert_test_util.hpp"

namespace airssys::daemoneye {
namespace {

using namespace std::chrono_literals;
using osl::UniqueFd;
using testing::eventually;
using testing::make_alert;

struct Request {
  std::string head;  // request line and headers
  std::string body;
};

class HttpServer {
 public:
  static constexpr int kHang = -1;
  static constexpr int kClose = -2;

  // Answers in `script` order; after it runs out, 200.
  explicit HttpServer(std::vector<int> script) : script_(script.begin(), script.end()) {
    listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_.get(), 16) != 0) {
      throw std::runtime_error("cannot listen");
    }
    socklen_t len = sizeof a;
    ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~HttpServer() {
    stop_ = true;
    thread_.join();
  }

  [[nodiscard]] std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] std::vector<Request> requests() const {
    const std::lock_guard lock(mu_);
    return requests_;
  }
  [[nodiscard]] std::size_t count() const { return requests().size(); }

 private:
  bool readable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      const int n = ::poll(&p, 1, 20);
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
    return false;
  }

  std::optional<Request> read_request(int fd) {
    std::string data;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    std::size_t length = 0;
    for (;;) {
      if (header_end != std::string::npos && data.size() >= header_end + 4 + length) break;
      if (!readable(fd)) return std::nullopt;
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return std::nullopt;
      data.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos && (header_end = data.find("\r\n\r\n")) != std::string::npos) {
        std::string lower = data.substr(0, header_end);
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (const auto at = lower.find("content-length:"); at != std::string::npos) {
          length = std::stoul(lower.substr(at + 15));
        }
      }
    }
    return Request{data.substr(0, header_end), data.substr(header_end + 4, length)};
  }

  void serve() {
    std::vector<UniqueFd> hanging;
    while (!stop_) {
      if (!readable(listener_.get())) break;
      UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      // One request per connection (the reply says Connection: close).
      auto req = read_request(conn.get());
      if (!req) continue;
      int action = 200;
      {
        const std::lock_guard lock(mu_);
        requests_.push_back(std::move(*req));
        if (!script_.empty()) {
          action = script_.front();
          script_.pop_front();
        }
      }
      if (action == kHang) {
        hanging.push_back(std::move(conn));
        continue;
      }
      if (action == kClose) continue;
      const std::string reply = "HTTP/1.1 " + std::to_string(action) + " X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)::send(conn.get(), reply.data(), reply.size(), MSG_NOSIGNAL);
    }
  }

  UniqueFd listener_;
  std::uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::deque<int> script_;
  std::vector<Request> requests_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class Webhook : public ::testing::Test {
 protected:
  void SetUp() override {
    // A proxy from the environment would take 127.0.0.1 elsewhere.
    for (const char* v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(v);
  }

  std::mutex log_mu;
  std::vector<std::string> logged;

  std::unique_ptr<AlertPipeline> make(const std::string& url, int retries = 3, std::chrono::milliseconds timeout = 2s,
                                      std::size_t queue = 100) {
    AlertsConfig c;
    SinkConfig s;
    s.type = SinkType::webhook;
    s.url = url;
    s.retries = retries;
    s.timeout = timeout;
    s.queue = queue;
    c.sinks = {s};
    auto p = AlertPipeline::create(c, nullptr, [this](std::string_view m) {
      const std::lock_guard lock(log_mu);
      logged.emplace_back(m);
    });
    EXPECT_TRUE(p) << p.error();
    return p ? std::move(*p) : nullptr;
  }

  std::vector<std::string> log_lines() {
    const std::lock_guard lock(log_mu);
    return logged;
  }
};

TEST_F(Webhook, PostsTheAlertJson) {
  HttpServer server({200});
  auto p = make(server.url());
  ASSERT_TRUE(p);
  const Alert a = make_alert("exe-deleted", 42);
  ASSERT_TRUE(p->submit({a}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().webhook_delivered == 1; }));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].head.starts_with("POST /hook HTTP/1.1\r\n")) << reqs[0].head;
  EXPECT_NE(reqs[0].head.find("\r\nContent-Type: application/json"), std::string::npos) << reqs[0].head;
  EXPECT_EQ(reqs[0].head.find("Expect:"), std::string::npos) << reqs[0].head;
  EXPECT_EQ(reqs[0].body, alert_to_json(a));
  EXPECT_EQ(p->stats().sink_errors, 0u);
}

TEST_F(Webhook, A500IsRetriedAndThenDelivered) {
  HttpServer server({500, 200});
  auto p = make(server.url());
  ASSERT_TRUE(p);
  const Alert a = make_alert("r", 1);
  ASSERT_TRUE(p->submit({a}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().webhook_delivered == 1; }));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, alert_to_json(a));
  EXPECT_EQ(reqs[1].body, alert_to_json(a));
  EXPECT_EQ(p->stats().sink_errors, 0u);
}

TEST_F(Webhook, A429AndAClosedConnectionAreRetried) {
  HttpServer server({429, HttpServer::kClose, 200});
  auto p = make(server.url());
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r", 1)}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().webhook_delivered == 1; }));
  EXPECT_EQ(server.count(), 3u);
}

TEST_F(Webhook, A4xxIsNotRetried) {
  HttpServer server({400});
  auto p = make(server.url());
  ASSERT_TRUE(p);
  const Alert first = make_alert("r", 1);
  const Alert second = make_alert("r", 2);
  ASSERT_TRUE(p->submit({first}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == 1; }));
  ASSERT_TRUE(p->submit({second}, 1));
  ASSERT_TRUE(eventually([&] { return p->stats().webhook_delivered == 1; }));
  // The first alert was sent once; the next request is already the second alert.
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].body, alert_to_json(first));
  EXPECT_EQ(reqs[1].body, alert_to_json(second));
}

TEST_F(Webhook, GivesUpAfterItsRetries) {
  HttpServer server({503, 503, 503, 200});
  auto p = make(server.url(), /*retries=*/2);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r", 1)}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == 1; }));
  EXPECT_EQ(server.count(), 3u);
  EXPECT_EQ(p->stats().webhook_delivered, 0u);
  const auto lines = log_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "webhook " + server.url() +
                          ": HTTP 503 (after 3 attempts) (further failures are counted, not logged, until it works again)");
}

// An outage is logged once, but a new cause within it once more: an
// endpoint that fails with 503 and then 404 (a wrong path once it is up)
// says both. Before, the 404 was counted and never logged.
TEST_F(Webhook, ANewCauseWithinAnOutageIsLogged) {
  HttpServer server({503, 503, 404, 404});
  auto p = make(server.url(), /*retries=*/0);
  ASSERT_TRUE(p);
  for (int i = 1; i <= 4; ++i) {
    ASSERT_TRUE(p->submit({make_alert("r", i)}, i));
    ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == static_cast<std::uint64_t>(i); }));
  }
  const auto lines = log_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "webhook " + server.url() +
                          ": HTTP 503 (after 1 attempts) (further failures are counted, not logged, until it works again)");
  EXPECT_EQ(lines[1], "webhook " + server.url() +
                          ": still failing, now: HTTP 404 (not retried) (further failures of this kind are counted, "
                          "not logged)");
}

// An endpoint flapping between two causes is logged once per cause, not
// once per change: before, 503 404 503 404 503 logged five lines. After it
// works again, a cause is new again.
TEST_F(Webhook, ACauseIsLoggedOncePerOutageHoweverOftenItComesBack) {
  HttpServer server({503, 404, 503, 404, 503, 200, 404});
  auto p = make(server.url(), /*retries=*/0);
  ASSERT_TRUE(p);
  for (int i = 1; i <= 5; ++i) {
    ASSERT_TRUE(p->submit({make_alert("r", i)}, i));
    ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == static_cast<std::uint64_t>(i); }));
  }
  EXPECT_EQ(log_lines().size(), 2u);
  ASSERT_TRUE(p->submit({make_alert("r", 6)}, 6));
  ASSERT_TRUE(eventually([&] { return log_lines().size() == 3; }));
  ASSERT_TRUE(p->submit({make_alert("r", 7)}, 7));
  ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == 6; }));
  const auto lines = log_lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[2], "webhook " + server.url() + ": works again after 5 failed alert deliveries");
  EXPECT_EQ(lines[3], "webhook " + server.url() +
                          ": HTTP 404 (not retried) (further failures are counted, not logged, until it works again)");
}

// Past FailureReporter::kMaxLoggedCauses causes in one outage, new ones are
// counted and not logged: the log stays bounded whatever fails.
TEST(FailureReporter, LogsAtMostKMaxLoggedCausesPerOutage) {
  auto counters = std::make_shared<detail::SinkCounters>();
  std::vector<std::string> logged;
  detail::FailureReporter r("sink", counters, [&](std::string_view m) { logged.emplace_back(m); });
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 12; ++i) r.failed(fmt::format("cause {}", i), 1, fmt::format("cause {}", i));
  EXPECT_EQ(counters->errors.load(), 24u);
  ASSERT_EQ(logged.size(), detail::FailureReporter::kMaxLoggedCauses);
  EXPECT_EQ(logged[0], "sink: cause 0 (further failures are counted, not logged, until it works again)");
  EXPECT_EQ(logged.back(), "sink: still failing, now: cause 7 (further failures of this kind are counted, not logged)");
}

TEST_F(Webhook, CredentialsAndQueryAreNeverLogged) {
  HttpServer server({401});
  auto p = make("http://alice:s3cret@127.0.0.1:" + std::to_string(server.port()) + "/hook?token=t0ken#frag");
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r", 1)}, 0));
  ASSERT_TRUE(eventually([&] { return p->stats().sink_errors == 1; }));
  const auto lines = log_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "webhook " + server.url() + ": HTTP 401 (not retried) (further failures are counted, not logged, "
                                                   "until it works again)");
  // The credentials were used, as HTTP basic authentication.
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].head.starts_with("POST /hook?token=t0ken HTTP/1.1\r\n")) << reqs[0].head;
  EXPECT_NE(reqs[0].head.find("Authorization: Basic YWxpY2U6czNjcmV0"), std::string::npos) << reqs[0].head;
}

TEST_F(Webhook, AHangingEndpointNeitherBlocksSubmitNorShutdown) {
  HttpServer server({HttpServer::kHang, HttpServer::kHang, HttpServer::kHang, HttpServer::kHang});
  std::chrono::steady_clock::duration shutdown{};
  {
    auto p = make(server.url(), /*retries=*/10, /*timeout=*/1s);
    ASSERT_TRUE(p);
    // submit() returns while the endpoint holds the first request unanswered.
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(p->submit({make_alert("r", i)}, i));
    ASSERT_TRUE(eventually([&] { return server.count() >= 1; }));
    EXPECT_EQ(p->stats().webhook_delivered, 0u);
    const auto started = std::chrono::steady_clock::now();
    p.reset();
    shutdown = std::chrono::steady_clock::now() - started;
  }
  // Without the shutdown bound, three alerts x 11 attempts x 1 s plus
  // backoff would take minutes; with it, about one timeout. The bound
  // checked is generous so that a slow machine cannot fail it.
  EXPECT_LT(shutdown, 20s);
  bool said = false;
  for (const auto& l : log_lines()) said = said || l.find("webhook " + server.url() + ": ") == 0;
  EXPECT_TRUE(said);
}

TEST_F(Webhook, ShutdownInterruptsABackoff) {
  HttpServer server(std::vector<int>(20, 500));
  std::chrono::steady_clock::duration shutdown{};
  {
    auto p = make(server.url(), /*retries=*/20);
    ASSERT_TRUE(p);
    ASSERT_TRUE(p->submit({make_alert("r", 1)}, 0));
    // After the second 500 the sender waits 1 s, then 2 s, 4 s, ... up to 30 s.
    ASSERT_TRUE(eventually([&] { return server.count() >= 2; }));
    const auto started = std::chrono::steady_clock::now();
    p.reset();
    shutdown = std::chrono::steady_clock::now() - started;
  }
  EXPECT_LT(shutdown, 20s);
  EXPECT_LT(server.count(), 6u);
}

TEST_F(Webhook, AFullQueueDropsTheOldest) {
  HttpServer server({HttpServer::kHang});
  auto p = make(server.url(), /*retries=*/0, /*timeout=*/1s, /*queue=*/2);
  ASSERT_TRUE(p);
  ASSERT_TRUE(p->submit({make_alert("r", 0)}, 0));
  ASSERT_TRUE(eventually([&] { return server.count() == 1; }));  // alert 0 is in flight, unanswered
  ASSERT_TRUE(p->submit({make_alert("r", 1), make_alert("r", 2), make_alert("r", 3), make_alert("r", 4)}, 1));
  EXPECT_EQ(p->stats().webhook_dropped, 2u);
  // Alert 0 times out (no retries); the two newest are delivered.
  ASSERT_TRUE(eventually([&] { return p->stats().webhook_delivered == 2; }));
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[1].body, alert_to_json(make_alert("r", 3)));
  EXPECT_EQ(reqs[2].body, alert_to_json(make_alert("r", 4)));
  EXPECT_EQ(p->stats().sink_errors, 1u);
  bool said = false;
  for (const auto& l : log_lines()) said = said || l.find("queue full (2 alerts waiting); dropping the oldest") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace airssys::daemoneye
