#include "metrics/plugin_metrics.h"

#include <cstring>

namespace pounce::metrics {

namespace {

constexpr size_t kMaxLabels = 8;
constexpr size_t kMaxBuckets = 32;

}  // namespace

PluginMetrics& PluginMetrics::instance() {
  static PluginMetrics* registry = new PluginMetrics();  // never destroyed:
  // plugin threads may update metrics while the process exits
  return *registry;
}

int PluginMetrics::define(std::string_view mount,
                          const pounce_metric_def_t& def, pounce_metric_t** out,
                          std::string* error) {
  if (def.size < sizeof(pounce_metric_def_t)) {
    *error = "pounce_metric_def_t.size is smaller than the 1.1 struct";
    return POUNCE_ERR_INVALID;
  }
  if (!def.name || !valid_metric_name(def.name)) {
    *error =
        "invalid metric name '" + std::string(def.name ? def.name : "") + "'";
    return POUNCE_ERR_INVALID;
  }
  const std::string name = def.name;
  if (name.rfind("pounce_", 0) == 0) {
    *error = "metric name " + name + ": the pounce_ prefix is the host's";
    return POUNCE_ERR_INVALID;
  }
  Type type;
  // The plugin may pass any int: read it as one (loading a C++ enum out of
  // its range is undefined behaviour).
  int raw_type;
  static_assert(sizeof raw_type == sizeof def.type);
  std::memcpy(&raw_type, &def.type, sizeof raw_type);
  switch (raw_type) {
    case POUNCE_METRIC_COUNTER:
      type = Type::Counter;
      break;
    case POUNCE_METRIC_GAUGE:
      type = Type::Gauge;
      break;
    case POUNCE_METRIC_HISTOGRAM:
      type = Type::Histogram;
      break;
    default:
      *error = "metric " + name + ": unknown type";
      return POUNCE_ERR_INVALID;
  }
  if (def.label_count > kMaxLabels || (def.label_count && !def.label_names)) {
    *error = "metric " + name + ": at most 8 label names";
    return POUNCE_ERR_INVALID;
  }
  std::vector<std::string> labels;
  for (size_t i = 0; i < def.label_count; ++i) {
    const char* l = def.label_names[i];
    if (!l || !valid_label_name(l) || std::string_view(l) == "mount" ||
        std::string_view(l) == "le") {
      *error = "metric " + name + ": invalid label name '" +
               std::string(l ? l : "") + "'";
      return POUNCE_ERR_INVALID;
    }
    labels.emplace_back(l);
  }
  std::vector<double> bounds;
  if (type == Type::Histogram) {
    if (def.bucket_count == 0) {
      bounds = Buckets::durations().bounds;
    } else {
      if (!def.buckets || def.bucket_count > kMaxBuckets) {
        *error = "metric " + name + ": 1 to 32 buckets";
        return POUNCE_ERR_INVALID;
      }
      for (size_t i = 0; i < def.bucket_count; ++i) {
        const double b = def.buckets[i];
        if (!(b == b) || (i > 0 && !(b > bounds.back()))) {
          *error = "metric " + name + ": buckets must ascend";
          return POUNCE_ERR_INVALID;
        }
        bounds.push_back(b);
      }
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, fresh] = names_.try_emplace(name);
  Name& n = it->second;
  if (fresh) {
    n.type = type;
    n.help = def.help ? def.help : "";
    n.label_names = labels;
    n.bounds = bounds;
  } else if (n.type != type || n.label_names != labels || n.bounds != bounds) {
    *error = "metric " + name +
             " is already defined with another type, labels or buckets";
    return POUNCE_ERR_INVALID;
  }
  const std::string key(mount);
  auto m = n.mounts.find(key);
  if (m == n.mounts.end()) {
    auto family =
        std::make_unique<Family>(name, n.help, type, labels, Buckets{bounds});
    auto handle = std::make_unique<pounce_metric>();
    handle->family = family.get();
    handle->mount = key;
    handle->type = static_cast<pounce_metric_type_t>(raw_type);
    handle->label_count = labels.size();
    handle->name = name;
    n.families.emplace(key, std::move(family));
    m = n.mounts.emplace(key, std::move(handle)).first;
  }
  *out = m->second.get();
  return POUNCE_OK;
}

void PluginMetrics::write(TextWriter& w) const {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& [name, n] : names_) {
    w.family(name, n.help, n.type);
    for (const auto& [mount, family] : n.families) {
      w.write(*family, {"mount"}, {mount}, /*header=*/false);
    }
  }
}

void PluginMetrics::reset_for_tests() {
  std::lock_guard<std::mutex> lock(mutex_);
  names_.clear();
}

}  // namespace pounce::metrics
