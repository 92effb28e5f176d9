#include "bench/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace pounce::bench;

namespace {

ParseOutcome parse(std::vector<std::string> args, BenchOptions* o,
                   std::string* text) {
  args.insert(args.begin(), "bench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_bench_options(static_cast<int>(argv.size()), argv.data(), o,
                             text);
}

}  // namespace

TEST(BenchOptions, DefaultsAreOneHelloRun) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({}, &o, &text), ParseOutcome::Run) << text;
  EXPECT_EQ(o.workloads, std::vector<std::string>{"hello"});
  EXPECT_EQ(o.repeat, 1u);
  EXPECT_EQ(o.pipeline, 1u);
}

TEST(BenchOptions, AllMeansEveryImplementedWorkload) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--workload", "all"}, &o, &text), ParseOutcome::Run);
  EXPECT_EQ(o.workloads, (std::vector<std::string>{
                             "hello", "json", "echo", "big", "sse", "ws-64",
                             "ws-512", "ws-64-deflate", "ws-512-deflate"}));
}

TEST(BenchOptions, SseStreamsAreStaggeredUnlessBurstIsAsked) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--workload", "sse"}, &o, &text), ParseOutcome::Run);
  EXPECT_FALSE(o.sse_burst);
  ASSERT_EQ(parse({"--workload", "sse", "--sse-burst"}, &o, &text),
            ParseOutcome::Run);
  EXPECT_TRUE(o.sse_burst);
}

TEST(BenchOptions, WsIsTheFourWebSocketRows) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--workload", "hello,ws,ws-512"}, &o, &text),
            ParseOutcome::Run)
      << text;
  EXPECT_EQ(o.workloads,
            (std::vector<std::string>{"hello", "ws-64", "ws-512",
                                      "ws-64-deflate", "ws-512-deflate"}));
}

TEST(BenchOptions, TheContractFlags) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--workload",
                   "json",
                   "--workers",
                   "2",
                   "--duration",
                   "1.5",
                   "--connections",
                   "8",
                   "--pipeline",
                   "16",
                   "--rate",
                   "1000",
                   "--repeat",
                   "3",
                   "--compare",
                   "nginx,h2o",
                   "--artifact-output",
                   "a.json",
                   "--compare-baseline",
                   "b.json",
                   "--report",
                   "r.svg"},
                  &o, &text),
            ParseOutcome::Run)
      << text;
  EXPECT_EQ(o.workers, 2u);
  EXPECT_EQ(o.duration_s, 1.5);
  EXPECT_EQ(o.connections, 8u);
  EXPECT_EQ(o.pipeline, 16u);
  EXPECT_EQ(o.rate, 1000);
  EXPECT_EQ(o.repeat, 3u);
  EXPECT_EQ(o.compare, (std::vector<std::string>{"nginx", "h2o"}));
  EXPECT_EQ(o.artifact_output, "a.json");
  EXPECT_EQ(o.compare_baseline, "b.json");
  EXPECT_EQ(o.report, "r.svg");
}

TEST(BenchOptions, RejectsNonsense) {
  BenchOptions o;
  std::string text;
  EXPECT_EQ(parse({"--workload", "nope"}, &o, &text), ParseOutcome::Error);
  EXPECT_EQ(parse({"--compare", "apache"}, &o, &text), ParseOutcome::Error);
  EXPECT_EQ(parse({"--repeat", "0"}, &o, &text), ParseOutcome::Error);
  EXPECT_EQ(parse({"--duration", "0"}, &o, &text), ParseOutcome::Error);
  EXPECT_EQ(parse({"stray"}, &o, &text), ParseOutcome::Error);
}

TEST(BenchOptions, H2TakesStreamsAndRefusesHttp1OnlyModes) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--h2"}, &o, &text), ParseOutcome::Run) << text;
  EXPECT_TRUE(o.h2);
  EXPECT_EQ(o.streams, 32u);
  ASSERT_EQ(parse({"--h2", "--tls", "--streams", "8"}, &o, &text),
            ParseOutcome::Run)
      << text;
  EXPECT_EQ(o.streams, 8u);
  EXPECT_TRUE(o.tls);
  for (std::vector<std::string> bad :
       {std::vector<std::string>{"--streams", "8"},
        {"--h2", "--streams", "0"},
        {"--h2", "--new-conn"},
        {"--h2", "--pipeline", "4"},
        {"--h2", "--rate", "1000"},
        {"--h2", "--tls", "--tls-version", "1.2"}}) {
    EXPECT_EQ(parse(bad, &o, &text), ParseOutcome::Error) << bad.back();
  }
}

TEST(BenchOptions, IdleIsNamedOnlyNeverPartOfAll) {
  BenchOptions o;
  std::string text;
  ASSERT_EQ(parse({"--workload", "all"}, &o, &text), ParseOutcome::Run);
  for (const std::string& w : o.workloads) EXPECT_NE(w, "idle");
  ASSERT_EQ(parse({"--workload", "idle"}, &o, &text), ParseOutcome::Run);
  EXPECT_EQ(o.workloads, std::vector<std::string>{"idle"});
}
