// An HDR-style latency histogram: log-linear buckets with a fixed relative
// precision, so that 1 µs and 10 minutes are both recorded to within ~0.4%
// in a few tens of KiB, and two histograms merge by adding their counts.
//
// Not thread-safe: each load thread records into its own, and the run merges
// them afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pounce::bench {

class LatencyHistogram {
 public:
  // Values are nanoseconds. Anything above kMaxValue (about 73 minutes) is
  // clamped to it and counted in `saturated()`.
  static constexpr uint64_t kMaxValue = (uint64_t{1} << 42) - 1;

  LatencyHistogram();

  void record(uint64_t value_ns);
  void record_n(uint64_t value_ns, uint64_t count);
  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t saturated() const { return saturated_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const;
  // The value at quantile q in [0, 1]: the midpoint of the bucket that holds
  // the ceil(q * count)-th smallest value, clamped to [min, max]. 0 when
  // empty.
  uint64_t quantile(double q) const;

  // Exposed for tests: the bucket a value lands in, and its bounds.
  static size_t bucket_of(uint64_t value);
  static uint64_t bucket_low(size_t bucket);
  static uint64_t bucket_high(size_t bucket);  // inclusive
  static size_t bucket_count();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t saturated_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;
};

}  // namespace pounce::bench
