#include "bench/latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using pounce::bench::LatencyHistogram;

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 256; ++v) h.record(v);
  EXPECT_EQ(h.count(), 256u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 255u);
  EXPECT_EQ(h.quantile(0.5), 127u);
  EXPECT_EQ(h.quantile(1.0), 255u);
}

TEST(LatencyHistogram, BucketsTileTheRangeWithoutGaps) {
  for (size_t b = 1; b < LatencyHistogram::bucket_count(); ++b) {
    ASSERT_EQ(LatencyHistogram::bucket_low(b),
              LatencyHistogram::bucket_high(b - 1) + 1)
        << "bucket " << b;
  }
  EXPECT_EQ(LatencyHistogram::bucket_high(LatencyHistogram::bucket_count() - 1),
            LatencyHistogram::kMaxValue);
}

TEST(LatencyHistogram, EveryValueLandsInItsBucket) {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 100000; ++i) {
    uint64_t v = rng() % LatencyHistogram::kMaxValue;
    v >>= rng() % 40;  // spread over the magnitudes
    size_t b = LatencyHistogram::bucket_of(v);
    ASSERT_LE(LatencyHistogram::bucket_low(b), v);
    ASSERT_GE(LatencyHistogram::bucket_high(b), v);
  }
}

TEST(LatencyHistogram, RelativeErrorStaysUnderOnePercentFromMicrosToMinutes) {
  // 1 µs, 1 ms, 1 s, 10 minutes (in ns).
  for (uint64_t v :
       {1'000ull, 1'234'567ull, 1'000'000'000ull, 600'000'000'000ull}) {
    LatencyHistogram h;
    h.record(v);
    h.record(v);  // so that min/max clamping does not hide the bucket error
    h.record(v * 2);
    double got = static_cast<double>(h.quantile(0.5));
    EXPECT_NEAR(got, static_cast<double>(v), v * 0.01) << v;
  }
}

TEST(LatencyHistogram, QuantilesOfAUniformSpread) {
  LatencyHistogram h;
  for (uint64_t us = 1; us <= 10000; ++us) h.record(us * 1000);
  EXPECT_NEAR(h.quantile(0.50), 5'000'000.0, 5'000'000 * 0.01);
  EXPECT_NEAR(h.quantile(0.99), 9'900'000.0, 9'900'000 * 0.01);
  EXPECT_NEAR(h.quantile(0.999), 9'990'000.0, 9'990'000 * 0.01);
  EXPECT_NEAR(h.mean(), 5'000'500.0, 1.0);
}

TEST(LatencyHistogram, MergeEqualsRecordingIntoOne) {
  LatencyHistogram a, b, both;
  for (uint64_t v = 1; v < 5000; v += 7) {
    a.record(v * 1000);
    both.record(v * 1000);
  }
  for (uint64_t v = 1; v < 9000; v += 13) {
    b.record(v * 3000);
    both.record(v * 3000);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) {
    EXPECT_EQ(a.quantile(q), both.quantile(q)) << q;
  }
}

TEST(LatencyHistogram, ClampsAndCountsValuesBeyondRange) {
  LatencyHistogram h;
  h.record(LatencyHistogram::kMaxValue + 5);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
}

TEST(LatencyHistogram, EmptyHistogramReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.quantile(0.99), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
}
