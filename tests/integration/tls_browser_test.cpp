// Headless Chromium over https (issue 12, "Tests with real clients"): the
// browser loads a page from pounce-host with a certificate from a test CA,
// accepted through --ignore-certificate-errors-spki-list. The page (test
// plugin browser_page) uses an EventSource, a WebSocket over wss:// and a
// compressed fetch, reads the Server-Timing entries the browser parsed, and
// navigates to /report?<results>; the test reads that line in the access
// log. It runs over HTTP/2 (issue 13: nextHopProtocol is "h2", the
// WebSocket an RFC 8441 extended CONNECT) and over HTTP/1.1. Skipped only
// when there is no chromium binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "chromium_support.h"
#include "host_process.h"
#include "temp_dir.h"
#include "test_certs.h"

extern char** environ;

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 &&
        hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The query of the first "GET /report?..." request in the access log.
std::map<std::string, std::string> report_fields(const std::string& log) {
  std::map<std::string, std::string> fields;
  const std::string start = "\"GET /report?";
  size_t at = log.find(start);
  if (at == std::string::npos) return fields;
  at += start.size();
  size_t end = log.find(' ', at);
  std::stringstream query(log.substr(at, end - at));
  for (std::string pair; std::getline(query, pair, '&');) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos) continue;
    fields[pair.substr(0, eq)] = percent_decode(pair.substr(eq + 1));
  }
  return fields;
}

// Server-Timing metrics as the browser reported them ("parse;dur=0.012,
// app;dur=0.003"): name -> duration, each a finite, non-negative number.
std::map<std::string, double> timing_metrics(const std::string& text,
                                             std::string* error) {
  std::map<std::string, double> metrics;
  std::stringstream items(text);
  for (std::string item; std::getline(items, item, ',');) {
    size_t semi = item.find(";dur=");
    if (semi == std::string::npos) {
      *error = "no duration in \"" + item + "\"";
      return {};
    }
    const std::string value = item.substr(semi + 5);
    char* end = nullptr;
    double d = strtod(value.c_str(), &end);
    if (value.empty() || *end != '\0' || !(d >= 0) || d > 60000) {
      *error = "bad duration in \"" + item + "\"";
      return {};
    }
    metrics[item.substr(0, semi)] = d;
  }
  return metrics;
}

// Over HTTP/2 (ALPN h2, the default; the WebSocket by RFC 8441's extended
// CONNECT) and over HTTP/1.1 (--no-http2).
class TlsBrowserTest : public ::testing::TestWithParam<bool> {};

TEST_P(TlsBrowserTest, ChromiumUsesSseWebSocketCompressionAndServerTiming) {
  const bool h2 = GetParam();
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "no chromium binary (Debian package chromium, or set "
                    "POUNCE_CHROMIUM)";
  }
  TempDir dir("pounce-tls-browser");
  ASSERT_FALSE(dir.path().empty());
  // A certificate from the test CA for localhost and 127.0.0.1; chromium
  // accepts it by the hash of its public key, as with a pinned private CA.
  CertFiles server;
  std::string spki;
  try {
    TestPki pki = TestPki::create(dir.path());
    CertRequest request;
    request.dns_names = {"localhost"};
    request.ip_addresses = {"127.0.0.1"};
    server = pki.issue(request);
    spki = TestPki::spki_sha256_base64(server.cert_path);
  } catch (const std::exception& e) {
    FAIL() << "test certificates: " << e.what();
  }
  ASSERT_EQ(spki.size(), 44u) << spki;

  HostProcess host(
      {"--listen", "https://127.0.0.1:0", "--tls-cert", server.cert_path,
       "--tls-key", server.key_path, "--server-timing", "--plugin",
       test_plugin_path("browser_page"), "--plugin",
       "/sse=" + plugin_path("sse"), h2 ? "--http2" : "--no-http2"});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  ASSERT_EQ(host.listener_urls().size(), 1u);
  const std::string origin = host.listener_urls()[0];
  ASSERT_EQ(origin.rfind("https://127.0.0.1:", 0), 0u) << origin;

  const auto started = std::chrono::steady_clock::now();
  Chromium browser(chromium, dir.path(), spki, origin + "/");
  ASSERT_TRUE(browser.started()) << "cannot start " << chromium;
  // Generous: chromium starts in 1-3 s, the page reports in well under a
  // second after that, and its own watchdog reports at 20 s whatever has
  // not settled; a sanitizer build or a loaded machine is slower.
  const bool reported = host.wait_for_stdout("\"GET /report?", 90s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(reported) << "the page never reported.\n--- chromium output:\n"
                        << browser.output() << "\n--- host stdout:\n"
                        << host.stdout_text() << "\n--- host stderr:\n"
                        << host.stderr_text();
  const std::string log = host.stdout_text();
  std::map<std::string, std::string> r = report_fields(log);
  std::string all;
  for (const auto& [k, v] : r) all += "  " + k + "=" + v + "\n";
  SCOPED_TRACE("page report (" + std::to_string(took.count()) + " ms):\n" +
               all);

  EXPECT_EQ(r["sse"], "ok");
  EXPECT_EQ(r["ws"], "ok");
  EXPECT_EQ(r["compress"], "ok");
  EXPECT_EQ(r["timing"], "ok");
  EXPECT_EQ(r.count("jserror"), 0u);

  // The browser decoded a compressed body (encodedBodySize < decodedBodySize
  // is in "compress"), in a coding the host offers.
  EXPECT_TRUE(r["enc"] == "zstd" || r["enc"] == "gzip") << r["enc"];
  // Chromium offers permessage-deflate and the host accepts it by default.
  EXPECT_NE(r["wsext"].find("permessage-deflate"), std::string::npos);

  // The Server-Timing the browser parsed: parse and app on the page, and
  // encode too on the compressed resource.
  std::string error;
  auto nav = timing_metrics(r["timing_nav"], &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(nav.count("parse"), 1u) << r["timing_nav"];
  EXPECT_EQ(nav.count("app"), 1u) << r["timing_nav"];
  auto res = timing_metrics(r["timing_res"], &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(res.count("parse"), 1u) << r["timing_res"];
  EXPECT_EQ(res.count("app"), 1u) << r["timing_res"];
  EXPECT_EQ(res.count("encode"), 1u) << r["timing_res"];

  // The page's own protocol, as the browser reports it.
  EXPECT_EQ(r["proto"], h2 ? "h2" : "http/1.1");
  // Each part went over this https listener: the access log has them (an
  // HTTP/2 WebSocket is an extended CONNECT answered 200).
  const std::string version = h2 ? "HTTP/2.0" : "HTTP/1.1";
  EXPECT_NE(log.find("\"GET /sse/events?count=3"), std::string::npos);
  EXPECT_NE(log.find(h2 ? "\"CONNECT /ws HTTP/2.0\" 200"
                        : "\"GET /ws HTTP/1.1\" 101"),
            std::string::npos);
  EXPECT_NE(log.find("\"GET /data.txt " + version + "\" 200"),
            std::string::npos);
  EXPECT_NE(log.find("\"GET /app.js " + version + "\" 200"), std::string::npos);
  if (HasFailure()) ADD_FAILURE() << "access log:\n" << log;
}

INSTANTIATE_TEST_SUITE_P(Protocols, TlsBrowserTest, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Http2" : "Http11";
                         });

}  // namespace
