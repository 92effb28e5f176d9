// Metrics without a shared atomic per update (issue 14 §2): every thread
// that counts writes only its own cells, and a scrape sums them.
//
// A Cell has one writer (the thread that owns it) and any number of
// readers (the scraper). The writer's relaxed load and store compile to
// plain moves on x86-64 (no lock prefix, no cache line shared with another
// writer); the reader may see a value one update old, never a torn one.
//
// Two kinds of owners:
//  - the host's loops, which count requests, bytes and so on into a fixed
//    layout the host knows at compile time (host metrics, the caller's
//    struct of Cells);
//  - any thread at all, for plugin-defined metrics: a Family is defined
//    once (name, help, type, label names, buckets), and each thread that
//    updates it gets its own Shard the first time, registered under the
//    family's mutex once; after that an update is a lookup in the
//    thread's own map and a store.
//
// Series are keyed by their label values. A scrape merges the shards of
// every thread, so a thread that exits leaves its counts behind (a counter
// never goes backwards).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pounce::metrics {

class Cell {
 public:
  // The owning thread only.
  void add(uint64_t delta) {
    value_.store(value_.load(std::memory_order_relaxed) + delta,
                 std::memory_order_relaxed);
  }
  void set(uint64_t value) { value_.store(value, std::memory_order_relaxed); }
  void add_double(double delta) { set_double(get_double() + delta); }
  void set_double(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    set(bits);
  }
  // Any thread.
  uint64_t get() const { return value_.load(std::memory_order_relaxed); }
  double get_double() const {
    const uint64_t bits = get();
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
  }

 private:
  // Single writer (the owning thread), relaxed readers (the scraper): see
  // the file comment.
  std::atomic<uint64_t> value_{0};
};

enum class Type : uint8_t { Counter, Gauge, Histogram };

// Fixed histogram buckets: upper bounds, ascending; +Inf is implied.
struct Buckets {
  std::vector<double> bounds;
  // Request durations in seconds, from 100 µs to 10 s.
  static Buckets durations();
};

// One thread's cells of one series. Counters and gauges use `value` (a
// double's bits: plugins may count fractions, and set gauges to any
// value); histograms use `buckets` (one per bound, and +Inf), `sum` (a
// double) and `count`.
struct SeriesCells {
  explicit SeriesCells(size_t bucket_count) : buckets(bucket_count + 1) {}
  Cell value;
  std::vector<Cell> buckets;
  Cell sum;  // a double
  Cell count;
};

// The scrape's view of one series: every shard's cells merged.
struct SeriesValue {
  std::vector<std::string> labels;  // values, in the family's label order
  double value = 0;                 // counter or gauge
  std::vector<uint64_t> buckets;    // histogram: per bucket, not cumulative
  double sum = 0;
  uint64_t count = 0;
};

class Family {
 public:
  Family(std::string name, std::string help, Type type,
         std::vector<std::string> label_names, Buckets buckets = {});
  ~Family();
  Family(const Family&) = delete;
  Family& operator=(const Family&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  Type type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  const std::vector<double>& bounds() const { return bounds_.bounds; }

  // Updates from any thread; `labels` has one value per label name (the
  // caller checked the count). Counters take only non-negative deltas.
  void add(const std::string_view* labels, double delta);
  void set(const std::string_view* labels, double value);      // gauges
  void observe(const std::string_view* labels, double value);  // histograms

  // Every series, merged over the shards (any thread).
  std::vector<SeriesValue> collect() const;

  // A thread keeps at most this many series of one family; updates of
  // further label values are dropped (label values are for small sets).
  static constexpr size_t kMaxSeriesPerThread = 10000;
  // Whether an update was ever dropped for that reason (any thread).
  bool dropped_series() const {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  struct Shard;
  SeriesCells& cells(const std::string_view* labels);
  Shard& shard();

  const std::string name_;
  const std::string help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const Buckets bounds_;
  // Identifies this family in the threads' shard maps: families are made
  // and destroyed on reload, so a thread's map is keyed by this id, never
  // by an address that could be reused.
  const uint64_t id_;
  // Protects shards_ (the list, not the cells): taken when a thread makes
  // its shard and when a scrape walks them.
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<Shard>> shards_;
  // Set once when a thread's series hit kMaxSeriesPerThread (so that the
  // caller logs it once); no ordering with anything else.
  std::atomic<bool> dropped_{false};
};

// Checks a metric or label name (Prometheus: [a-zA-Z_:][a-zA-Z0-9_:]*, and
// labels without ':' and not starting with "__").
bool valid_metric_name(std::string_view name);
bool valid_label_name(std::string_view name);

}  // namespace pounce::metrics
