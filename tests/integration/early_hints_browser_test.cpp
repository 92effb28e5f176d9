// Headless Chromium honours a 103 Early Hints (issue 15 §3). Chromium acts
// on Early Hints only over HTTP/2 (or HTTP/3), for a top-level navigation
// over https (docs/early-hints.md in Chromium), so the page comes over
// https with ALPN h2, from a blocking handler (test plugin early_hints,
// /blocking/page) that sends `Link: </style.css>; rel=preload; as=style`
// and then waits at a fifo gate. The test opens the gate only once the
// access log shows the browser's GET /style.css: the browser can have
// learned of the style sheet only from the 103, since no byte of the page
// exists yet. The page then reports the style sheet's Resource Timing
// entry (initiatorType "early-hints") by navigating to /report?..., which
// the test reads in the access log. Skipped only when there is no chromium
// binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "chromium_support.h"
#include "host_process.h"
#include "temp_dir.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// The value of `key` in the first "GET /report?..." line of the access log.
std::string report_field(const std::string& log, const std::string& key) {
  const std::string start = "\"GET /report?";
  size_t at = log.find(start);
  if (at == std::string::npos) return "";
  at += start.size();
  const std::string query = log.substr(at, log.find(' ', at) - at);
  const std::string want = key + "=";
  for (size_t pos = 0; pos <= query.size();) {
    size_t end = query.find('&', pos);
    if (end == std::string::npos) end = query.size();
    if (query.compare(pos, want.size(), want) == 0) {
      return query.substr(pos + want.size(), end - pos - want.size());
    }
    pos = end + 1;
  }
  return "";
}

TEST(EarlyHintsBrowser, ChromiumPreloadsWhatTheHintLinks) {
  const std::string chromium = find_chromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "no chromium binary (Debian package chromium, or set "
                    "POUNCE_CHROMIUM)";
  }
  TempDir dir("pounce-early-hints-browser");
  ASSERT_FALSE(dir.path().empty());
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
  const std::string gate = dir.path() + "/page";
  ASSERT_EQ(mkfifo(gate.c_str(), 0600), 0);

  HostProcess host({"--listen", "https://127.0.0.1:0", "--tls-cert",
                    server.cert_path, "--tls-key", server.key_path, "--http2",
                    "--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", "/={\"gate\":\"" + dir.path() + "\"}"});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  const std::string origin = host.listener_urls()[0];

  // Chromium drops a 103 that its HTTP/2 session reads before the
  // navigation's transaction has seen its own request written (the write's
  // completion and the read are events of one turn of its loop, in either
  // order): its net log then shows the 103 received
  // (HTTP2_SESSION_RECV_HEADERS) while HTTP_TRANSACTION_SEND_REQUEST is
  // still open, never HTTP_TRANSACTION_READ_EARLY_HINTS_RESPONSE_HEADERS,
  // and no preload starts. Seen in about one run of four on this loaded
  // 2-core machine. The host did its part then, which the net log proves,
  // so that attempt is repeated with a fresh browser, up to five times. An
  // attempt whose browser never received the 103 fails the test at once:
  // that is the host's fault.
  constexpr int kAttempts = 5;
  std::unique_ptr<Chromium> browser;
  bool preloaded = false;
  size_t mark = 0;  // where the successful attempt's access log starts
  std::string why;
  for (int attempt = 1; attempt <= kAttempts && !preloaded; ++attempt) {
    const std::string adir = dir.path() + "/attempt-" + std::to_string(attempt);
    fs::create_directories(adir);
    const std::string netlog = adir + "/netlog.json";
    mark = host.stdout_text().size();
    browser = std::make_unique<Chromium>(
        chromium, adir, spki, origin + "/blocking/page?page",
        std::vector<std::string>{"--log-net-log=" + netlog});
    ASSERT_TRUE(browser->started()) << "cannot start " << chromium;
    // Generous: chromium starts in 1-3 s; a sanitizer build or a loaded
    // machine is slower.
    preloaded = host.wait_for_stdout("\"GET /style.css HTTP/2.0\"", 20s);
    // The access log so far, while the page's handler still waits.
    const std::string before = host.stdout_text().substr(mark);
    if (!preloaded) {
      why = "attempt " + std::to_string(attempt) +
            ": no GET /style.css.\n--- chromium output:\n" + browser->output() +
            "\n--- host stdout:\n" + before;
      browser.reset();  // before the page can load the style sheet itself
    }
    // The page's handler waits at the gate until it opens: open it whatever
    // happened, so that the host can go on.
    const int fd = open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    // The page was still being produced when the style sheet was asked for.
    EXPECT_GE(fd, 0) << "the page's handler was not waiting";
    if (fd >= 0) {
      EXPECT_EQ(write(fd, "x", 1), 1);
      close(fd);
    }
    if (preloaded) {
      EXPECT_EQ(before.find("\"GET /blocking/page"), std::string::npos)
          << before;
      break;
    }
    const std::string log = read_file(netlog);
    ASSERT_NE(log.find("\":status: 103\""), std::string::npos)
        << "the browser never received the 103.\n"
        << why << "\n--- host stderr:\n"
        << host.stderr_text();
    std::cerr << "attempt " << attempt
              << ": Chromium received the 103 but started no preload "
                 "(its net log); again with a fresh browser\n";
  }
  ASSERT_TRUE(preloaded) << why << "\n--- host stderr:\n" << host.stderr_text();

  ASSERT_TRUE(host.wait_for_stdout("\"GET /report?", 90s))
      << "the page never reported.\n--- chromium output:\n"
      << browser->output() << "\n--- host stdout:\n"
      << host.stdout_text();
  const std::string log = host.stdout_text().substr(mark);
  SCOPED_TRACE("access log:\n" + log);
  // The page and its report, over HTTP/2.
  EXPECT_NE(log.find("\"GET /blocking/page?page HTTP/2.0\" 200"),
            std::string::npos);
  // The style sheet was fetched once, by the preload the 103 started, and
  // the page used that response.
  EXPECT_EQ(count_of(log, "\"GET /style.css "), 1u);
  EXPECT_EQ(report_field(log, "initiator"), "early-hints");
  EXPECT_EQ(report_field(log, "proto"), "h2");
}

}  // namespace
