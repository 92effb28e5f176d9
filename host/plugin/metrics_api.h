// The ABI 1.1 metric calls of the host table (metric_define, metric_add,
// metric_set, metric_observe), over metrics::PluginMetrics.
#pragma once

#include <pounce/pounce.h>

namespace pounce {

void fill_metrics_api(pounce_host_api_t* table);

}  // namespace pounce
