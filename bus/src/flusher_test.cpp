// The flusher (client_core.hpp, kFlushDeferPeriods): after a burst that the
// flusher left to the publisher, the tail still goes out without flush().

#include "test_util.hpp"

#include <airssys/bus/broker.hpp>
#include <airssys/bus/client.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <string>

namespace airssys::bus {
namespace {

using namespace std::chrono_literals;
using testing::connect_client;
using testing::eventually;
using testing::start_broker;
using testing::TempDir;

// A fast burst, then nothing: every message arrives, in order, though the
// publisher never calls flush() and stops mid-batch.
TEST(Flusher, TheTailOfABurstIsWrittenWithoutFlush) {
  TempDir d;
  auto b = start_broker(d);
  auto sub = connect_client(d);
  auto pub = connect_client(d);
  ASSERT_TRUE(b && sub && pub);
  constexpr int kBurst = 100'000;
  std::atomic<int> got{0}, out_of_order{0};
  int next = 0;  // handlers run on the reader thread only
  SubscribeOptions so;
  so.max_msgs = 1u << 20;  // the burst is never dropped for a slow reader
  so.max_bytes = 256ull << 20;
  auto s = sub->subscribe(
      "burst.x",
      [&](const MessageView& m) {
        if (m.payload != std::to_string(next)) ++out_of_order;
        ++next;
        ++got;
      },
      so);
  ASSERT_TRUE(s && sub->flush());
  for (int i = 0; i < kBurst; ++i) ASSERT_TRUE(pub->publish("burst.x", std::to_string(i)));
  EXPECT_TRUE(eventually([&] { return got.load() == kBurst; })) << got.load() << " of " << kBurst;
  EXPECT_EQ(out_of_order.load(), 0);
}

}  // namespace
}  // namespace airssys::bus
