// kill -9 a writer (the real CLI, appending stdin lines) at arbitrary points,
// reopen, and check that every index it acknowledged is there with the right
// contents and that the ledger verifies. Several rounds on one ledger.

#include <airssys/ledger/ledger.hpp>
#include <airssys/ledger/verify.hpp>

#include "../src/test_util.hpp"
#include "run_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <random>
#include <thread>

namespace airssys::ledger::testing {
namespace {

std::string line_for(int round, std::uint64_t k) {
  return "round " + std::to_string(round) + " line " + std::to_string(k) + " " + std::string(k % 50, 'p');
}

TEST(Crash, KillNineNeverLosesAnAcknowledgedAppend) {
  ::signal(SIGPIPE, SIG_IGN);
  TempDir tmp;
  const std::string dir = (tmp / "l").string();
  ASSERT_EQ(run_ledger({"init", dir}).exit_code, 0);
  std::mt19937 rng(12345);
  std::uint64_t total_acked = 0;
  for (int round = 0; round < 10; ++round) {
    std::uint64_t base = 0;
    {
      auto l = Ledger::open(dir, {.read_only = true});
      ASSERT_TRUE(l) << l.error().to_string();
      base = (*l)->size();
    }
    Child c = spawn_ledger({"append", dir});
    // Feed lines as fast as the pipe takes them until the writer dies.
    std::atomic<bool> stop{false};
    std::thread feeder([&] {
      std::string chunk;
      std::mt19937 feed_rng(static_cast<unsigned>(round));
      std::size_t chunk_size = 64;
      for (std::uint64_t k = 0; !stop.load(); ++k) {
        chunk += line_for(round, k) + "\n";
        if (chunk.size() < chunk_size) continue;
        chunk_size = 64 + feed_rng() % 8192;  // small and large commits
        std::size_t off = 0;
        while (off < chunk.size()) {
          const ssize_t w = ::write(c.in, chunk.data() + off, chunk.size() - off);
          if (w < 0) return;  // EPIPE: the writer is gone
          off += static_cast<std::size_t>(w);
        }
        chunk.clear();
      }
    });
    // Read acknowledgements; kill after a random number of them.
    const std::uint64_t kill_after = 50 + rng() % 3000;
    std::vector<std::uint64_t> acked;
    std::string buf;
    while (acked.size() < kill_after) {
      char tmpbuf[4096];
      const ssize_t n = ::read(c.out, tmpbuf, sizeof tmpbuf);
      if (n <= 0) break;
      buf.append(tmpbuf, static_cast<std::size_t>(n));
      std::size_t nl;
      while ((nl = buf.find('\n')) != std::string::npos) {
        acked.push_back(std::stoull(buf.substr(0, nl)));
        buf.erase(0, nl + 1);
      }
    }
    // Let it run on for a random moment so the kill lands anywhere in a commit.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 4000));
    ASSERT_EQ(::kill(c.pid, SIGKILL), 0);
    const int status = wait_exit(c.pid);
    stop = true;
    ::close(c.in);
    feeder.join();
    ::close(c.out);
    ::close(c.err);
    EXPECT_EQ(status, 128 + SIGKILL) << "round " << round;
    ASSERT_FALSE(acked.empty()) << "round " << round;

    // Reopen for writing: recovery runs, acknowledged entries are all there.
    auto l = Ledger::open(dir);
    ASSERT_TRUE(l) << l.error().to_string();
    std::cout << "round " << round << ": " << acked.size() << " acknowledged, " << (*l)->size() - base
              << " present after recovery\n";
    for (const auto& w : (*l)->warnings()) std::cout << "  recovery: " << w << "\n";
    for (std::size_t k = 0; k < acked.size(); ++k) {
      ASSERT_EQ(acked[k], base + k) << "round " << round;
      ASSERT_LT(acked[k], (*l)->size()) << "acknowledged index " << acked[k] << " lost in round " << round;
      auto e = (*l)->entry(acked[k]);
      ASSERT_TRUE(e) << e.error().to_string();
      ASSERT_EQ(std::string(e->begin(), e->end()), line_for(round, k));
    }
    total_acked += acked.size();
    l->reset();
    auto report = verify(dir);
    ASSERT_TRUE(report) << report.error().to_string();
    ASSERT_TRUE(report->intact) << "round " << round << ": " << report->problem;
  }
  EXPECT_GT(total_acked, 300u);
  auto v = run_ledger({"verify", dir});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
}

}  // namespace
}  // namespace airssys::ledger::testing
