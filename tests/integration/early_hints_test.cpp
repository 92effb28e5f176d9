// 103 Early Hints (issue 15 §3, ABI 1.1 response_early_hints), with the test
// plugin early_hints: its handler sends the hint, then waits at a fifo gate
// that the test opens only once it has the 103 in hand. A 103 that arrives
// at all therefore arrived while the handler still worked, before the final
// response existed; a host that held it back with the response would leave
// the test waiting for it (and the handler at its gate) until the timeout.
//
// Over HTTP/1.1 (a raw client, TLS, curl), HTTP/1.0 (no 103), HTTP/2 (h2c
// and TLS, through python3-h2: early_hints_h2.py), in sync and blocking
// mode; and headless Chromium, which preloads what the 103 links to
// (Resource Timing's initiatorType "early-hints").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host_process.h"
#include "raw_client.h"
#include "temp_dir.h"
#include "test_certs.h"
#include "tls_support.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kLink = "</style.css>; rel=preload; as=style";

// A fifo gate of the plugin: make() before the request; open() once the 103
// is in: the handler opened the read end before it sent the hint, so the
// write end opens at once.
class Gate {
 public:
  Gate(const TempDir& dir, const std::string& name)
      : name_(name), path_(dir / name) {
    made_ = mkfifo(path_.c_str(), 0600) == 0;
  }
  bool made() const { return made_; }
  const std::string& name() const { return name_; }
  // Lets the handler go on. False when no handler waits at the gate.
  bool open() {
    int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, "x", 1) == 1;
    close(fd);
    return ok;
  }

 private:
  std::string name_;
  std::string path_;
  bool made_ = false;
};

std::string config(const TempDir& dir) {
  return "/={\"gate\":\"" + dir.path() + "\"}";
}

// "/hint" in sync mode, "/blocking/hint" in blocking mode.
std::string route(bool blocking, const std::string& path) {
  return (blocking ? "/blocking" : "") + path;
}

class EarlyHints : public ::testing::TestWithParam<bool> {
 protected:
  bool blocking() const { return GetParam(); }
};

// A raw HTTP/1.1 client: the 103 with the Link, while the handler waits at
// its gate; then, once the gate opens, the 200.
TEST_P(EarlyHints, Http11HintArrivesWhileTheHandlerWorks) {
  TempDir dir("pounce-early-hints");
  ASSERT_FALSE(dir.path().empty());
  HostProcess host({"--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", config(dir)});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  Gate gate(dir, "g1");
  ASSERT_TRUE(gate.made());

  RawClient c(host.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/hint?g1") +
                     " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto hint = c.read_response(false, 20s);
  ASSERT_TRUE(hint) << host.stderr_text();
  EXPECT_EQ(hint->version, "HTTP/1.1");
  EXPECT_EQ(hint->status, 103);
  EXPECT_EQ(hint->reason, "Early Hints");
  EXPECT_EQ(hint->header("Link").value_or(""), kLink);
  // Only what the plugin sent: no framing, no Date of a final response.
  EXPECT_EQ(hint->headers.size(), 1u);

  ASSERT_TRUE(gate.open()) << "the handler does not wait at its gate";
  auto final_response = c.read_response(false, 20s);
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(final_response->body, "done\n");
  EXPECT_EQ(final_response->header("X-Hints-Rc").value_or(""), "0");
  EXPECT_FALSE(final_response->header("Link"));

  // The connection goes on: the next request gets its own 103.
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/hint") +
                     " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto again = c.read_response(false, 20s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 103);
  auto done = c.read_response(false, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
}

// The same over TLS (HTTP/1.1 by ALPN): the 103 is encrypted and out while
// the handler waits.
TEST_P(EarlyHints, Http11OverTlsHintArrivesWhileTheHandlerWorks) {
  TempDir dir("pounce-early-hints");
  ASSERT_FALSE(dir.path().empty());
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  std::vector<std::string> args = {
      "--listen",        "https://127.0.0.1:0",
      "--plugin",        test_plugin_path("early_hints"),
      "--plugin-config", config(dir)};
  for (const std::string& a : cert.host_args()) args.push_back(a);
  HostProcess host(args);
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  Gate gate(dir, "t1");
  ASSERT_TRUE(gate.made());

  TlsClient c(host.ports()[0]);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/hint?t1") +
                     " HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto hint = c.read_response(false, 20s);
  ASSERT_TRUE(hint) << host.stderr_text();
  EXPECT_EQ(hint->status, 103);
  EXPECT_EQ(hint->header("Link").value_or(""), kLink);
  ASSERT_TRUE(gate.open()) << "the handler does not wait at its gate";
  auto final_response = c.read_response(false, 20s);
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(final_response->body, "done\n");
}

// HTTP/1.0 has no interim responses: the call succeeds, nothing is sent,
// and the first response the client reads is the 200.
TEST_P(EarlyHints, Http10GetsNoHint) {
  TempDir dir("pounce-early-hints");
  HostProcess host({"--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", config(dir)});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/hint") +
                     " HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  auto r = c.read_response(false, 20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "done\n");
  EXPECT_EQ(r->header("X-Hints-Rc").value_or(""), "0");
  // And nothing after it but what a second request brings.
  ASSERT_TRUE(
      c.send("GET " + route(blocking(), "/report") + " HTTP/1.0\r\n\r\n"));
  auto next = c.read_response(false, 20s);
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "reported\n");
}

// Each call is one 103; then the 200.
TEST_P(EarlyHints, TwoCallsSendTwoHints) {
  TempDir dir("pounce-early-hints");
  HostProcess host({"--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", config(dir)});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/two") +
                     " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = c.read_response(false, 20s);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 103);
  EXPECT_EQ(first->header("Link").value_or(""), kLink);
  auto second = c.read_response(false, 20s);
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 103);
  EXPECT_EQ(second->header("Link").value_or(""),
            "</app.js>; rel=preload; as=script");
  auto done = c.read_response(false, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200);
  EXPECT_EQ(done->header("X-Hints-Rc").value_or(""), "0,0");
}

// A CR in a value, a framing header, and no headers at all are refused
// (POUNCE_ERR_INVALID), nothing is sent, and the final response stands.
TEST_P(EarlyHints, RefusedHintsSendNothingAndTheResponseStands) {
  TempDir dir("pounce-early-hints");
  HostProcess host({"--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", config(dir)});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET " + route(blocking(), "/bad") +
                     " HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = c.read_response(false, 20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "bad\n");
  EXPECT_EQ(r->header("X-Hints-Rc").value_or(""), "-2,-2,-2");
  EXPECT_FALSE(r->header("X-Injected"));
  EXPECT_TRUE(
      host.wait_for_stderr("control character in value in early hint", 10s));
  EXPECT_TRUE(host.wait_for_stderr(
      "a framing header the host owns in early hint \"Content-Length\"", 10s));
}

// curl -v prints interim responses: the 103 with its Link, then the 200.
TEST_P(EarlyHints, CurlSeesTheHintThenTheResponse) {
  TempDir dir("pounce-early-hints");
  HostProcess host({"--plugin", test_plugin_path("early_hints"),
                    "--plugin-config", config(dir)});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  for (const char* version : {"--http1.1", "--http2-prior-knowledge"}) {
    SCOPED_TRACE(version);
    CommandResult r = run_command(
        {"curl", "-sS", "-v", version, host.url(route(blocking(), "/hint"))});
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "done\n");
    const bool h2 = std::string(version) != "--http1.1";
    const size_t hint = r.err.find(h2 ? "< HTTP/2 103" : "< HTTP/1.1 103");
    const size_t link =
        r.err.find(std::string(h2 ? "< link: " : "< Link: ") + kLink);
    const size_t done = r.err.find(h2 ? "< HTTP/2 200" : "< HTTP/1.1 200");
    ASSERT_NE(hint, std::string::npos) << r.err;
    ASSERT_NE(link, std::string::npos) << r.err;
    ASSERT_NE(done, std::string::npos) << r.err;
    EXPECT_LT(hint, link);
    EXPECT_LT(link, done);
  }
}

// HTTP/2, h2c (prior knowledge) and TLS (ALPN h2): a HEADERS frame with
// :status 103 and the link while the handler waits at its gate, then the
// final HEADERS and the body.
TEST_P(EarlyHints, Http2HintArrivesWhileTheHandlerWorks) {
  TempDir dir("pounce-early-hints");
  ASSERT_FALSE(dir.path().empty());
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  std::vector<std::string> args = {
      "--listen",        "http://127.0.0.1:0",
      "--listen",        "https://127.0.0.1:0",
      "--plugin",        test_plugin_path("early_hints"),
      "--plugin-config", config(dir)};
  for (const std::string& a : cert.host_args()) args.push_back(a);
  HostProcess host(args);
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  ASSERT_EQ(host.ports().size(), 2u);
  for (const bool tls : {false, true}) {
    SCOPED_TRACE(tls ? "TLS" : "h2c");
    const std::string name = tls ? "h2tls" : "h2c";
    Gate gate(dir, name);
    ASSERT_TRUE(gate.made());
    std::vector<std::string> argv = {"/usr/bin/python3",
                                     POUNCE_EARLY_HINTS_H2,
                                     std::to_string(host.ports()[tls ? 1 : 0]),
                                     route(blocking(), "/hint?" + name),
                                     "--gate",
                                     dir / name};
    if (tls) argv.push_back("--tls");
    CommandResult r = run_command(argv, 60s);
    ASSERT_EQ(r.status, 0) << r.err;
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.out;
    EXPECT_EQ(j.value("gate", ""), "opened") << r.out;
    EXPECT_FALSE(j.contains("error")) << r.out;
    ASSERT_EQ(j["events"].size(), 2u) << r.out;
    EXPECT_EQ(j["events"][0].value("status", ""), "103") << r.out;
    EXPECT_EQ(j["events"][0].value("link", ""), kLink) << r.out;
    EXPECT_EQ(j["events"][1].value("status", ""), "200") << r.out;
    EXPECT_FALSE(j["events"][1].contains("link")) << r.out;
    EXPECT_EQ(j.value("body", ""), "done\n") << r.out;
  }
}

// pounce::Response::early_hints, the C++ wrapper.
TEST(EarlyHintsCpp, ResponseEarlyHintsSendsA103) {
  HostProcess host({"--plugin", test_plugin_path("early_hints_cpp")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto hint = c.read_response(false, 20s);
  ASSERT_TRUE(hint);
  EXPECT_EQ(hint->status, 103);
  EXPECT_EQ(hint->header("Link").value_or(""),
            "</app.js>; rel=preload; as=script");
  auto r = c.read_response(false, 20s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "cpp\n");
  EXPECT_EQ(r->header("X-Hints-Rc").value_or(""), "0");
}

INSTANTIATE_TEST_SUITE_P(Modes, EarlyHints, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Blocking" : "Sync";
                         });

}  // namespace
