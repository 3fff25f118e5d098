// W3C traceparent validation and the per-thread scope (activity_trace.hpp).
#include <airssys/osl/activity_trace.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace airssys::osl {
namespace {

constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, ParsesTheW3cExample) {
  const auto t = TraceContext::parse(kValid);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(t->parent_id(), "00f067aa0ba902b7");
  EXPECT_EQ(t->flags(), "01");
  EXPECT_TRUE(t->sampled());
  EXPECT_EQ(t->traceparent(), kValid);
  EXPECT_FALSE(TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02")->sampled());
}

TEST(TraceContext, RefusesAnythingElseSayingWhy) {
  const std::string tail = " (expected 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>)";
  struct Case {
    std::string text, why;
  };
  for (const Case& c : {
           Case{"", "it is empty"},
           Case{"garbage", "no '-' between its fields"},
           Case{"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version 01 is not supported (only 00)"},
           Case{"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version ff is not supported (only 00)"},
           Case{"0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version must be 2 hex digits, not 1"},
           Case{"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", "trace-id must be lowercase hex"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "trace-id must be 32 hex digits, not 31"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01", "trace-id must be hex digits"},
           Case{"00-00000000000000000000000000000000-00f067aa0ba902b7-01", "trace-id must not be all zeros"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", "parent-id must not be all zeros"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", "flags must be 2 hex digits, not 1"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0F", "flags must be lowercase hex"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", "it has fewer than 4 fields"},
           Case{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx", "version 00 has exactly 4 fields"},
           Case{" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "version must be 2 hex digits, not 3"},
       }) {
    const auto t = TraceContext::parse(c.text);
    ASSERT_FALSE(t) << c.text;
    EXPECT_EQ(t.error().category, ErrorCategory::invalid_argument);
    EXPECT_EQ(t.error().message, "'" + c.text + "' is not a W3C traceparent: " + c.why + tail);
  }
  // Outside text is shown bounded and printable.
  const auto t = TraceContext::parse(std::string(100, 'a') + "\n");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().message.substr(0, 72), "'" + std::string(64, 'a') + "...' is");
}

TEST(TraceScope, NestsAndIsPerThread) {
  EXPECT_FALSE(TraceScope::current());
  const auto outer = *TraceContext::parse(kValid);
  const auto inner = *TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00");
  {
    TraceScope a(outer);
    EXPECT_EQ(TraceScope::current(), outer);
    {
      TraceScope b(inner);
      EXPECT_EQ(TraceScope::current(), inner);
      bool other_thread_has_one = true;
      std::thread([&] { other_thread_has_one = TraceScope::current().has_value(); }).join();
      EXPECT_FALSE(other_thread_has_one);
    }
    EXPECT_EQ(TraceScope::current(), outer);
  }
  EXPECT_FALSE(TraceScope::current());
}

}  // namespace
}  // namespace airssys::osl
