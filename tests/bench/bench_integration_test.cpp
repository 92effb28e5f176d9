// `pounce-host bench` end to end: the real binary starts the real server,
// loads it for a second, and writes an artifact that must hold every field
// the PR/release evidence relies on. CompareRunsAgainstNginxAndH2o needs the
// nginx and h2o packages (`make deps`).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "host_process.h"

using nlohmann::json;
using pounce::test::CommandResult;
using pounce::test::host_binary;
using pounce::test::run_command;
using namespace std::chrono_literals;

namespace {

std::string temp_path(const std::string& suffix) {
  std::string path = "/tmp/bench-it-XXXXXX" + suffix;
  int fd = mkstemps(path.data(), static_cast<int>(suffix.size()));
  if (fd >= 0) close(fd);
  return path;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// A short hello run; `extra` is appended to the command.
CommandResult bench(std::vector<std::string> extra,
                    std::vector<std::string> env = {}) {
  std::vector<std::string> argv;
  if (!env.empty()) {
    argv.push_back("/usr/bin/env");
    argv.insert(argv.end(), env.begin(), env.end());
  }
  argv.push_back(host_binary());
  for (const char* a : {"bench", "--workload", "hello", "--duration", "1",
                        "--connections", "8", "--no-progress"}) {
    argv.push_back(a);
  }
  argv.insert(argv.end(), extra.begin(), extra.end());
  return run_command(argv, 120s);
}

// `pounce-host bench ARGS --no-progress` with an artifact, which it returns
// parsed (discarded when missing or broken).
json run_for_artifact(std::vector<std::string> args, CommandResult* result) {
  std::string out = temp_path(".json");
  std::vector<std::string> argv = {host_binary(), "bench"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"--no-progress", "--artifact-output"}) {
    argv.push_back(a);
  }
  argv.push_back(out);
  *result = run_command(argv, 120s);
  json a = read_json(out);
  unlink(out.c_str());
  return a;
}

// The first hello run, shared by the tests that only read its outputs.
class BenchRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    artifact_path_ = new std::string(temp_path(".json"));
    report_path_ = new std::string(temp_path(".svg"));
    result_ = new CommandResult(bench(
        {"--artifact-output", *artifact_path_, "--report", *report_path_}));
  }
  static void TearDownTestSuite() {
    unlink(artifact_path_->c_str());
    unlink(report_path_->c_str());
    delete artifact_path_;
    delete report_path_;
    delete result_;
  }
  static std::string* artifact_path_;
  static std::string* report_path_;
  static CommandResult* result_;
};

std::string* BenchRun::artifact_path_;
std::string* BenchRun::report_path_;
CommandResult* BenchRun::result_;

}  // namespace

TEST_F(BenchRun, HelloServesRequestsWithoutErrors) {
  ASSERT_EQ(result_->status, 0) << result_->out << result_->err;
  EXPECT_NE(result_->out.find("hello     pounce"), std::string::npos)
      << result_->out;
  json a = read_json(*artifact_path_);
  ASSERT_FALSE(a.is_discarded()) << "artifact is not JSON";
  ASSERT_EQ(a["samples"].size(), 1u);
  const json& s = a["samples"][0];
  EXPECT_GT(s["completed"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["errors"]["total"], 0);
  EXPECT_EQ(s["errors"]["socket"], 0);
  EXPECT_EQ(s["errors"]["non_2xx"], 0);
  // Every body was checked and right: all answers are good ones.
  EXPECT_EQ(s["errors"]["wrong_body"], 0);
  EXPECT_EQ(s["good"], s["completed"]);
  EXPECT_FALSE(a["summary"]["errors"].get<bool>());
}

TEST_F(BenchRun, ArtifactHoldsEveryField) {
  json a = read_json(*artifact_path_);
  ASSERT_FALSE(a.is_discarded());
  for (const char* key :
       {"schema",         "artifact_id", "created_at",  "git_sha",  "command",
        "server_command", "build",       "host",        "config",   "workload",
        "workers",        "duration_s",  "connections", "pipeline", "load_tool",
        "targets",        "comparison",  "samples",     "groups",   "ratios",
        "summary"}) {
    EXPECT_TRUE(a.contains(key)) << key;
  }
  for (const char* key :
       {"compiler", "compiler_version", "build_type", "flags"}) {
    EXPECT_TRUE(a["build"].contains(key)) << "build." << key;
  }
  for (const char* key : {"os", "kernel", "cpu_model", "cpu_count"}) {
    EXPECT_TRUE(a["host"].contains(key)) << "host." << key;
  }
  EXPECT_EQ(a["workload"], "hello");
  EXPECT_EQ(a["workers"], 1);
  EXPECT_EQ(a["duration_s"], 1.0);
  EXPECT_EQ(a["connections"], 8);
  EXPECT_EQ(a["pipeline"], 1);
  EXPECT_TRUE(a["load_tool"].contains("name"));
  EXPECT_TRUE(a["load_tool"].contains("version"));
  EXPECT_NE(a["command"].get<std::string>().find("bench --workload hello"),
            std::string::npos);
  EXPECT_NE(a["server_command"].get<std::string>().find("--no-access-log"),
            std::string::npos);
  EXPECT_NE(a["server_command"].get<std::string>().find("--port 0"),
            std::string::npos);

  const json& s = a["samples"][0];
  for (const char* key :
       {"workload", "server", "round", "req_per_s", "latency_us", "errors",
        "cpu_us_per_req", "peak_rss_kib"}) {
    EXPECT_TRUE(s.contains(key)) << "sample." << key;
  }
  // Figures that must agree with each other, not merely be positive (the
  // arithmetic itself is checked against known inputs in
  // load_generator_test.cpp, SampleOf).
  const json& lat = s["latency_us"];
  EXPECT_GT(lat["p50"].get<double>(), 0);
  EXPECT_LE(lat["p50"].get<double>(), lat["p95"].get<double>());
  EXPECT_LE(lat["p95"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["p99_9"].get<double>());
  EXPECT_LE(lat["p99_9"].get<double>(), lat["max"].get<double>());
  // Closed loop: one latency value per answer.
  EXPECT_EQ(lat["samples"], s["completed"]);
  EXPECT_NEAR(s["req_per_s"].get<double>() * s["elapsed_s"].get<double>(),
              s["good"].get<double>(), 1.0);
  // The window is the --duration, give or take a command's trip.
  EXPECT_NEAR(s["elapsed_s"].get<double>(), 1.0, 0.05);
  // A hello answer: the 13-byte body and a head of one to a few hundred
  // bytes; and a few µs of CPU per request, not ns and not ms.
  EXPECT_GT(s["response_bytes"].get<double>(), 13 + 38);
  EXPECT_LT(s["response_bytes"].get<double>(), 400);
  EXPECT_GT(s["cpu_us_per_req"].get<double>(), 0.5);
  EXPECT_LT(s["cpu_us_per_req"].get<double>(), 2000);
  // One worker with a few plugins: MiBs, not KiBs or GiBs.
  EXPECT_GT(s["peak_rss_kib"].get<uint64_t>(), 1024u);
  EXPECT_LT(s["peak_rss_kib"].get<uint64_t>(), 256u * 1024);

  ASSERT_EQ(a["groups"].size(), 1u);
  const json& g = a["groups"][0];
  for (const char* metric :
       {"req_per_s", "p99_us", "cpu_us_per_req", "peak_rss_kib"}) {
    for (const char* stat : {"min", "median", "p95", "max", "stddev"}) {
      EXPECT_TRUE(g["metrics"][metric].contains(stat)) << metric << "." << stat;
    }
  }
  // One round: the artifact must say that this proves nothing.
  EXPECT_TRUE(g["insufficient_evidence"].get<bool>());
  EXPECT_TRUE(a["summary"]["insufficient_evidence"].get<bool>());
}

TEST_F(BenchRun, ReportIsWellFormedSvgWithTheSeries) {
  std::ifstream in(*report_path_);
  std::string svg((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(svg.find("data-series=\"pounce\""), std::string::npos);
  if (system("python3 -c '' 2>/dev/null") != 0) GTEST_SKIP() << "no python3";
  std::string check =
      "python3 -c 'import sys, xml.etree.ElementTree as E; "
      "E.parse(sys.argv[1])' " +
      *report_path_;
  EXPECT_EQ(system(check.c_str()), 0);
}

TEST_F(BenchRun, DoctoredBaselineFailsTheRun) {
  json a = read_json(*artifact_path_);
  ASSERT_FALSE(a.is_discarded());
  // A baseline in which pounce needed a third of the CPU per request: this
  // run is then a +200% rise, far past the 20% limit.
  json& cpu = a["groups"][0]["metrics"]["cpu_us_per_req"];
  cpu["median"] = cpu["median"].get<double>() / 3;
  a["ratios"] = json::array();
  std::string baseline = temp_path(".json");
  std::string out = temp_path(".json");
  std::ofstream(baseline) << a.dump();
  CommandResult r =
      bench({"--compare-baseline", baseline, "--artifact-output", out});
  EXPECT_EQ(r.status, 4) << r.out << r.err;
  EXPECT_NE(r.err.find("REGRESSION"), std::string::npos) << r.err;
  json b = read_json(out);
  ASSERT_FALSE(b.is_discarded());
  EXPECT_EQ(b["baseline"]["rule"], "cpu_per_request");
  EXPECT_EQ(b["baseline"]["verdict"], "regression");
  unlink(baseline.c_str());
  unlink(out.c_str());
}

TEST(Bench, MissingPeersAreNamedAndTheRunCarriesOn) {
  std::string out = temp_path(".json");
  // nginx and h2o are looked up through PATH, so an empty PATH hides them
  // even on a machine that has them.
  CommandResult r = bench({"--compare", "nginx,h2o", "--artifact-output", out},
                          {"PATH=/nonexistent-dir"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("nginx not found in PATH"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("h2o not found in PATH"), std::string::npos) << r.err;
  json a = read_json(out);
  ASSERT_FALSE(a.is_discarded());
  ASSERT_EQ(a["comparison"]["targets"].size(), 2u);
  for (const json& t : a["comparison"]["targets"]) {
    EXPECT_FALSE(t["available"].get<bool>());
    EXPECT_NE(t["reason"].get<std::string>().find("not found"),
              std::string::npos);
  }
  EXPECT_EQ(a["samples"].size(), 1u);
  unlink(out.c_str());
}

// The --compare path for real: nginx and h2o (Debian packages `nginx` and
// `h2o`, installed by `make deps`) serve hello and json, every body is
// checked, and each ratio counts.
TEST(Bench, CompareRunsAgainstNginxAndH2o) {
  CommandResult r;
  json a = run_for_artifact({"--workload", "hello,json", "--duration", "1",
                             "--connections", "8", "--compare", "nginx,h2o"},
                            &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_FALSE(a.is_discarded());
  for (const json& t : a["comparison"]["targets"]) {
    ASSERT_TRUE(t["available"].get<bool>())
        << t["name"] << ": " << t.value("reason", "")
        << " (install the nginx and h2o packages: make deps)";
  }
  std::map<std::string, int> seen;
  for (const json& s : a["samples"]) {
    std::string who =
        s["workload"].get<std::string>() + " " + s["server"].get<std::string>();
    ++seen[who];
    EXPECT_EQ(s["errors"]["total"], 0) << who;
    EXPECT_EQ(s["good"], s["completed"]) << who;
    EXPECT_GT(s["completed"].get<uint64_t>(), 100u) << who;
    EXPECT_GT(s["cpu_us_per_req"].get<double>(), 0.5) << who;
    EXPECT_GT(s["response_bytes"].get<double>(), 13 + 38) << who;
  }
  for (const char* who : {"hello pounce", "hello nginx", "hello h2o",
                          "json pounce", "json nginx", "json h2o"}) {
    EXPECT_EQ(seen[who], 1) << who;
  }
  ASSERT_EQ(a["ratios"].size(), 4u);
  for (const json& ratio : a["ratios"]) {
    EXPECT_TRUE(ratio["counts"].get<bool>()) << ratio.dump();
    EXPECT_GT(ratio["req_per_s"]["median"].get<double>(), 0) << ratio.dump();
  }
  EXPECT_TRUE(a["summary"]["ratios_do_not_count"].empty());
  // Each server's response size is in the table, and what differs is said.
  EXPECT_NE(r.out.find("resp B"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NOT EQUIVALENT: json nginx"), std::string::npos)
      << r.out;
}

// A peer that answers every request with a fast 404 must not win a ratio:
// the table says the ratio does not count, and so does the exit status (5).
// The peer is a stand-in named nginx, first in PATH, which serves what a
// broken config would.
TEST(Bench, FastWrongAnswersDoNotCount) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no python3";
  std::string dir = temp_path("");
  unlink(dir.c_str());
  ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
  std::string fake = dir + "/nginx";
  std::ofstream(fake) << R"py(#!/usr/bin/python3
# A stand-in nginx: -v prints a version; otherwise the port is read from the
# config bench wrote (-c FILE) and every request gets a 404.
import re, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
if "-v" in sys.argv:
    print("nginx version: fake/404", file=sys.stderr)
    sys.exit(0)
conf = open(sys.argv[sys.argv.index("-c") + 1]).read()
port = int(re.search(r"listen 127\.0\.0\.1:(\d+)", conf).group(1))
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(404)
        self.send_header("Content-Length", "13")
        self.end_headers()
        self.wfile.write(b"Hello, World!")
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
)py";
  ASSERT_EQ(chmod(fake.c_str(), 0755), 0);
  std::string out = temp_path(".json");
  CommandResult r = bench({"--compare", "nginx", "--artifact-output", out},
                          {"PATH=" + dir + ":/usr/local/bin:/usr/bin:/bin"});
  EXPECT_EQ(r.status, 5) << r.out << r.err;
  EXPECT_NE(r.out.find("DOES NOT COUNT (nginx: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("RATIO DOES NOT COUNT: hello pounce/nginx"),
            std::string::npos)
      << r.out;
  json a = read_json(out);
  ASSERT_FALSE(a.is_discarded());
  ASSERT_EQ(a["ratios"].size(), 1u);
  EXPECT_FALSE(a["ratios"][0]["counts"].get<bool>());
  ASSERT_EQ(a["summary"]["ratios_do_not_count"].size(), 1u);
  for (const json& s : a["samples"]) {
    if (s["server"] != "nginx") continue;
    EXPECT_GT(s["errors"]["non_2xx"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["good"], 0);
    EXPECT_EQ(s["req_per_s"].get<double>(), 0.0);
  }
  unlink(out.c_str());
  unlink(fake.c_str());
  rmdir(dir.c_str());
}

TEST(Bench, SseWorkloadMeasuresEventsAndDeliveryLatency) {
  std::string plugin = pounce::test::plugin_path("sse");
  if (access(plugin.c_str(), R_OK) != 0) GTEST_SKIP() << "libsse.so not built";
  CommandResult r;
  json a = run_for_artifact({"--workload", "sse", "--duration", "1",
                             "--connections", "4", "--sse-interval-ms", "10"},
                            &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_FALSE(a.is_discarded());
  const json& s = a["samples"][0];
  // 4 streams at one event per 10 ms: 400 events/s at most. Fewer when
  // timers fire late on a busy machine, never more.
  EXPECT_GT(s["req_per_s"].get<double>(), 200);
  EXPECT_LT(s["req_per_s"].get<double>(), 420);
  // Every event was in the plugin's format and in sequence.
  EXPECT_EQ(s["errors"]["total"], 0);
  EXPECT_EQ(s["errors"]["wrong_body"], 0);
  EXPECT_EQ(s["good"], s["completed"]);
  const json& lat = s["latency_us"];
  EXPECT_GT(lat["p50"].get<double>(), 0);
  EXPECT_LE(lat["p50"].get<double>(), lat["p99"].get<double>());
  EXPECT_LE(lat["p99"].get<double>(), lat["max"].get<double>());
  // About 400 events: the p99.9 is flagged as resting on too few values.
  EXPECT_TRUE(lat["p99_9_thin"].get<bool>());
  EXPECT_NE(r.out.find("*: fewer than 10,000 latency values"),
            std::string::npos)
      << r.out;
}

// Every WebSocket row echoes messages of the right size, without an error,
// plain and compressed.
TEST(Bench, WebSocketWorkloadsEchoWithoutErrors) {
  CommandResult r;
  json a = run_for_artifact({"--workload", "ws", "--duration", "0.5",
                             "--connections", "4", "--pipeline", "2"},
                            &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_FALSE(a.is_discarded());
  std::vector<std::string> seen;
  for (const json& s : a["samples"]) {
    seen.push_back(s["workload"].get<std::string>());
    EXPECT_GT(s["req_per_s"].get<double>(), 100) << seen.back();
    EXPECT_EQ(s["errors"]["total"], 0) << seen.back();
    // Every echo was the message sent, byte for byte (hashed).
    EXPECT_EQ(s["errors"]["wrong_body"], 0) << seen.back();
    EXPECT_EQ(s["good"], s["completed"]) << seen.back();
    EXPECT_GT(s["latency_us"]["p50"].get<double>(), 0) << seen.back();
    EXPECT_LE(s["latency_us"]["p50"].get<double>(),
              s["latency_us"]["p99"].get<double>())
        << seen.back();
    EXPECT_GT(s["load_cpu_percent"].get<double>(), 0) << seen.back();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ws-64", "ws-512", "ws-64-deflate",
                                            "ws-512-deflate"}));
  EXPECT_NE(r.out.find(" msg"), std::string::npos) << r.out;
}

TEST(Bench, RejectsUnknownOptions) {
  CommandResult r = run_command({host_binary(), "bench", "--bogus"}, 30s);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--help"), std::string::npos) << r.err;
}
