#pragma once
// Test helpers: a private temp dir for the socket, a raw frame-level
// connection (for misbehaving peers), and polling for a condition.

#include "client_core.hpp"
#include "frame.hpp"
#include "unix_socket.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>
#include <airssys/bus/policy.hpp>

#include <airssys/testing/eventually.hpp>
#include <airssys/testing/temp_dir.hpp>

#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace airssys::bus::testing {

// A private temp dir whose run/bus.sock is where the test's broker listens.
struct TempDir : ::airssys::testing::TempDir {
  TempDir() : ::airssys::testing::TempDir("airssys-bus-test") {}
  [[nodiscard]] std::filesystem::path sock() const { return path() / "run" / "bus.sock"; }
};

// A broker on d.sock() (options as given otherwise); null, with a test
// failure, if it does not start.
inline std::unique_ptr<Broker> start_broker(const TempDir& d, BrokerOptions o = {}) {
  o.socket_path = d.sock();
  auto b = Broker::start(std::move(o));
  EXPECT_TRUE(b) << (b ? "" : b.error().to_string());
  return b ? std::move(*b) : nullptr;
}

// A client of the broker on d.sock(); null, with a test failure, if refused.
inline std::unique_ptr<Client> connect_client(const TempDir& d) {
  ClientOptions o;
  o.socket_path = d.sock();
  auto c = Client::connect(std::move(o));
  EXPECT_TRUE(c) << (c ? "" : c.error().to_string());
  return c ? std::move(*c) : nullptr;
}

using ::airssys::testing::eventually;

// A shared_ptr deleter for a Client or ClientCore (whose destruction joins
// the client's threads): destroys on another thread and waits at most
// `limit`, so a destructor that blocks fails the test instead of hanging
// it. The object is then left to that thread, which finishes on its own.
struct BoundedDelete {
  std::chrono::milliseconds limit{std::chrono::seconds(60)};
  template <class T>
  void operator()(T* p) const {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread t([p, done] {
      delete p;
      done->store(true);
    });
    if (eventually([&] { return done->load(); }, limit)) {
      t.join();
      return;
    }
    t.detach();
    ADD_FAILURE() << "destroying the client did not return within " << limit.count()
                  << " ms (a thread it joins is still blocked)";
  }
};

// A ClientCore on d.sock(), for tests that need its test hooks
// (flusher_batch_waits, close_hook), destroyed bounded (BoundedDelete);
// null, with a test failure, if it does not connect.
inline std::shared_ptr<detail::ClientCore> start_core(const TempDir& d, ClientOptions o = {}) {
  o.socket_path = d.sock();
  std::shared_ptr<detail::ClientCore> core(new detail::ClientCore(std::move(o)), BoundedDelete{});
  auto started = core->start();
  EXPECT_TRUE(started) << (started ? "" : started.error().to_string());
  return started ? core : nullptr;
}

// A flush_delay longer than any test (and any uptime): bytes left to the
// flusher stay in the buffer until something else writes them.
inline constexpr std::chrono::microseconds kFlushDelayYear =
    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::years(1));

// A connection speaking frames directly, with no reader thread.
struct RawConn {
  detail::UniqueFd fd;
  detail::FrameDecoder dec;
  std::string text;  // last frame's text; views in frames die on the next read

  explicit RawConn(const std::filesystem::path& p) {
    auto c = detail::connect_unix(p);
    if (c) fd = std::move(*c);
  }
  bool send_bytes(std::string_view b) const {
    return ::send(fd.get(), b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
  }
  bool send(const detail::Frame& f) const {
    detail::ByteBuffer b;
    detail::encode_frame(b, f);
    return send_bytes(b.view());
  }
  bool sub(std::uint64_t sid, std::string_view subject, Policy policy = Policy::drop_newest, std::uint32_t max_msgs = 0) {
    detail::Frame f;
    f.op = detail::Op::sub;
    f.sid = sid;
    f.subject = subject;
    f.policy = static_cast<std::uint32_t>(policy);
    f.max_msgs = max_msgs;
    return send(f);
  }
  bool ping(std::uint64_t seq = 1) {
    detail::Frame f;
    f.op = detail::Op::ping;
    f.sid = seq;
    return send(f);
  }
  // The next frame (a copy of the fields tests look at), nullopt on EOF,
  // error or timeout.
  struct Got {
    detail::Op op;
    std::uint64_t sid;
    std::string subject, payload, text, reply_to;
  };
  std::optional<Got> next(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (true) {
      auto f = dec.next();
      if (!f) return std::nullopt;
      if (*f) return Got{(*f)->op, (*f)->sid, std::string((*f)->subject), std::string((*f)->payload), std::string((*f)->text),
                                std::string((*f)->reply_to)};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char* dst = dec.prepare(65536);
      const ssize_t n = ::read(fd.get(), dst, 65536);
      if (n <= 0) return std::nullopt;
      dec.commit(static_cast<std::size_t>(n));
    }
  }
  // True once the peer closed (EOF or reset), reading and discarding data.
  bool closed_by_peer(std::chrono::milliseconds timeout = std::chrono::seconds(20)) const {
    const auto end = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const ssize_t n = ::read(fd.get(), buf, sizeof buf);
      if (n <= 0) return true;
    }
    return false;
  }
};

}  // namespace airssys::bus::testing
