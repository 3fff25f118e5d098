// The HTTP/1.1-over-Unix-socket client (unix_http.hpp) and the Docker API
// calls on top of it, against a real Unix-socket server this test runs on a
// thread: it reads the request and answers with bytes the test chose, sent
// in the pieces the test chose, then closes or holds the connection open.

#include "container/docker_client.hpp"
#include "container/engine.hpp"
#include "container/unix_http.hpp"

#include <airssys/osl/unique_fd.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstring>
#include <future>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

using namespace airssys::watchdog::container;
using airssys::osl::UniqueFd;
using airssys::testing::TempDir;
using namespace std::chrono_literals;

namespace {

UniqueFd listen_unix(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd.get(), 4) != 0) {
    throw std::runtime_error("cannot listen on " + path + ": " + std::strerror(errno));
  }
  return fd;
}

// Serves one connection on a thread: reads the request (its head and a
// Content-Length body), sends `pieces` with one send() each, then closes
// the connection, or with `hold` keeps it open until the server goes.
class OneConnectionServer {
 public:
  OneConnectionServer(const TempDir& dir, std::vector<std::string> pieces, bool hold = false)
      : path_((dir / "engine.sock").string()), listener_(listen_unix(path_)), stop_(::eventfd(0, EFD_CLOEXEC)) {
    thread_ = std::thread([this, pieces = std::move(pieces), hold] { serve(pieces, hold); });
  }
  ~OneConnectionServer() {
    const std::uint64_t one = 1;
    (void)!::write(stop_.get(), &one, sizeof one);
    thread_.join();
  }
  OneConnectionServer(const OneConnectionServer&) = delete;
  OneConnectionServer& operator=(const OneConnectionServer&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  // The request as the server read it (waits for it, bounded).
  [[nodiscard]] std::string request() {
    if (request_.wait_for(60s) != std::future_status::ready) return "(no request)";
    return request_.get();
  }

 private:
  // Waits for `fd` to be readable; false once the server is told to stop.
  bool wait_for(int fd) {
    pollfd p[2] = {{fd, POLLIN, 0}, {stop_.get(), POLLIN, 0}};
    while (::poll(p, 2, -1) < 0) {
    }
    return (p[1].revents & POLLIN) == 0;
  }

  void serve(const std::vector<std::string>& pieces, bool hold) {
    std::string req;
    if (!wait_for(listener_.get())) {
      promise_.set_value("(no connection)");
      return;
    }
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    std::size_t want = std::string::npos;
    char buf[4096];
    while (req.size() < want && wait_for(conn.get())) {
      const ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
      if (n <= 0) break;
      req.append(buf, static_cast<std::size_t>(n));
      const auto end = req.find("\r\n\r\n");
      if (want == std::string::npos && end != std::string::npos) {
        const auto cl = req.find("Content-Length: ");
        want = end + 4 + (cl != std::string::npos && cl < end ? std::stoul(req.substr(cl + 16)) : 0);
      }
    }
    promise_.set_value(req);
    for (const auto& p : pieces) {
      if (::send(conn.get(), p.data(), p.size(), MSG_NOSIGNAL) < 0) break;
      std::this_thread::sleep_for(2ms);  // the client sees the pieces apart (not relied on)
    }
    if (hold) wait_for(stop_.get());
  }

  std::string path_;
  UniqueFd listener_;
  UniqueFd stop_;
  std::promise<std::string> promise_;
  std::future<std::string> request_ = promise_.get_future();
  std::thread thread_;
};

// Serves one connection on a thread: reads the request head, sends `head`,
// then `piece` again and again without pause, as fast as the client takes
// it, until the client goes or stop() (which then closes the connection).
class FloodServer {
 public:
  FloodServer(const TempDir& dir, std::string head, std::string piece)
      : path_((dir / "engine.sock").string()), listener_(listen_unix(path_)) {
    thread_ = std::thread([this, head = std::move(head), piece = std::move(piece)] { serve(head, piece); });
  }
  ~FloodServer() {
    stop();
    // Unblocks an accept that never came.
    UniqueFd poke(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    (void)::connect(poke.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    thread_.join();
  }
  FloodServer(const FloodServer&) = delete;
  FloodServer& operator=(const FloodServer&) = delete;

  [[nodiscard]] const std::string& path() const { return path_; }
  void stop() { stop_ = true; }

 private:
  void serve(const std::string& head, const std::string& piece) {
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn || stop_) return;
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      req.append(buf, static_cast<std::size_t>(n));
    }
    if (::send(conn.get(), head.data(), head.size(), MSG_NOSIGNAL) < 0) return;
    while (!stop_ && ::send(conn.get(), piece.data(), piece.size(), MSG_NOSIGNAL) >= 0) {
    }
  }

  std::string path_;
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Runs `call` on a thread; when it has not returned after a minute, stops
// `server` (its connection closes, so the call does return) and says so.
template <class Call>
auto returns_without_help(FloodServer& server, Call call) {
  auto f = std::async(std::launch::async, call);
  const bool in_time = f.wait_for(60s) == std::future_status::ready;
  if (!in_time) server.stop();
  return std::pair(f.get(), in_time);
}

std::string chunk(std::string_view data) { return fmt::format("{:x}\r\n{}\r\n", data.size(), data); }

const std::string kChunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST(UnixHttp, AContentLengthReplyAndTheRequestAsSent) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 201 Created\r\nContent-Length: 11\r\nX-Other: x\r\n\r\n", "{\"Id\":\"ab\"}"});
  auto r = unix_http(server.path(), {.method = "POST", .target = "/v1.41/x?a=1", .body = "{\"k\":1}", .content_type = "application/json"});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->body, "{\"Id\":\"ab\"}");
  const std::string req = server.request();
  EXPECT_TRUE(req.starts_with("POST /v1.41/x?a=1 HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nContent-Length: 7\r\n"), std::string::npos) << req;
  EXPECT_NE(req.find("\r\nConnection: close\r\n"), std::string::npos) << req;
  EXPECT_TRUE(req.ends_with("\r\n\r\n{\"k\":1}")) << req;
}

TEST(UnixHttp, AChunkedReplyInPiecesIsDecoded) {
  TempDir dir("wd-http");
  // Chunk sizes in upper and lower case, an extension, a chunk split across
  // sends, an empty-looking line inside data, trailers after the last chunk.
  OneConnectionServer server(dir, {"HTTP/1.1 100 Continue\r\n\r\n" + kChunkedHead.substr(0, 20), kChunkedHead.substr(20) + "5;ext=1\r\nhel",
                                   "lo\r\nA\r\n\r\n\r\n345678\r\n", chunk("!"), "0\r\nX-Trailer: t\r\n\r\n"});
  auto r = unix_http(server.path(), {.method = "GET", .target = "/x"});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello\r\n\r\n345678!");
  EXPECT_TRUE(server.request().starts_with("GET /x HTTP/1.1\r\n"));
}

TEST(UnixHttp, AChunkedStreamGoesToTheSinkAsItArrivesAndCancelEndsIt) {
  TempDir dir("wd-http");
  // The server sends two chunks and then nothing, holding the connection
  // open like a log stream of a container that runs on.
  OneConnectionServer server(dir, {kChunkedHead + chunk("line 1\n"), chunk("line 2\n")}, /*hold=*/true);
  std::atomic<bool> cancel{false};
  std::string got;
  auto r = unix_http(server.path(), {.method = "GET", .target = "/logs"},
                     {.timeout = 0ms,
                      .sink =
                          [&](std::string_view s) {
                            got += s;
                            if (got == "line 1\nline 2\n") cancel = true;
                            return true;
                          },
                      .cancel = &cancel});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "");
  EXPECT_EQ(got, "line 1\nline 2\n");
}

TEST(UnixHttp, ASinkRefusingMoreEndsTheExchangeWithoutAnError) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {kChunkedHead + chunk("first"), chunk("second")}, /*hold=*/true);
  int calls = 0;
  auto r = unix_http(server.path(), {.method = "GET", .target = "/logs"},
                     {.sink = [&](std::string_view) { return ++calls < 1; }});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls, 1);
}

TEST(UnixHttp, AReplyWithoutLengthEndsWithTheStream) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.0 200 OK\r\n\r\nall", " of it"});
  auto r = unix_http(server.path(), {.method = "GET", .target = "/"});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->body, "all of it");
}

TEST(UnixHttp, NoBodyIsReadFor204) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 204 No Content\r\n\r\n"}, /*hold=*/true);
  auto r = unix_http(server.path(), {.method = "POST", .target = "/containers/x/start"});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 204);
  EXPECT_NE(server.request().find("\r\nContent-Length: 0\r\n"), std::string::npos);
}

TEST(UnixHttp, AServerThatClosesEarlyIsAnError) {
  struct Case {
    std::vector<std::string> pieces;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {{}, "the engine closed the connection without a reply"},
      {{"HTTP/1.1 200 OK\r\nContent-"}, "the engine closed the connection in the reply's headers"},
      {{"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "only ten b"},
       "the engine closed the connection after 10 of the 100 bytes of the reply body"},
      {{kChunkedHead + "10\r\nshort"}, "the engine closed the connection after 5 of the 16 bytes of a chunk"},
      {{kChunkedHead + chunk("done")}, "the engine closed the connection in a chunk-size line"},
  };
  for (const auto& c : cases) {
    TempDir dir("wd-http");
    OneConnectionServer server(dir, c.pieces);
    auto r = unix_http(server.path(), {.method = "GET", .target = "/"});
    ASSERT_FALSE(r) << c.reason;
    EXPECT_EQ(r.error().kind, HttpFailure::closed_early) << c.reason;
    EXPECT_EQ(r.error().reason, c.reason);
  }
}

TEST(UnixHttp, AReplyLargerThanTheBoundIsRefused) {
  const std::string big(5000, 'x');
  const std::vector<std::vector<std::string>> replies = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n", big},   // refused from the header, before the body
      {"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999\r\n\r\n"},  // never allocated
      {kChunkedHead, chunk(big.substr(0, 900)), chunk(big.substr(0, 900)), "0\r\n\r\n"},  // 1800 in chunks
      {"HTTP/1.1 200 OK\r\n\r\n", big},  // up to the end of the stream
  };
  for (const auto& pieces : replies) {
    TempDir dir("wd-http");
    OneConnectionServer server(dir, pieces);
    auto r = unix_http(server.path(), {.method = "GET", .target = "/"}, {.max_body = 1000});
    ASSERT_FALSE(r) << pieces[0];
    EXPECT_EQ(r.error().kind, HttpFailure::too_large) << pieces[0];
    EXPECT_EQ(r.error().reason, "the reply body is larger than 1000 bytes");
  }
  // Exactly the bound is fine, and a sink is not bounded.
  TempDir dir("wd-http");
  {
    OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", big.substr(0, 1000)});
    auto r = unix_http(server.path(), {.method = "GET", .target = "/"}, {.max_body = 1000});
    ASSERT_TRUE(r) << r.error().reason;
    EXPECT_EQ(r->body.size(), 1000u);
  }
  ::unlink((dir / "engine.sock").c_str());
  OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\n\r\n", big});
  std::size_t seen = 0;
  auto r = unix_http(server.path(), {.method = "GET", .target = "/"},
                     {.max_body = 1000, .sink = [&](std::string_view s) { return (seen += s.size()) > 0; }});
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(seen, 5000u);
}

TEST(UnixHttp, HeadersPastTheirBoundAreRefused) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\nX: " + std::string(70 * 1024, 'h') + "\r\n\r\n"});
  auto r = unix_http(server.path(), {.method = "GET", .target = "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HttpFailure::too_large);
  EXPECT_EQ(r.error().reason, "reply headers longer than 65536 bytes");
}

TEST(UnixHttp, MalformedRepliesNameWhatIsWrong) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"SSH-2.0-OpenSSH\r\n\r\n", "not an HTTP/1.x status line: 'SSH-2.0-OpenSSH'"},
      {"HTTP/1.1 2x0 OK\r\n\r\n", "not an HTTP/1.x status line: 'HTTP/1.1 2x0 OK'"},
      {"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "a header line without a name: 'no colon here'"},
      {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length '-1'"},
      {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "bad Content-Length '2'"},
      // One past 2^64 - 1: from_chars reports the overflow, nothing wraps.
      {"HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n", "bad Content-Length '18446744073709551616'"},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding 'gzip'"},
      {kChunkedHead + "zz\r\n", "bad chunk size 'zz'"},
      {kChunkedHead + "10000000000000000\r\n", "bad chunk size '10000000000000000'"},  // 2^64
      {kChunkedHead + "2\r\nabc\r\n", "a chunk longer than its size"},
      {kChunkedHead + std::string(2000, '1'), "a chunk-size line longer than 1024 bytes"},
  };
  for (const auto& [reply, reason] : cases) {
    TempDir dir("wd-http");
    OneConnectionServer server(dir, {reply});
    auto r = unix_http(server.path(), {.method = "GET", .target = "/"});
    ASSERT_FALSE(r) << reason;
    EXPECT_EQ(r.error().kind, HttpFailure::malformed) << reason;
    EXPECT_EQ(r.error().reason, reason);
  }
}

TEST(UnixHttp, AServerThatNeverAnswersTimesOut) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345"}, /*hold=*/true);
  auto r = unix_http(server.path(), {.method = "GET", .target = "/"}, {.timeout = 300ms});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HttpFailure::timeout);
}

// A log stream faster than its reader: recv never finds the socket empty,
// so only a look at `cancel` before each recv ends it (a wait's poll never
// runs). The sink sleeps 1 ms per piece, the server sends without pause.
TEST(UnixHttp, CancelEndsAStreamArrivingFasterThanTheSinkTakesIt) {
  TempDir dir("wd-http");
  FloodServer server(dir, kChunkedHead, chunk(std::string(8192, 'y')));
  std::atomic<bool> cancel{false};
  std::atomic<int> calls{0};
  std::thread canceller([&] {
    while (calls < 50) std::this_thread::sleep_for(1ms);
    cancel = true;
  });
  auto [r, in_time] = returns_without_help(server, [&] {
    return unix_http(server.path(), {.method = "GET", .target = "/logs"},
                     {.timeout = 0ms,
                      .sink =
                          [&](std::string_view) {
                            ++calls;
                            std::this_thread::sleep_for(1ms);
                            return true;
                          },
                      .cancel = &cancel});
  });
  canceller.join();
  EXPECT_TRUE(in_time) << "cancel did not end the exchange";
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->cancelled);
}

TEST(UnixHttp, TheDeadlineEndsAnEndlessBodyArrivingFasterThanTheSinkTakesIt) {
  TempDir dir("wd-http");
  FloodServer server(dir, kChunkedHead, chunk(std::string(8192, 'y')));
  auto [r, in_time] = returns_without_help(server, [&] {
    return unix_http(server.path(), {.method = "GET", .target = "/logs"},
                     {.timeout = 500ms, .sink = [](std::string_view) {
                        std::this_thread::sleep_for(1ms);
                        return true;
                      }});
  });
  EXPECT_TRUE(in_time) << "the deadline did not end the exchange";
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HttpFailure::timeout) << r.error().reason;
}

TEST(UnixHttp, TheDeadlineEndsAFloodOfInterimReplies) {
  TempDir dir("wd-http");
  FloodServer server(dir, "", "HTTP/1.1 100 Continue\r\n\r\n");
  auto [r, in_time] = returns_without_help(server, [&] {
    return unix_http(server.path(), {.method = "GET", .target = "/"}, {.timeout = 500ms});
  });
  EXPECT_TRUE(in_time) << "the deadline did not end the exchange";
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HttpFailure::timeout) << r.error().reason;
}

TEST(UnixHttp, CancelEndsAWaitWithNothingSent) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {}, /*hold=*/true);
  std::atomic<bool> cancel{false};
  std::thread t([&] {
    (void)server.request();  // the request has arrived: the client now waits
    cancel = true;
  });
  auto r = unix_http(server.path(), {.method = "POST", .target = "/containers/x/wait"}, {.timeout = 0ms, .cancel = &cancel});
  t.join();
  ASSERT_TRUE(r) << r.error().reason;
  EXPECT_EQ(r->status, 0);
  EXPECT_TRUE(r->cancelled);
}

TEST(UnixHttp, NothingListeningIsAConnectError) {
  TempDir dir("wd-http");
  auto r = unix_http((dir / "none.sock").string(), {.method = "GET", .target = "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, HttpFailure::connect);
  EXPECT_EQ(r.error().errno_value, ENOENT);
  {
    UniqueFd gone = listen_unix((dir / "closed.sock").string());
  }
  r = unix_http((dir / "closed.sock").string(), {.method = "GET", .target = "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errno_value, ECONNREFUSED);
  r = unix_http(std::string(200, 'p'), {.method = "GET", .target = "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "socket path too long");
  r = unix_http("", {.method = "GET", .target = "/"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().reason, "empty socket path");
}

// The Docker API calls on top of the transport.

TEST(DockerClientOverUnixHttp, AnErrorStatusCarriesTheEnginesJsonMessage) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 57\r\n\r\n",
                                   "{\"cause\":\"no such container\",\"message\":\"no such id: abc\"}"});
  const DockerClient client(server.path());
  auto r = start_container(client, "abc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "cannot start the container: no such id: abc");
  EXPECT_TRUE(server.request().starts_with("POST /v1.41/containers/abc/start HTTP/1.1\r\n"));
}

TEST(DockerClientOverUnixHttp, CreateSendsJsonAndReadsAChunkedId) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n", chunk("{\"Id\":\"c0ffee\","),
                                   chunk("\"Warnings\":[]}\n"), "0\r\n\r\n"});
  const DockerClient client(server.path());
  ContainerSpec spec;
  spec.id = "t 1";
  spec.image = "localhost/img";
  spec.argv = {"/p"};
  auto id = create_container(client, spec);
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, "c0ffee");
  const std::string req = server.request();
  EXPECT_TRUE(req.starts_with("POST /v1.41/containers/create?name=task-t%201 HTTP/1.1\r\n")) << req;
  EXPECT_NE(req.find("\r\nContent-Type: application/json\r\n"), std::string::npos) << req;
  const auto body = nlohmann::json::parse(req.substr(req.find("\r\n\r\n") + 4));
  EXPECT_EQ(body["Image"], "localhost/img");
}

TEST(DockerClientOverUnixHttp, FollowLogsDemultiplexesFramesSplitAcrossChunks) {
  TempDir dir("wd-http");
  const std::string frames = std::string("\x01\0\0\0\0\0\0\x06hello\n", 14) + std::string("\x02\0\0\0\0\0\0\x04oops", 12);
  OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", chunk(frames.substr(0, 5)),
                                   chunk(frames.substr(5, 13)), chunk(frames.substr(18)), "0\r\n\r\n"});
  const DockerClient client(server.path());
  std::string out, err;
  auto r = follow_logs(
      client, "abc", [&](int stream, std::string_view s) { (stream == 2 ? err : out).append(s); }, nullptr);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(err, "oops");
}

TEST(DockerClientOverUnixHttp, TransportFailuresNameTheEngineAndTheRequest) {
  TempDir dir("wd-http");
  OneConnectionServer server(dir, {"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"});
  const DockerClient client(server.path());
  auto r = inspect_container(client, "abc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, fmt::format("container engine at unix://{}: GET /containers/abc/json: the engine closed the "
                                           "connection after 1 of the 100 bytes of the reply body",
                                           server.path()));
}
