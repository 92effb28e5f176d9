// --compare-baseline rules, on hand-made artifacts.
#include "bench/baseline.h"

#include <gtest/gtest.h>

using nlohmann::json;
using pounce::bench::compare_with_baseline;

namespace {

json artifact(double ratio, double cpu, bool with_peer) {
  json a;
  a["artifact_id"] = "test";
  a["groups"] =
      json::array({{{"workload", "hello"},
                    {"server", "pounce"},
                    {"metrics", {{"cpu_us_per_req", {{"median", cpu}}}}}}});
  a["ratios"] = json::array();
  if (with_peer) {
    a["ratios"].push_back({{"workload", "hello"},
                           {"peer", "nginx"},
                           {"req_per_s", {{"median", ratio}}}});
  }
  return a;
}

}  // namespace

TEST(Baseline, PeerRatioWithinTenPercentPasses) {
  auto v =
      compare_with_baseline(artifact(1.00, 5, true), artifact(0.91, 50, true));
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.record["rule"], "peer_ratio");
  EXPECT_EQ(v.record["verdict"], "pass");
}

TEST(Baseline, PeerRatioDropOverTenPercentFails) {
  auto v =
      compare_with_baseline(artifact(1.00, 5, true), artifact(0.89, 5, true));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.record["rule"], "peer_ratio");
  EXPECT_EQ(v.record["verdict"], "regression");
}

TEST(Baseline, WithoutACommonPeerCpuPerRequestDecides) {
  auto ok =
      compare_with_baseline(artifact(1, 10, true), artifact(0, 11.9, false));
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(ok.record["rule"], "cpu_per_request");
  auto bad =
      compare_with_baseline(artifact(1, 10, false), artifact(0, 12.1, false));
  EXPECT_FALSE(bad.ok);
  EXPECT_EQ(bad.record["rule"], "cpu_per_request");
  EXPECT_EQ(bad.record["checks"][0]["regression"], true);
}

TEST(Baseline, NothingInCommonIsIncomparableAndFails) {
  json empty = {{"groups", json::array()}, {"ratios", json::array()}};
  auto v = compare_with_baseline(empty, artifact(1, 5, true));
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.record["rule"], "none");
  EXPECT_EQ(v.record["verdict"], "incomparable");
}
