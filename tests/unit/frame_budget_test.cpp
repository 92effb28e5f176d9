// The HTTP/2 frame budgets (host/h2/frame_budget.h): a burst at once, then
// the refill rate, each kind on its own.
#include "h2/frame_budget.h"

#include <gtest/gtest.h>

using pounce::h2::frame_limit;
using pounce::h2::FrameBudget;
using pounce::h2::FrameKind;

TEST(FrameBudget, TheBurstPassesThenTheNextFrameIsRefused) {
  FrameBudget b(1000);
  const uint32_t burst = frame_limit(FrameKind::Ping).burst;
  for (uint32_t i = 0; i < burst; ++i) {
    ASSERT_TRUE(b.take(FrameKind::Ping, 1000)) << i;
  }
  EXPECT_FALSE(b.take(FrameKind::Ping, 1000));
}

TEST(FrameBudget, TokensComeBackAtTheRate) {
  FrameBudget b(0);
  const FrameKind k = FrameKind::Settings;
  const uint32_t burst = frame_limit(k).burst;
  const uint32_t rate = frame_limit(k).per_second;
  for (uint32_t i = 0; i < burst; ++i) ASSERT_TRUE(b.take(k, 0));
  ASSERT_FALSE(b.take(k, 0));
  // One token takes 1000 / rate ms.
  const uint64_t one = 1000 / rate;
  EXPECT_FALSE(b.take(k, one - 1));
  EXPECT_TRUE(b.take(k, one));
  EXPECT_FALSE(b.take(k, one));
  // A long quiet spell refills no more than the burst.
  for (uint32_t i = 0; i < burst; ++i) ASSERT_TRUE(b.take(k, 3600 * 1000));
  EXPECT_FALSE(b.take(k, 3600 * 1000));
}

TEST(FrameBudget, KindsAreCountedApart) {
  FrameBudget b(0);
  const uint32_t burst = frame_limit(FrameKind::EmptyData).burst;
  for (uint32_t i = 0; i < burst; ++i) b.take(FrameKind::EmptyData, 0);
  EXPECT_FALSE(b.take(FrameKind::EmptyData, 0));
  EXPECT_TRUE(b.take(FrameKind::Reset, 0));
  EXPECT_TRUE(b.take(FrameKind::Priority, 0));
}

TEST(FrameBudget, ASteadyRateBelowTheLimitIsNeverRefused) {
  // RST_STREAM at 40 a second (the limit is 50) for ten minutes.
  FrameBudget b(0);
  for (uint64_t ms = 0; ms < 600 * 1000; ms += 25) {
    ASSERT_TRUE(b.take(FrameKind::Reset, ms)) << ms;
  }
}
