// FrameQueue: frames of any size (also larger than a chunk) come out whole
// and in order across chunk boundaries, whether moved or dropped; the byte
// count stays exact; a queue at its budget (drop one, push one) keeps a
// constant number of chunks.

#include "frame_queue.hpp"

#include <gtest/gtest.h>

#include <deque>
#include <string>

namespace airssys::bus::detail {
namespace {

std::string frame(std::size_t n, std::size_t seq) {
  std::string f(n, static_cast<char>('a' + seq % 26));
  if (n >= 8) f.replace(0, 8, std::to_string(10000000 + seq).substr(0, 8));
  return f;
}

TEST(FrameQueue, FramesComeOutWholeAndInOrder) {
  FrameQueue q;
  std::deque<std::string> model;
  std::uint64_t model_bytes = 0;
  ByteBuffer out;
  std::string expected_out;
  const std::size_t sizes[] = {1, 9, 700, FrameQueue::kChunk - 3, FrameQueue::kChunk, 3 * FrameQueue::kChunk + 5, 64};
  std::size_t seq = 0;
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i) {
      const std::string f = frame(sizes[seq % std::size(sizes)], seq);
      ++seq;
      q.push(f);
      model.push_back(f);
      model_bytes += f.size();
    }
    if (round % 3 == 0) {  // drop the oldest
      EXPECT_EQ(q.pop_front(), model.front().size());
      model_bytes -= model.front().size();
      model.pop_front();
    } else {  // move the two oldest out
      const std::uint64_t want = model[0].size() + model[1].size();
      EXPECT_EQ(q.move_front(out, 2), want);
      expected_out += model[0] + model[1];
      model_bytes -= want;
      model.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(q.frames(), model.size());
    ASSERT_EQ(q.bytes(), model_bytes);
    for (std::size_t i = 0; i < model.size(); ++i) ASSERT_EQ(q.frame_size(i), model[i].size());
  }
  EXPECT_EQ(out.view(), expected_out);
  const std::size_t left = q.frames();
  q.move_front(out, left);
  for (const auto& f : model) expected_out += f;
  EXPECT_EQ(out.view(), expected_out);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
  q.push("again");
  ByteBuffer again;
  q.move_front(again, 1);
  EXPECT_EQ(again.view(), "again");
}

TEST(FrameQueue, AtItsBudgetItReusesItsChunks) {
  FrameQueue q;
  const std::string f(10 * 1024 + 7, 'x');
  while (q.bytes() < 8u << 20) q.push(f);
  const std::size_t chunks = q.chunks();
  for (int i = 0; i < 5000; ++i) {
    q.pop_front();
    q.push(f);
    ASSERT_LE(q.chunks(), chunks + 1) << i;
  }
  EXPECT_LE(q.chunks() * FrameQueue::kChunk, q.bytes() + 2 * FrameQueue::kChunk);
}

}  // namespace
}  // namespace airssys::bus::detail
