// Plugin-defined metrics (ABI 1.1: metric_define, metric_add, metric_set,
// metric_observe). One process-wide registry: a metric name is one
// Prometheus family, with a series set per mount (the leading `mount`
// label). Defining a name again with the same type, labels and buckets (a
// reload, or the same plugin at a second mount) continues its series, so
// counters survive reloads; another shape under the same name is refused.
#pragma once

#include <pounce/pounce.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"
#include "metrics/prometheus.h"

// The opaque handle of pounce.h: one metric of one mount.
struct pounce_metric {
  pounce::metrics::Family* family;
  std::string mount;
  pounce_metric_type_t type;
  size_t label_count;
  std::string name;  // for the log line about dropped series
};

namespace pounce::metrics {

class PluginMetrics {
 public:
  static PluginMetrics& instance();

  // metric_define for `mount`. On error, returns POUNCE_ERR_INVALID (or
  // POUNCE_ERR_NOMEM) with the reason in *error.
  int define(std::string_view mount, const pounce_metric_def_t& def,
             pounce_metric_t** out, std::string* error);

  // Appends every plugin metric to `w` (the /metrics scrape; any thread).
  void write(TextWriter& w) const;

  // Forgets every metric (tests).
  void reset_for_tests();

 private:
  struct Name {
    Type type;
    std::string help;
    std::vector<std::string> label_names;
    std::vector<double> bounds;
    // Per mount: its series. Never removed (a mount that goes away at a
    // reload keeps its last counts, as a Prometheus target's series do
    // until it restarts); bounded by the mounts ever configured.
    std::map<std::string, std::unique_ptr<pounce_metric>> mounts;
    std::map<std::string, std::unique_ptr<Family>> families;
  };
  // Protects names_: taken by metric_define (init, main thread) and by a
  // scrape; never by an update.
  mutable std::mutex mutex_;
  std::map<std::string, Name, std::less<>> names_;
};

}  // namespace pounce::metrics
