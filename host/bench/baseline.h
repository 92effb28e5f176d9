// --compare-baseline: is this run a regression against an older artifact?
//
// Absolute req/s on a shared machine drifts by more than any regression we
// care about, so only figures that are stable across runs are compared:
//   1. "peer_ratio": when both artifacts measured the same peer on the same
//      workload, the median pounce/peer req/s ratio. A drop of more than
//      10% fails. The peer ran in the same rounds, so machine drift cancels.
//   2. "cpu_per_request": otherwise, pounce's median server CPU µs per
//      request. A rise of more than 20% fails (CPU per request moves far
//      less with load on the other core than throughput does).
// Baselines with nothing in common are "incomparable", which fails too: a
// gate that passes because it checked nothing is worse than none.
#pragma once

#include <nlohmann/json.hpp>

namespace pounce::bench {

constexpr double kRatioDropLimit = 0.10;
constexpr double kCpuRiseLimit = 0.20;

struct BaselineVerdict {
  bool ok = false;        // no regression, and something was compared
  nlohmann::json record;  // goes into the new artifact as "baseline"
};

BaselineVerdict compare_with_baseline(const nlohmann::json& baseline,
                                      const nlohmann::json& current);

}  // namespace pounce::bench
