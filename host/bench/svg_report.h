// --report FILE.svg: a self-contained chart (no scripts, fonts or links)
// that renders in any browser. Top: grouped bars of req/s per workload per
// server, the bar at the median and a whisker from min to max over the
// rounds. Bottom: latency percentiles (p50..p99.9, log scale), one small
// panel per workload, one line per server.
#pragma once

#include <string>

#include "bench/run_record.h"

namespace pounce::bench {

std::string render_svg(const RunRecord& run, const std::string& title);

}  // namespace pounce::bench
