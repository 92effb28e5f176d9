#include "metrics/metrics.h"

#include <unordered_map>

namespace pounce::metrics {

namespace {

// Family ids: one per Family ever made in the process, so that a thread's
// shard map never confuses a family with one made later at its address.
std::atomic<uint64_t> g_next_family_id{1};  // protects nothing else

// Label values joined with a byte no label value can hold unescaped in the
// exposition format's meaning of a key ('\0'); values themselves may hold
// any bytes, so the length goes first.
void key_of(const std::string_view* labels, size_t count, std::string* key) {
  key->clear();
  for (size_t i = 0; i < count; ++i) {
    const uint32_t n = static_cast<uint32_t>(labels[i].size());
    key->append(reinterpret_cast<const char*>(&n), sizeof n);
    key->append(labels[i]);
  }
}

std::vector<std::string> labels_of(std::string_view key) {
  std::vector<std::string> out;
  while (key.size() >= sizeof(uint32_t)) {
    uint32_t n;
    std::memcpy(&n, key.data(), sizeof n);
    key.remove_prefix(sizeof n);
    out.emplace_back(key.substr(0, n));
    key.remove_prefix(n);
  }
  return out;
}

}  // namespace

Buckets Buckets::durations() {
  return {{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
           0.1, 0.25, 0.5, 1, 2.5, 5, 10}};
}

// One thread's series of one family. The owning thread reads the map
// without a lock (it is the map's only writer) and takes the mutex only to
// insert; the scraper takes it to walk the map.
struct Family::Shard {
  // Protects the map's structure against a concurrent scrape (the cells
  // themselves are single-writer atomics).
  std::mutex mutex;
  std::map<std::string, std::unique_ptr<SeriesCells>, std::less<>> series;
};

Family::Family(std::string name, std::string help, Type type,
               std::vector<std::string> label_names, Buckets buckets)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)),
      bounds_(std::move(buckets)),
      id_(g_next_family_id.fetch_add(1, std::memory_order_relaxed)) {}

Family::~Family() = default;

Family::Shard& Family::shard() {
  // This thread's shards, by family id. A reference is kept here as well
  // as in the family, so a thread may outlive a family (reload) safely.
  thread_local std::unordered_map<uint64_t, std::shared_ptr<Shard>> mine;
  auto it = mine.find(id_);
  if (it != mine.end()) return *it->second;
  auto shard = std::make_shared<Shard>();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shards_.push_back(shard);
  }
  mine.emplace(id_, shard);
  return *shard;
}

SeriesCells& Family::cells(const std::string_view* labels) {
  thread_local std::string key;
  key_of(labels, label_names_.size(), &key);
  Shard& s = shard();
  auto it = s.series.find(std::string_view(key));
  if (it != s.series.end()) return *it->second;
  if (s.series.size() >= kMaxSeriesPerThread) {
    // Counted nowhere: a sink that no scrape reads.
    thread_local std::unique_ptr<SeriesCells> sink;
    if (!sink || sink->buckets.size() < bounds_.bounds.size() + 1) {
      sink = std::make_unique<SeriesCells>(bounds_.bounds.size());
    }
    dropped_.store(true, std::memory_order_relaxed);
    return *sink;
  }
  auto cells = std::make_unique<SeriesCells>(bounds_.bounds.size());
  SeriesCells& ref = *cells;
  std::lock_guard<std::mutex> lock(s.mutex);
  s.series.emplace(key, std::move(cells));
  return ref;
}

void Family::add(const std::string_view* labels, double delta) {
  SeriesCells& c = cells(labels);
  if (type_ == Type::Counter) {
    if (delta < 0) return;  // a counter never goes down
    c.value.add_double(delta);
  } else {
    c.value.add_double(delta);
  }
}

void Family::set(const std::string_view* labels, double value) {
  // A gauge set from several threads: each thread's last value is kept
  // and a scrape adds them, so a gauge is meant to be set from one thread
  // (or added to from many). Documented in pounce.h.
  cells(labels).value.set_double(value);
}

void Family::observe(const std::string_view* labels, double value) {
  SeriesCells& c = cells(labels);
  size_t i = 0;
  const auto& b = bounds_.bounds;
  while (i < b.size() && value > b[i]) ++i;
  c.buckets[i].add(1);
  c.sum.add_double(value);
  c.count.add(1);
}

std::vector<SeriesValue> Family::collect() const {
  std::map<std::string, SeriesValue, std::less<>> merged;
  std::vector<std::shared_ptr<Shard>> shards;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shards = shards_;
  }
  for (const auto& shard : shards) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    for (const auto& [key, cells] : shard->series) {
      auto [it, fresh] = merged.try_emplace(key);
      SeriesValue& v = it->second;
      if (fresh) {
        v.labels = labels_of(key);
        v.buckets.assign(bounds_.bounds.size() + 1, 0);
      }
      v.value += cells->value.get_double();
      for (size_t i = 0; i < cells->buckets.size(); ++i) {
        v.buckets[i] += cells->buckets[i].get();
      }
      v.sum += cells->sum.get_double();
      v.count += cells->count.get();
    }
  }
  std::vector<SeriesValue> out;
  out.reserve(merged.size());
  for (auto& [key, value] : merged) out.push_back(std::move(value));
  return out;
}

bool valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool valid_label_name(std::string_view name) {
  if (name.find(':') != std::string_view::npos) return false;
  if (name.substr(0, 2) == "__") return false;
  return valid_metric_name(name);
}

}  // namespace pounce::metrics
