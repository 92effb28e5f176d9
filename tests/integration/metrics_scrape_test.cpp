// GET /metrics on the admin listener (issue 14 §2), read with
// python3-prometheus-client's parser: the request counters move by exactly
// the requests sent (by protocol, method, status class and mount), the
// duration histogram counts them, rejections are counted by their
// X-Pounce-Error code, TLS handshakes by kind, and a plugin's own metrics
// (ABI 1.1) appear with its mount label.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

// Every sample as "name{k=v,...}" (labels sorted) -> value, parsed by the
// real Prometheus parser.
std::map<std::string, double> scrape(uint16_t admin) {
  std::map<std::string, double> out;
  auto r = get_response(admin, "/metrics");
  EXPECT_TRUE(r);
  if (!r) return out;
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type").value_or(""),
            "text/plain; version=0.0.4; charset=utf-8");
  char path[] = "/tmp/pounce-scrape-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, r->body.data(), r->body.size()),
            static_cast<ssize_t>(r->body.size()));
  close(fd);
  const char* script = R"PY(
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %r" % (s.name, labels, s.value))
)PY";
  CommandResult p = run_command({"/usr/bin/python3", "-c", script, path});
  unlink(path);
  EXPECT_EQ(p.status, 0) << p.err << "\n" << r->body;
  std::istringstream in(p.out);
  std::string line;
  while (std::getline(in, line)) {
    const size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

double at(const std::map<std::string, double>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? 0 : it->second;
}

TEST(MetricsScrape, CountersMoveByExactlyTheRequestsSent) {
  HostProcess h({"--plugin", "/=" + test_plugin_path("inspect"), "--plugin",
                 "/hello=" + plugin_path("hello"), "--workers", "2",
                 "--admin-listen", "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  const auto before = scrape(admin);

  for (int i = 0; i < 7; ++i) {
    ASSERT_EQ(get_response(h.port(), "/hello")->status, 200);
  }
  for (int i = 0; i < 3; ++i) {
    auto r = one_request(h.port(),
                         "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: "
                         "2\r\nConnection: close\r\n\r\nhi");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  // Two rejected before routing: a bad request line.
  for (int i = 0; i < 2; ++i) {
    auto r = one_request(h.port(), "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 400);
  }
  const auto after = scrape(admin);
  auto moved = [&](const std::string& key) {
    return at(after, key) - at(before, key);
  };
  EXPECT_EQ(moved("pounce_requests_total{method=GET,mount=/hello,"
                  "protocol=http/1.1,status=2xx}"),
            7);
  EXPECT_EQ(moved("pounce_requests_total{method=POST,mount=/,"
                  "protocol=http/1.1,status=2xx}"),
            3);
  EXPECT_EQ(moved("pounce_requests_total{method=GET,mount=,"
                  "protocol=http/1.1,status=4xx}") +
                moved("pounce_requests_total{method=other,mount=,"
                      "protocol=http/1.1,status=4xx}"),
            2);
  EXPECT_EQ(moved("pounce_request_duration_seconds_count{mount=/hello}"), 7);
  EXPECT_EQ(
      moved("pounce_request_duration_seconds_bucket{le=+Inf,mount=/hello}"), 7);
  EXPECT_GE(moved("pounce_rejected_requests_total{code=BAD_TARGET}") +
                moved("pounce_rejected_requests_total{code=BAD_REQUEST_LINE}"),
            2);
  // The hello bodies (13 bytes each) and the others.
  EXPECT_GE(moved("pounce_response_body_bytes_total{}"), 7 * 13);
  // The plugin's own counter, with its mount label.
  EXPECT_EQ(moved("inspect_requests_total{method=POST,mount=/}"), 3);
  // Process gauges.
  EXPECT_EQ(at(after, "pounce_ready{}"), 1);
  EXPECT_EQ(at(after, "pounce_up{}"), 1);
}

}  // namespace
