#include "plugin/metrics_api.h"

#include <string>
#include <string_view>

#include "log/logger.h"
#include "metrics/plugin_metrics.h"

namespace pounce {

namespace {

int api_metric_define(const struct pounce_init_args* args,
                      const pounce_metric_def_t* def, pounce_metric_t** out) {
  if (!args || !def || !out) return POUNCE_ERR_INVALID;
  const std::string_view mount(
      args->mount_prefix.data ? args->mount_prefix.data : "",
      args->mount_prefix.len);
  std::string error;
  int rc = POUNCE_ERR_NOMEM;
  try {
    rc = metrics::PluginMetrics::instance().define(mount, *def, out, &error);
  } catch (const std::bad_alloc&) {
    error = "out of memory";
  }
  if (rc != POUNCE_OK) {
    LOG_ERROR("plugin at %.*s: metric_define: %s",
              static_cast<int>(mount.size()), mount.data(), error.c_str());
  }
  return rc;
}

// The label values as views, checked against the definition.
bool labels_of(const pounce_metric_t* m, const pounce_str_t* labels,
               size_t count, std::string_view* out) {
  if (count != m->label_count || (count && !labels)) return false;
  for (size_t i = 0; i < count; ++i) {
    out[i] = std::string_view(labels[i].data ? labels[i].data : "",
                              labels[i].data ? labels[i].len : 0);
  }
  return true;
}

void note_dropped(pounce_metric_t* m) {
  // Logged once per metric and mount: a plugin that uses ids as label
  // values would otherwise fill the log as it fills the table.
  thread_local const pounce_metric_t* last = nullptr;
  if (last == m) return;
  last = m;
  LOG_WARN(
      "plugin at %s: metric %s has %zu series on one thread; new label "
      "values are dropped",
      m->mount.c_str(), m->name.c_str(), metrics::Family::kMaxSeriesPerThread);
}

template <typename Update>
int update(pounce_metric_t* m, const pounce_str_t* labels, size_t count,
           pounce_metric_type_t want_a, pounce_metric_type_t want_b,
           Update&& fn) {
  if (!m || (m->type != want_a && m->type != want_b)) return POUNCE_ERR_INVALID;
  std::string_view values[8];
  if (!labels_of(m, labels, count, values)) return POUNCE_ERR_INVALID;
  try {
    const bool dropped_before = m->family->dropped_series();
    fn(values);
    if (!dropped_before && m->family->dropped_series()) note_dropped(m);
  } catch (const std::bad_alloc&) {
    return POUNCE_ERR_NOMEM;
  }
  return POUNCE_OK;
}

int api_metric_add(pounce_metric_t* m, const pounce_str_t* labels, size_t count,
                   double value) {
  if (m && m->type == POUNCE_METRIC_COUNTER && !(value >= 0)) {
    return POUNCE_ERR_INVALID;
  }
  return update(m, labels, count, POUNCE_METRIC_COUNTER, POUNCE_METRIC_GAUGE,
                [&](const std::string_view* v) { m->family->add(v, value); });
}

int api_metric_set(pounce_metric_t* m, const pounce_str_t* labels, size_t count,
                   double value) {
  return update(m, labels, count, POUNCE_METRIC_GAUGE, POUNCE_METRIC_GAUGE,
                [&](const std::string_view* v) { m->family->set(v, value); });
}

int api_metric_observe(pounce_metric_t* m, const pounce_str_t* labels,
                       size_t count, double value) {
  return update(
      m, labels, count, POUNCE_METRIC_HISTOGRAM, POUNCE_METRIC_HISTOGRAM,
      [&](const std::string_view* v) { m->family->observe(v, value); });
}

}  // namespace

void fill_metrics_api(pounce_host_api_t* t) {
  t->metric_define = api_metric_define;
  t->metric_add = api_metric_add;
  t->metric_set = api_metric_set;
  t->metric_observe = api_metric_observe;
}

}  // namespace pounce
