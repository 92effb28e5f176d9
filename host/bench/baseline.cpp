#include "bench/baseline.h"

#include <string>

namespace pounce::bench {

using nlohmann::json;

namespace {

// The median of `metric` of the (workload, server) group, or < 0.
double group_median(const json& artifact, const std::string& workload,
                    const std::string& server, const char* metric) {
  if (!artifact.contains("groups")) return -1;
  for (const json& g : artifact["groups"]) {
    if (g.value("workload", "") != workload ||
        g.value("server", "") != server) {
      continue;
    }
    const json& m = g["metrics"];
    if (m.contains(metric) && m[metric].contains("median")) {
      return m[metric]["median"].get<double>();
    }
  }
  return -1;
}

double ratio_median(const json& artifact, const std::string& workload,
                    const std::string& peer) {
  if (!artifact.contains("ratios")) return -1;
  for (const json& r : artifact["ratios"]) {
    if (r.value("workload", "") == workload && r.value("peer", "") == peer) {
      if (!r.value("counts", true)) return -1;  // won with wrong answers
      return r["req_per_s"].value("median", -1.0);
    }
  }
  return -1;
}

}  // namespace

BaselineVerdict compare_with_baseline(const json& baseline,
                                      const json& current) {
  BaselineVerdict v;
  json checks = json::array();
  bool regressed = false;

  // TLS figures against cleartext ones (or new connections against
  // keep-alive, or HTTP/2 against HTTP/1.1) would show a "regression" that is
  // only the protocol. Artifacts from before these fields were cleartext
  // keep-alive.
  for (const char* field : {"transport", "connection_mode", "protocol"}) {
    const std::string f = field;
    const std::string fallback = f == "transport"  ? "http"
                                 : f == "protocol" ? "http/1.1"
                                                   : "keep-alive";
    std::string before = baseline.value(field, fallback);
    std::string now = current.value(field, fallback);
    if (before == now) continue;
    v.ok = false;
    v.record = {{"baseline_artifact_id", baseline.value("artifact_id", "")},
                {"baseline_git_sha", baseline.value("git_sha", "")},
                {"rule", "none"},
                {"limit", 0.0},
                {"checks", json::array()},
                {"regression", false},
                {"verdict", "incomparable"},
                {"why", std::string(field) + " differs: baseline " + before +
                            ", this run " + now}};
    return v;
  }

  // Rule 1: peer ratios present in both.
  if (current.contains("ratios")) {
    for (const json& r : current["ratios"]) {
      std::string workload = r.value("workload", "");
      std::string peer = r.value("peer", "");
      if (!r.value("counts", true)) continue;
      double now = r["req_per_s"].value("median", -1.0);
      double before = ratio_median(baseline, workload, peer);
      if (now <= 0 || before <= 0) continue;
      double change = now / before - 1;
      bool bad = change < -kRatioDropLimit;
      regressed = regressed || bad;
      checks.push_back({{"workload", workload},
                        {"peer", peer},
                        {"metric", "pounce/peer req_per_s median"},
                        {"baseline", before},
                        {"current", now},
                        {"change", change},
                        {"regression", bad}});
    }
  }
  std::string rule = "peer_ratio";
  double limit = kRatioDropLimit;

  // Rule 2: pounce's CPU per request.
  if (checks.empty()) {
    rule = "cpu_per_request";
    limit = kCpuRiseLimit;
    if (current.contains("groups")) {
      for (const json& g : current["groups"]) {
        if (g.value("server", "") != "pounce") continue;
        std::string workload = g.value("workload", "");
        double now =
            group_median(current, workload, "pounce", "cpu_us_per_req");
        double before =
            group_median(baseline, workload, "pounce", "cpu_us_per_req");
        if (now <= 0 || before <= 0) continue;
        double change = now / before - 1;
        bool bad = change > kCpuRiseLimit;
        regressed = regressed || bad;
        checks.push_back({{"workload", workload},
                          {"metric", "pounce cpu_us_per_req median"},
                          {"baseline", before},
                          {"current", now},
                          {"change", change},
                          {"regression", bad}});
      }
    }
  }
  if (checks.empty()) rule = "none";

  v.ok = !checks.empty() && !regressed;
  v.record = {{"baseline_artifact_id", baseline.value("artifact_id", "")},
              {"baseline_git_sha", baseline.value("git_sha", "")},
              {"rule", rule},
              {"limit", rule == "none" ? 0.0 : limit},
              {"checks", checks},
              {"regression", regressed},
              {"verdict", checks.empty() ? "incomparable"
                          : regressed    ? "regression"
                                         : "pass"}};
  return v;
}

}  // namespace pounce::bench
