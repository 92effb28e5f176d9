#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace pounce::bench {

namespace {

// 256 linear sub-buckets per power of two, of which the upper 128 are used
// above the first range: each bucket is at most 1/128 of its value wide, so
// the midpoint is within 0.4% of every value it stands for.
constexpr int kSubBits = 8;
constexpr uint64_t kSubCount = uint64_t{1} << kSubBits;  // 256
constexpr uint64_t kHalfCount = kSubCount / 2;           // 128
constexpr int kMaxBits = 42;

// Values below kSubCount have buckets of width 1. Above, the range
// [2^(e+7), 2^(e+8)) for e >= 1 is split into 128 buckets of width 2^e.
constexpr size_t kBuckets = kSubCount + (kMaxBits - kSubBits) * kHalfCount;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::bucket_count() {
  return kBuckets;
}

size_t LatencyHistogram::bucket_of(uint64_t v) {
  if (v < kSubCount) return static_cast<size_t>(v);
  int top = 63 - std::countl_zero(v);  // index of the highest set bit, >= 8
  int shift = top - (kSubBits - 1);    // >= 1
  uint64_t sub = v >> shift;           // in [128, 256)
  return static_cast<size_t>(kSubCount + (shift - 1) * kHalfCount +
                             (sub - kHalfCount));
}

uint64_t LatencyHistogram::bucket_low(size_t b) {
  if (b < kSubCount) return b;
  size_t rest = b - kSubCount;
  int shift = static_cast<int>(rest / kHalfCount) + 1;
  uint64_t sub = kHalfCount + rest % kHalfCount;
  return sub << shift;
}

uint64_t LatencyHistogram::bucket_high(size_t b) {
  if (b < kSubCount) return b;
  int shift = static_cast<int>((b - kSubCount) / kHalfCount) + 1;
  return bucket_low(b) + (uint64_t{1} << shift) - 1;
}

void LatencyHistogram::record(uint64_t v) {
  record_n(v, 1);
}

void LatencyHistogram::record_n(uint64_t v, uint64_t n) {
  if (n == 0) return;
  if (v > kMaxValue) {
    v = kMaxValue;
    saturated_ += n;
  }
  counts_[bucket_of(v)] += n;
  count_ += n;
  min_ = std::min(min_, v);
  max_ = std::max(max_, v);
  sum_ += static_cast<long double>(v) * n;
}

void LatencyHistogram::merge(const LatencyHistogram& o) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += o.counts_[i];
  count_ += o.count_;
  saturated_ += o.saturated_;
  min_ = std::min(min_, o.min_);
  max_ = std::max(max_, o.max_);
  sum_ += o.sum_;
}

void LatencyHistogram::reset() {
  *this = LatencyHistogram();
}

double LatencyHistogram::mean() const {
  return count_ ? static_cast<double>(sum_ / count_) : 0.0;
}

uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * count_));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      uint64_t mid = bucket_low(b) + (bucket_high(b) - bucket_low(b)) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  return max_;
}

}  // namespace pounce::bench
