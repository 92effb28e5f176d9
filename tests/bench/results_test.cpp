#include "bench/results.h"

#include <gtest/gtest.h>

using namespace pounce::bench;

namespace {

Sample sample(const char* workload, const char* server, unsigned round,
              double rps, double cpu) {
  Sample s;
  s.workload = workload;
  s.server = server;
  s.round = round;
  s.per_second = rps;
  s.cpu_us_per_req = cpu;
  return s;
}

}  // namespace

TEST(Spread, OfSeveralValues) {
  Spread s = spread_of({5, 1, 3, 2, 4});
  EXPECT_EQ(s.n, 5u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.max, 5);
  EXPECT_EQ(s.median, 3);
  EXPECT_DOUBLE_EQ(s.p95, 4.8);
  EXPECT_DOUBLE_EQ(s.mean, 3);
  EXPECT_NEAR(s.stddev, 1.5811, 1e-4);
}

TEST(Spread, OneValueHasNoDeviation) {
  Spread s = spread_of({7});
  EXPECT_EQ(s.median, 7);
  EXPECT_EQ(s.stddev, 0);
}

TEST(Groups, OneSampleIsInsufficientEvidence) {
  auto groups = group_samples({sample("hello", "pounce", 1, 100, 5)});
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_TRUE(groups[0].insufficient());
}

TEST(Groups, UnknownCpuIsLeftOut) {
  auto groups = group_samples({sample("hello", "pounce", 1, 100, -1),
                               sample("hello", "pounce", 2, 100, 4)});
  EXPECT_EQ(groups[0].metrics.at("cpu_us_per_req").n, 1u);
  EXPECT_EQ(groups[0].metrics.at("cpu_us_per_req").median, 4);
  EXPECT_FALSE(groups[0].insufficient());
}

TEST(Ratios, ArePairedByRound) {
  std::vector<Sample> s = {
      sample("hello", "pounce", 1, 200, 4), sample("hello", "nginx", 1, 100, 8),
      sample("hello", "pounce", 2, 90, 4),  sample("hello", "nginx", 2, 60, 8),
      sample("hello", "pounce", 3, 300, 4), sample("hello", "nginx", 3, 100, 8),
      sample("echo", "pounce", 1, 50, 4)};
  auto ratios = pounce_peer_ratios(s);
  ASSERT_EQ(ratios.size(), 1u);
  EXPECT_EQ(ratios[0].peer, "nginx");
  EXPECT_DOUBLE_EQ(ratios[0].req_per_s.median, 2.0);  // of 2.0, 1.5, 3.0
  EXPECT_DOUBLE_EQ(ratios[0].req_per_s.min, 1.5);
  EXPECT_DOUBLE_EQ(ratios[0].cpu_per_req.median, 0.5);
}

// A peer (or pounce) that answered non-2xx or wrong bodies in any round:
// its ratio is shown but does not count, and says why.
TEST(Ratios, DoNotCountWhenEitherSideGaveWrongAnswers) {
  std::vector<Sample> s = {sample("hello", "pounce", 1, 100, 4),
                           sample("hello", "nginx", 1, 100, 4),
                           sample("hello", "pounce", 2, 100, 4),
                           sample("hello", "nginx", 2, 100, 4)};
  s[3].non_2xx = 5;
  auto ratios = pounce_peer_ratios(s);
  ASSERT_EQ(ratios.size(), 1u);
  EXPECT_FALSE(ratios[0].counts);
  EXPECT_EQ(ratios[0].why_not, "nginx: 5 non-2xx");

  s[3].non_2xx = 0;
  s[0].wrong_body = 2;
  ratios = pounce_peer_ratios(s);
  ASSERT_EQ(ratios.size(), 1u);
  EXPECT_FALSE(ratios[0].counts);
  EXPECT_EQ(ratios[0].why_not, "pounce: 2 wrong bodies");

  s[0].wrong_body = 0;
  ratios = pounce_peer_ratios(s);
  ASSERT_EQ(ratios.size(), 1u);
  EXPECT_TRUE(ratios[0].counts);
  EXPECT_EQ(ratios[0].why_not, "");
}

// A peer whose every answer was a fast 404 has no good answer at all: no
// ratio figure, but the ratio is still listed as not counting.
TEST(Ratios, APeerWithNoGoodAnswerIsListedAsNotCounting) {
  std::vector<Sample> s = {sample("hello", "pounce", 1, 100, 4),
                           sample("hello", "h2o", 1, 0, -1)};
  s[1].non_2xx = 90'000;
  auto ratios = pounce_peer_ratios(s);
  ASSERT_EQ(ratios.size(), 1u);
  EXPECT_FALSE(ratios[0].counts);
  EXPECT_EQ(ratios[0].req_per_s.n, 0u);
  EXPECT_EQ(ratios[0].why_not, "h2o: 90000 non-2xx");
}
