#include "core/fifo.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace asioquic::detail {
namespace {

TEST(Fifo, KeepsOrderAcrossPushesAndPops) {
  Fifo<int> q;
  EXPECT_TRUE(q.empty());
  int next_in = 0;
  int next_out = 0;
  // Interleaved so the front moves far past the compaction threshold many times.
  for (int round = 0; round < 200; ++round) {
    for (int i = 0; i < 3; ++i)
      q.push_back(next_in++);
    for (int i = 0; i < 2; ++i) {
      ASSERT_FALSE(q.empty());
      EXPECT_EQ(q.front(), next_out++);
      q.pop_front();
    }
    ASSERT_EQ(q.size(), static_cast<size_t>(next_in - next_out));
    for (size_t i = 0; i < q.size(); ++i)
      ASSERT_EQ(q[i], next_out + static_cast<int>(i));
  }
  while (!q.empty()) {
    EXPECT_EQ(q.front(), next_out++);
    q.pop_front();
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(q.size(), 0u);
}

TEST(Fifo, PopReleasesTheElementAtOnce) {
  Fifo<std::shared_ptr<std::string>> q;
  auto a = std::make_shared<std::string>("a");
  q.push_back(a);
  q.push_back(std::make_shared<std::string>("b"));
  EXPECT_EQ(a.use_count(), 2);
  q.pop_front();
  EXPECT_EQ(a.use_count(), 1);  // not held until the queue compacts or drains
  EXPECT_EQ(*q.front(), "b");
}

TEST(Fifo, ClearEmptiesAndStaysUsable) {
  Fifo<std::string> q;
  q.push_back("x");
  q.push_back("y");
  q.pop_front();
  q.clear();
  EXPECT_TRUE(q.empty());
  q.push_back("z");
  EXPECT_EQ(q.size(), 1u);
  EXPECT_EQ(q.front(), "z");
}

TEST(Fifo, MovedFromIsEmptyAndUsable) {
  Fifo<int> q;
  for (int i = 0; i < 5; ++i)
    q.push_back(i);
  q.pop_front();  // the front has moved on
  Fifo<int> taken = std::move(q);
  EXPECT_EQ(taken.size(), 4u);
  EXPECT_EQ(taken.front(), 1);
  EXPECT_TRUE(q.empty());  // NOLINT(bugprone-use-after-move): the documented state
  EXPECT_EQ(q.size(), 0u);
  q.push_back(9);
  EXPECT_EQ(q.front(), 9);
  Fifo<int> assigned;
  assigned.push_back(7);
  assigned = std::move(taken);
  EXPECT_EQ(assigned.size(), 4u);
  EXPECT_TRUE(taken.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(Fifo, EraseIterateAndSwap) {
  Fifo<int> q;
  for (int i = 0; i < 40; ++i)
    q.push_back(i % 4);
  for (int i = 0; i < 20; ++i)
    q.pop_front();  // the front has moved: erase and iteration start there
  q.erase(2);
  std::vector<int> seen(q.begin(), q.end());
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3, 0, 1, 3}));
  EXPECT_EQ(q.back(), 3);

  Fifo<int> other;
  other.emplace_back(7);
  q.swap(other);
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q.front(), 7);
  EXPECT_EQ(other.size(), 15u);
  other.erase(0);
  other.erase(1);
  other.erase(3);
  EXPECT_TRUE(other.empty());
}

}  // namespace
}  // namespace asioquic::detail
