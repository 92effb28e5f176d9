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
#include <string>

#include "chromium_support.h"
#include "host_process.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pounce-early-hints-browser-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made) path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

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
  TempDir dir;
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

  Chromium browser(chromium, dir.path(), spki, origin + "/blocking/page?page");
  ASSERT_TRUE(browser.started()) << "cannot start " << chromium;
  // Generous: chromium starts in 1-3 s; a sanitizer build or a loaded
  // machine is slower.
  const bool preloaded =
      host.wait_for_stdout("\"GET /style.css HTTP/2.0\"", 90s);
  // The access log so far, while the page's handler still waits.
  const std::string before = host.stdout_text();
  // The page's handler waits at the gate until it opens: open it whatever
  // happened, so that the host can end.
  const int fd = open(gate.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  const bool handler_waited = fd >= 0;
  if (fd >= 0) {
    EXPECT_EQ(write(fd, "x", 1), 1);
    close(fd);
  }
  ASSERT_TRUE(preloaded) << "the browser never fetched /style.css while the "
                            "page waited.\n--- chromium output:\n"
                         << browser.output() << "\n--- host stdout:\n"
                         << host.stdout_text() << "\n--- host stderr:\n"
                         << host.stderr_text();
  // The page was still being produced when the style sheet was asked for.
  EXPECT_TRUE(handler_waited);
  EXPECT_EQ(before.find("\"GET /blocking/page"), std::string::npos) << before;

  ASSERT_TRUE(host.wait_for_stdout("\"GET /report?", 90s))
      << "the page never reported.\n--- chromium output:\n"
      << browser.output() << "\n--- host stdout:\n"
      << host.stdout_text();
  const std::string log = host.stdout_text();
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
