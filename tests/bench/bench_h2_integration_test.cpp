// `pounce-host bench --h2` end to end: the real binary starts pounce-host,
// drives it with h2load over h2c (prior knowledge) and over TLS (ALPN h2),
// and must print a req/s figure, exit 0 and record the protocol. Workloads
// that h2load cannot drive are reported as skipped, with the reason. The
// idle workload gives a memory figure per idle HTTP/2 connection.
// Needs h2load (Debian nghttp2-client, in `make deps`).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "host_process.h"

using nlohmann::json;
using pounce::test::CommandResult;
using pounce::test::host_binary;
using pounce::test::run_command;
using namespace std::chrono_literals;

namespace {

bool have_h2load() {
  return system("command -v h2load >/dev/null 2>&1") == 0;
}

std::string temp_path() {
  std::string path = "/tmp/bench-h2-it-XXXXXX.json";
  int fd = mkstemps(path.data(), 5);
  if (fd >= 0) close(fd);
  return path;
}

// `pounce-host bench --h2 ARGS --no-progress` with an artifact.
json bench_h2(std::vector<std::string> args, CommandResult* result) {
  std::string out = temp_path();
  std::vector<std::string> argv = {host_binary(), "bench", "--h2"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* a : {"--no-progress", "--artifact-output"}) {
    argv.push_back(a);
  }
  argv.push_back(out);
  *result = run_command(argv, 120s);
  std::ifstream in(out);
  json a = json::parse(in, nullptr, /*allow_exceptions=*/false);
  unlink(out.c_str());
  return a;
}

// The hello row of pounce shows a req/s figure (digits, maybe grouped,
// not 0). Without std::regex: GCC 12 warns falsely inside it at -O1 under
// ASan (-Wmaybe-uninitialized), which -Werror turns into a failed build.
bool prints_req_per_s(const std::string& table) {
  std::istringstream in(table);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string workload, server, rps;
    if (!(words >> workload >> server >> rps)) continue;
    if (workload != "hello" || server != "pounce") continue;
    return rps.find_first_not_of("0123456789,") == std::string::npos &&
           rps.find_first_of("123456789") != std::string::npos;
  }
  return false;
}

void check_hello(bool tls) {
  if (!have_h2load()) GTEST_SKIP() << "h2load not installed (make deps)";
  std::vector<std::string> args = {"--workload",    "hello", "--duration", "1",
                                   "--connections", "4",     "--streams",  "8"};
  if (tls) args.push_back("--tls");
  CommandResult r;
  json a = bench_h2(args, &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(prints_req_per_s(r.out)) << r.out;
  EXPECT_NE(r.out.find(tls ? "HTTP/2: every workload over h2 (TLS"
                           : "HTTP/2: every workload over h2c"),
            std::string::npos)
      << r.out;
  ASSERT_FALSE(a.is_discarded());
  const std::string protocol = tls ? "h2" : "h2c";
  EXPECT_EQ(a["protocol"], protocol);
  EXPECT_EQ(a["transport"], tls ? "https" : "http");
  EXPECT_EQ(a["load_tool"]["name"], "h2load");
  EXPECT_EQ(a["config"]["streams"], 8);
  ASSERT_EQ(a["samples"].size(), 1u);
  const json& s = a["samples"][0];
  EXPECT_EQ(s["protocol"], protocol) << "what h2load negotiated";
  EXPECT_GT(s["req_per_s"].get<double>(), 0);
  EXPECT_EQ(s["good"], s["completed"]);
  EXPECT_EQ(s["errors"]["total"], 0);
  EXPECT_FALSE(s["cpu_us_per_req"].is_null()) << "server CPU from /proc";
}

}  // namespace

TEST(BenchH2, HelloOverH2cPrintsReqPerSecond) {
  check_hello(false);
}

TEST(BenchH2, HelloOverTlsH2PrintsReqPerSecond) {
  check_hello(true);
}

// The 64 KiB body: flow control in play, every byte accounted for.
TEST(BenchH2, BigResponseIsServedWhole) {
  if (!have_h2load()) GTEST_SKIP() << "h2load not installed (make deps)";
  CommandResult r;
  json a = bench_h2({"--workload", "big", "--duration", "1", "--connections",
                     "2", "--streams", "4"},
                    &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  ASSERT_FALSE(a.is_discarded());
  ASSERT_EQ(a["samples"].size(), 1u);
  const json& s = a["samples"][0];
  EXPECT_GT(s["good"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["errors"]["wrong_body"], 0);
  EXPECT_GE(s["response_bytes"].get<double>(), 65536);
}

// sse and WebSocket cannot run under h2load: said, not dropped.
TEST(BenchH2, WorkloadsH2loadCannotDriveAreSkippedWithTheReason) {
  if (!have_h2load()) GTEST_SKIP() << "h2load not installed (make deps)";
  CommandResult r;
  json a = bench_h2(
      {"--workload", "hello,ws-64", "--duration", "1", "--connections", "2"},
      &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ws-64     pounce  n/a (--h2: h2load cannot open an "
                       "RFC 8441 WebSocket"),
            std::string::npos)
      << r.out;
  ASSERT_FALSE(a.is_discarded());
  bool skipped = false;
  for (const json& k : a["skipped"]) {
    skipped = skipped || (k["workload"] == "ws-64" && k["server"] == "pounce");
  }
  EXPECT_TRUE(skipped) << a["skipped"].dump();
}

// Memory per idle HTTP/2 connection: every connection completes the
// preface and SETTINGS and stays open while the server's RSS is read.
TEST(BenchH2, IdleConnectionsGiveAMemoryFigure) {
  CommandResult r;
  json a = bench_h2({"--workload", "idle", "--connections", "200"}, &r);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" B/conn"), std::string::npos) << r.out;
  ASSERT_FALSE(a.is_discarded());
  ASSERT_EQ(a["samples"].size(), 1u);
  const json& s = a["samples"][0];
  EXPECT_EQ(s["protocol"], "h2c");
  EXPECT_EQ(s["idle"]["connections"], 200);
  EXPECT_EQ(s["errors"]["total"], 0);
  EXPECT_FALSE(s["idle"]["bytes_per_connection"].is_null());
  EXPECT_GT(s["idle"]["rss_after_kib"].get<uint64_t>(),
            s["idle"]["rss_before_kib"].get<uint64_t>())
      << "200 HTTP/2 sessions cost nothing?";
}
