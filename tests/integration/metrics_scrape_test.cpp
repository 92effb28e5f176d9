// GET /metrics on the admin listener (issue 14 §2), read with
// python3-prometheus-client's parser: the request counters move by exactly
// the requests sent (by protocol, method, status class and mount), the
// duration histogram counts them, rejections are counted by their
// X-Pounce-Error code, TLS handshakes by kind, and a plugin's own metrics
// (ABI 1.1) appear with its mount label.
#include <gtest/gtest.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"
#include "test_certs.h"

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

// Scrapes until `done` holds (at most 10 s): for a gauge that follows an
// event nothing logs. Each scrape asks the loops, so this waits on the
// host's state, not on a clock.
template <typename Done>
std::map<std::string, double> scrape_until(uint16_t admin, Done done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::map<std::string, double> m;
  do {
    m = scrape(admin);
  } while (!done(m) && std::chrono::steady_clock::now() < deadline);
  return m;
}

std::string dump(const std::map<std::string, double>& m) {
  std::string out;
  for (const auto& [key, value] : m) {
    if (key.rfind("pounce_", 0) == 0 &&
        (key.find("connections") != std::string::npos ||
         key.find("blocking") != std::string::npos)) {
      out += key + " " + std::to_string(value) + "\n";
    }
  }
  return out;
}

// A blocking route's requests count under its mount over both protocols:
// the HTTP/2 path once left the job's metrics mount as the job's last use
// had it (the first mount, or another route's).
TEST(MetricsScrape, BlockingRequestsCountUnderTheirMountOverHttp2Too) {
  HostProcess h({"--plugin", "/hello=" + plugin_path("hello"), "--plugin",
                 "/b=" + test_plugin_path("inspect_blocking"), "--workers", "1",
                 "--admin-listen", "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  const auto before = scrape(admin);
  const std::string url =
      "http://127.0.0.1:" + std::to_string(h.port()) + "/b/x";
  for (int i = 0; i < 3; ++i) {
    // One connection each: curl 7.88 fails a second request on a reused
    // h2c prior-knowledge connection.
    CommandResult r =
        run_command({"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                     "--http2-prior-knowledge", url});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "200");
  }
  ASSERT_EQ(get_response(h.port(), "/b/x")->status, 200);
  const auto after = scrape(admin);
  auto moved = [&](const std::string& key) {
    return at(after, key) - at(before, key);
  };
  EXPECT_EQ(moved("pounce_requests_total{method=GET,mount=/b,"
                  "protocol=h2,status=2xx}"),
            3)
      << dump(after);
  EXPECT_EQ(moved("pounce_requests_total{method=GET,mount=/b,"
                  "protocol=http/1.1,status=2xx}"),
            1);
  EXPECT_EQ(moved("pounce_request_duration_seconds_count{mount=/b}"), 4);
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

// TLS handshake failures by reason, HTTP/2 streams and GOAWAYs, reloads:
// each moves by exactly what the test did.
TEST(MetricsScrape, TlsFailuresH2StreamsGoawaysAndReloads) {
  OpsTempDir dir;
  TestPki pki = TestPki::create(dir.path());
  CertFiles cert = pki.server_cert({"localhost"});
  HostProcess h({"--plugin", plugin_path("hello"), "--workers", "1", "--listen",
                 "http://127.0.0.1:0", "--listen", "https://127.0.0.1:0",
                 "--tls-cert", cert.cert_path, "--tls-key", cert.key_path,
                 "--admin-listen", "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  const uint16_t http = h.ports()[0];
  const uint16_t https = h.ports()[1];
  const auto before = scrape(admin);

  // Clear-text HTTP on the https listener: the 400, one failed handshake.
  auto plain = get_response(https, "/");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 400);
  // A client that speaks only TLS 1.1 (the host's minimum is 1.2).
  CommandResult old =
      run_command({"curl", "-sk", "--max-time", "10", "--tlsv1.1", "--tls-max",
                   "1.1", "https://127.0.0.1:" + std::to_string(https) + "/"});
  EXPECT_NE(old.status, 0);
  ASSERT_TRUE(h.wait_for_stderr("TLS from 127.0.0.1")) << h.stderr_text();
  // A good TLS request (HTTP/1.1: the h2 stream below is the only one),
  // which must count nowhere among the failures.
  CommandResult good =
      run_command({"curl", "-sk", "--http1.1", "--max-time", "10",
                   "https://127.0.0.1:" + std::to_string(https) + "/"});
  EXPECT_EQ(good.status, 0) << good.err;

  // h2c with prior knowledge: one stream (GET /, END_STREAM), then DATA on
  // stream 0, a connection error: the host answers with GOAWAY.
  {
    RawClient c(http);
    std::string frames = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    frames += std::string("\x00\x00\x00\x04\x00\x00\x00\x00\x00", 9);
    // HEADERS, stream 1, END_STREAM | END_HEADERS: :method GET, :scheme
    // http, :path /, :authority "x" (HPACK).
    frames += std::string("\x00\x00\x06\x01\x05\x00\x00\x00\x01", 9);
    frames += std::string("\x82\x86\x84\x41\x01\x78", 6);
    ASSERT_TRUE(c.send(frames));
    // Its response first (the stream is counted once it is served).
    std::string got;
    while (got.find("Hello, World!") == std::string::npos) {
      std::string more = c.read_some(std::chrono::seconds(10));
      ASSERT_FALSE(more.empty()) << got;
      got += more;
    }
    ASSERT_TRUE(c.send(std::string("\x00\x00\x00\x00\x00\x00\x00\x00\x00", 9)));
    EXPECT_TRUE(c.wait_closed());
  }
  ASSERT_TRUE(h.wait_for_stderr("HTTP/2 GOAWAY to")) << h.stderr_text();

  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();

  const auto after = scrape(admin);
  auto moved = [&](const std::string& key) {
    return at(after, key) - at(before, key);
  };
  EXPECT_EQ(moved("pounce_tls_handshake_failures_total{reason=plain_http}"), 1);
  EXPECT_EQ(moved("pounce_tls_handshake_failures_total{reason=version}"), 1);
  double failures = 0;
  for (const auto& [key, value] : after) {
    if (key.rfind("pounce_tls_handshake_failures_total{", 0) == 0) {
      failures += value - at(before, key);
    }
  }
  EXPECT_EQ(failures, 2);
  EXPECT_EQ(moved("pounce_tls_handshakes_total{kind=full}"), 1);
  EXPECT_EQ(moved("pounce_h2_streams_total{}"), 1);
  EXPECT_EQ(moved("pounce_h2_goaways_sent_total{}"), 1);
  EXPECT_EQ(moved("pounce_reloads_total{result=ok}"), 1);
  EXPECT_EQ(moved("pounce_reloads_total{result=failed}"), 0);
  EXPECT_EQ(at(after, "pounce_generation{}"), 2);
}

// A client certificate missing or from another CA, where one is required:
// reason "certificate", once each.
TEST(MetricsScrape, ClientCertificateFailuresCountAsCertificate) {
  OpsTempDir dir;
  TestPki pki = TestPki::create(dir.path());
  CertFiles cert = pki.server_cert({"localhost"});
  CertFiles mallory = pki.client_cert("mallory", /*other_ca=*/true);
  HostProcess h({"--plugin", plugin_path("hello"), "--workers", "1", "--listen",
                 "https://127.0.0.1:0", "--tls-cert", cert.cert_path,
                 "--tls-key", cert.key_path, "--tls-client-ca", pki.ca_cert(),
                 "--tls-client-auth", "required", "--admin-listen",
                 "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  const std::string url = "https://127.0.0.1:" + std::to_string(h.port()) + "/";
  const auto before = scrape(admin);
  CommandResult without =
      run_command({"curl", "-sk", "--http1.1", "--max-time", "10", url});
  EXPECT_NE(without.status, 0);
  CommandResult foreign =
      run_command({"curl", "-sk", "--http1.1", "--max-time", "10", "--cert",
                   mallory.cert_path, "--key", mallory.key_path, url});
  EXPECT_NE(foreign.status, 0);
  ASSERT_TRUE(
      h.wait_for_stderr("TLS from 127.0.0.1", std::chrono::seconds(10), 2))
      << h.stderr_text();
  const auto after = scrape(admin);
  EXPECT_EQ(
      at(after, "pounce_tls_handshake_failures_total{reason=certificate}") -
          at(before, "pounce_tls_handshake_failures_total{reason=certificate}"),
      2)
      << dump(after) << h.stderr_text();
}

// Idle keep-alive connections per loop, open connections per listener, and
// the blocking pool's queue and busy threads, read when scraped.
TEST(MetricsScrape, ConnectionGaugesAndTheBlockingPool) {
  HostProcess h({"--plugin", test_plugin_path("sleeper"), "--workers", "1",
                 "--blocking-threads", "1", "--listen", "http://127.0.0.1:0",
                 "--listen", "http://127.0.0.1:0", "--admin-listen",
                 "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  const std::string l0 =
      "pounce_listener_connections_open{listener=" + h.listener_urls()[0] + "}";
  const std::string l1 =
      "pounce_listener_connections_open{listener=" + h.listener_urls()[1] + "}";
  auto idle = [](const std::map<std::string, double>& m) {
    double n = 0;
    for (const auto& [key, value] : m) {
      if (key.rfind("pounce_connections_idle{", 0) == 0) n += value;
    }
    return n;
  };
  const auto before = scrape(admin);
  EXPECT_EQ(at(before, l0), 0);
  EXPECT_EQ(at(before, l1), 0);
  EXPECT_EQ(idle(before), 0);
  EXPECT_EQ(at(before, "pounce_blocking_threads_busy{}"), 0);

  // Two keep-alive connections, one per listener, each after a response.
  const std::string fast = "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n";
  RawClient a(h.ports()[0]);
  ASSERT_TRUE(a.send(fast));
  ASSERT_TRUE(a.read_response());
  RawClient b(h.ports()[1]);
  ASSERT_TRUE(b.send(fast));
  ASSERT_TRUE(b.read_response());
  // The client may read a response before its loop saw the write finish.
  const auto idle2 = scrape_until(
      admin,
      [&](const std::map<std::string, double>& m) { return idle(m) >= 2; });
  EXPECT_EQ(at(idle2, l0), 1) << dump(idle2);
  EXPECT_EQ(at(idle2, l1), 1) << dump(idle2);
  EXPECT_EQ(idle(idle2), 2) << dump(idle2);

  // One handler runs on the only pool thread; a second one waits.
  const std::string forever = "GET /forever HTTP/1.1\r\nHost: x\r\n\r\n";
  RawClient c(h.ports()[0]);
  ASSERT_TRUE(c.send(forever));
  ASSERT_TRUE(h.wait_for_stderr("forever entered")) << h.stderr_text();
  RawClient d(h.ports()[0]);
  ASSERT_TRUE(d.send(forever));
  // Nothing logs the second one's queueing: scrape until it shows (each
  // scrape asks the loops, so this waits on the host, not on a clock).
  const auto busy =
      scrape_until(admin, [](const std::map<std::string, double>& m) {
        return at(m, "pounce_blocking_queue_depth{}") >= 1;
      });
  EXPECT_EQ(at(busy, "pounce_blocking_queue_depth{}"), 1) << dump(busy);
  EXPECT_EQ(at(busy, "pounce_blocking_threads_busy{}"), 1) << dump(busy);
  EXPECT_EQ(at(busy, "pounce_blocking_threads{}"), 1) << dump(busy);
  EXPECT_EQ(at(busy, l0), 3) << dump(busy);
  EXPECT_EQ(at(busy, l1), 1) << dump(busy);
  // The two parked connections wait for a response, not for a request.
  EXPECT_EQ(idle(busy), 2) << dump(busy);
}

}  // namespace
