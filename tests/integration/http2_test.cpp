// HTTP/2 (issue 13): the real pounce-host driven by real clients: curl
// (--http2-prior-knowledge on cleartext, --http2 with ALPN over TLS),
// nghttp, h2load and python3-h2 for frame-level checks
// (tests/integration/h2_client.py).
//
// BothProtocols is the shared set: every test runs once over HTTP/1.1, once
// over h2c (prior knowledge) and once over h2 (TLS, ALPN), against one host
// with a cleartext and an https listener, and expects the same behaviour
// (only the version differs). The H2 tests are HTTP/2's own: SETTINGS from
// the flags, RFC 9113 §8 validation, streams that do not wait for each
// other.
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "h2_client.h"
#include "host_process.h"
#include "raw_client.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

enum class Proto { Http11, H2c, H2Tls };

std::string proto_name(Proto p) {
  switch (p) {
    case Proto::Http11:
      return "Http11";
    case Proto::H2c:
      return "H2c";
    case Proto::H2Tls:
      return "H2Tls";
  }
  return "?";
}

// A temporary directory with a test CA and a server certificate for
// localhost and 127.0.0.1.
struct Certs {
  Certs() {
    char tmpl[] = "/tmp/pounce-h2-XXXXXX";
    dir = mkdtemp(tmpl);
    pki = std::make_unique<TestPki>(TestPki::create(dir));
    CertRequest req;
    req.dns_names = {"localhost"};
    req.ip_addresses = {"127.0.0.1"};
    server = pki->issue(req);
  }
  ~Certs() { std::filesystem::remove_all(dir); }
  std::string dir;
  std::unique_ptr<TestPki> pki;
  CertFiles server;
};

std::string lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string random_bytes(size_t n) {
  std::mt19937 gen(1234);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(gen());
  return s;
}

// ---------------------------------------------------------------------------
// The shared set, once per protocol

class BothProtocols : public ::testing::TestWithParam<Proto> {
 protected:
  static void SetUpTestSuite() {
    certs_ = new Certs();
    host_ = new HostProcess({"--listen",
                             "http://127.0.0.1:0",
                             "--listen",
                             "https://127.0.0.1:0",
                             "--tls-cert",
                             certs_->server.cert_path,
                             "--tls-key",
                             certs_->server.key_path,
                             "--plugin",
                             plugin_path("hello"),
                             "--plugin",
                             "/probe=" + test_plugin_path("h2_probe"),
                             "--plugin",
                             "/echo=" + plugin_path("echo"),
                             "--plugin",
                             "/sse=" + plugin_path("sse"),
                             "--plugin",
                             "/blk=" + test_plugin_path("sleeper"),
                             "--server-timing",
                             "--max-body-size",
                             "300000",
                             "--workers",
                             "1",
                             "--async-threads",
                             "1"});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete certs_;
    certs_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }

  Proto proto() const { return GetParam(); }
  bool h2() const { return proto() != Proto::Http11; }

  std::string url(const std::string& path) const {
    if (proto() == Proto::H2Tls) {
      return "https://localhost:" + std::to_string(host_->ports()[1]) + path;
    }
    return "http://127.0.0.1:" + std::to_string(host_->ports()[0]) + path;
  }
  std::string authority() const {
    return proto() == Proto::H2Tls
               ? "localhost:" + std::to_string(host_->ports()[1])
               : "127.0.0.1:" + std::to_string(host_->ports()[0]);
  }
  // curl over this test's protocol; `args` end with the URL.
  CommandResult curl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "30"};
    switch (proto()) {
      case Proto::Http11:
        argv.push_back("--http1.1");
        break;
      case Proto::H2c:
        argv.push_back("--http2-prior-knowledge");
        break;
      case Proto::H2Tls:
        argv.insert(
            argv.end(),
            {"--http2", "--cacert", certs_->pki->ca_cert(), "--resolve",
             "localhost:" + std::to_string(host_->ports()[1]) + ":127.0.0.1"});
        break;
    }
    for (auto& a : args) argv.push_back(std::move(a));
    return run_command(argv, 60s);
  }
  std::string version() const { return h2() ? "2" : "1.1"; }
  // The access log's protocol.
  std::string log_version() const { return h2() ? "HTTP/2.0" : "HTTP/1.1"; }

  static Certs* certs_;
  static HostProcess* host_;
};

Certs* BothProtocols::certs_ = nullptr;
HostProcess* BothProtocols::host_ = nullptr;

TEST_P(BothProtocols, Hello) {
  auto r = curl({"-w", "\n%{http_version}", url("/")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, World!\n" + version());
}

TEST_P(BothProtocols, RequestViewSaysTheVersionAndAuthority) {
  auto r = curl({"-H", "X-Test: yes", url("/probe/view?q=1")});
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string& v = r.out;
  EXPECT_TRUE(contains(v, h2() ? "major=2\nminor=0\n" : "major=1\nminor=1\n"))
      << v;
  EXPECT_TRUE(contains(v, "method=GET\ntarget=/probe/view?q=1\n")) << v;
  EXPECT_TRUE(contains(v, "query=q=1\n")) << v;
  EXPECT_TRUE(
      contains(v, proto() == Proto::H2Tls ? "scheme=https\n" : "scheme=http\n"))
      << v;
  // :authority is the host; HTTP/1.1 has it from Host.
  EXPECT_TRUE(contains(v, "authority=" + authority() + "\n")) << v;
  EXPECT_TRUE(contains(lower(v), "header=x-test: yes\n")) << v;
  // Ordinary fields only: no pseudo-header reaches the plugin.
  EXPECT_FALSE(contains(v, "header=:")) << v;
}

TEST_P(BothProtocols, BlockingAndAsyncRoutesSeeTheSameView) {
  for (const char* path : {"/probe/blocking/view", "/probe/async/view"}) {
    auto r = curl({url(path)});
    ASSERT_EQ(r.status, 0) << path << r.err;
    EXPECT_TRUE(contains(r.out, h2() ? "major=2\n" : "major=1\n"))
        << path << r.out;
    EXPECT_TRUE(contains(r.out, "authority=" + authority() + "\n"))
        << path << r.out;
    EXPECT_FALSE(contains(r.out, "header=:")) << path << r.out;
  }
}

TEST_P(BothProtocols, SyncBodyRoundTrip) {
  const std::string body = random_bytes(200000);
  const std::string in = certs_->dir + "/in-" + proto_name(proto());
  const std::string out = certs_->dir + "/out-" + proto_name(proto());
  std::ofstream(in, std::ios::binary) << body;
  auto r =
      curl({"--data-binary", "@" + in, "-H", "Content-Type: application/x-test",
            "-o", out, "-w", "%{http_code}", url("/echo")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "200");
  std::ifstream f(out, std::ios::binary);
  std::string got((std::istreambuf_iterator<char>(f)),
                  std::istreambuf_iterator<char>());
  EXPECT_EQ(got.size(), body.size());
  EXPECT_TRUE(got == body);
}

TEST_P(BothProtocols, BodyOverMaxBodySizeIs413) {
  const std::string in = certs_->dir + "/big-" + proto_name(proto());
  std::ofstream(in, std::ios::binary) << std::string(300001, 'x');
  auto r = curl(
      {"--data-binary", "@" + in, "-D", "-", "-o", "/dev/null", url("/echo")});
  EXPECT_TRUE(contains(r.out, " 413")) << r.out << r.err;
  EXPECT_TRUE(contains(lower(r.out), "x-pounce-error: body_too_large"))
      << r.out;
}

TEST_P(BothProtocols, AsyncOnBodyStreamsTheBody) {
  const std::string in = certs_->dir + "/async-" + proto_name(proto());
  std::ofstream(in, std::ios::binary) << std::string(150000, 'a');
  auto r = curl({"--data-binary", "@" + in, url("/probe/async/body")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "bytes=150000 ")) << r.out;
}

TEST_P(BothProtocols, ResponseTrailers) {
  auto r = curl({"-D", "-", url("/probe/async/trailers")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "hello world")) << r.out;
  // curl writes trailers with the headers (-D).
  EXPECT_TRUE(contains(lower(r.out), "x-checksum: 42")) << r.out;
}

TEST_P(BothProtocols, CompressionPerResponse) {
  auto r = curl({"-H", "Accept-Encoding: gzip", "-D", "-", "-o", "/dev/null",
                 url("/probe/big?n=100000")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(lower(r.out), "content-encoding: gzip")) << r.out;
  EXPECT_TRUE(contains(lower(r.out), "vary: accept-encoding")) << r.out;
  auto d = curl(
      {"--compressed", "-w", "\n%{size_download}", url("/probe/big?n=100000")});
  ASSERT_EQ(d.status, 0) << d.err;
  const size_t nl = d.out.rfind('\n');
  ASSERT_NE(nl, std::string::npos);
  EXPECT_EQ(nl, 100000u);  // the whole body, decoded
  EXPECT_LT(std::stoul(d.out.substr(nl + 1)), 20000u) << "compressed size";
}

TEST_P(BothProtocols, ServerTimingPerResponse) {
  auto r = curl({"-D", "-", "-o", "/dev/null", url("/probe/view")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(lower(r.out), "server-timing: parse;dur=")) << r.out;
  EXPECT_TRUE(contains(r.out, "app;dur=")) << r.out;
}

TEST_P(BothProtocols, AccessLogShowsTheProtocol) {
  const std::string path = "/probe/view?log=" + proto_name(proto());
  auto r = curl({"-o", "/dev/null", url(path)});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      host_->wait_for_stdout("\"GET " + path + " " + log_version() + "\" 200 "))
      << host_->stdout_text();
}

TEST_P(BothProtocols, ConnectionSpecificResponseHeadersAre500) {
  for (const char* name : {"Connection", "Keep-Alive", "Proxy-Connection",
                           "Transfer-Encoding", "Upgrade"}) {
    auto r = curl(
        {"-D", "-", url(std::string("/probe/set?name=") + name + "&value=x")});
    EXPECT_EQ(r.status, 0) << name << r.err;
    EXPECT_TRUE(contains(r.out, " 500")) << name << r.out;
    EXPECT_TRUE(contains(lower(r.out), "x-pounce-error: framing_header_set"))
        << name << r.out;
  }
  auto ok = curl({"-D", "-", url("/probe/set?name=X-Fine&value=yes")});
  EXPECT_TRUE(contains(lower(ok.out), "x-fine: yes")) << ok.out;
}

TEST_P(BothProtocols, ServerSentEvents) {
  auto r = curl({"-N", url("/sse/events?count=3&interval_ms=10")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "id: 0\n")) << r.out;
  EXPECT_TRUE(contains(r.out, "id: 2\n")) << r.out;
  EXPECT_FALSE(contains(r.out, "id: 3\n")) << r.out;
}

TEST_P(BothProtocols, HeadHasTheLengthAndNoBody) {
  auto r = curl({"-I", url("/probe/big?n=1000")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(contains(lower(r.out), "content-length: 1000")) << r.out;
}

TEST_P(BothProtocols, BlockingHandler) {
  auto r = curl({url("/blk/sleep?ms=20")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "slept 20");
}

INSTANTIATE_TEST_SUITE_P(Http, BothProtocols,
                         ::testing::Values(Proto::Http11, Proto::H2c,
                                           Proto::H2Tls),
                         [](const auto& info) {
                           return proto_name(info.param);
                         });

// ---------------------------------------------------------------------------
// HTTP/2's own

std::vector<std::string> probe_args(std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {
      "--plugin",       test_plugin_path("h2_probe"),
      "--plugin",       "/blk=" + test_plugin_path("sleeper"),
      "--workers",      "1",
      "--no-access-log"};
  for (auto& s : extra) a.push_back(std::move(s));
  return a;
}

CommandResult nghttp(const HostProcess& h, const std::string& path) {
  return run_command({"nghttp", "-nv", "-t", "20", h.url(path)}, 60s);
}

// A stream's memory is reused for the connection's next request (from the
// thread's pool): each reused one must be admitted as a new request. It
// once kept the first request's admission, so that later streams skipped
// the rate limit, the forwarding headers and their own request id.
TEST(H2StreamReuse, EveryRequestOfAConnectionIsAdmitted) {
  HostProcess h(probe_args({"--rate-limit", "1", "--rate-limit-burst", "3",
                            "--forwarded-allow-ips", "127.0.0.1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string out = h2_client(
      h.port(), {"repeat", "/view", "4",
                 "x-forwarded-proto: https\nx-forwarded-for: 203.0.113.8"});
  const nlohmann::json r = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << out;
  const auto& rs = r["responses"];
  ASSERT_EQ(rs.size(), 4u) << out;
  std::set<std::string> ids;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rs[i]["status"], "200") << i << out;
    const std::string body = rs[i]["body"];
    EXPECT_TRUE(contains(body, "scheme=https\n")) << i << body;
    ASSERT_TRUE(rs[i]["request_id"].is_string()) << i << out;
    ids.insert(rs[i]["request_id"].get<std::string>());
  }
  EXPECT_EQ(ids.size(), 3u) << out;          // one per request
  EXPECT_EQ(rs[3]["status"], "429") << out;  // the burst was 3
}

// A blocking handler over HTTP/2 sees its own request's id (X-Request-ID
// through the request's header call): the job it runs in is recycled, and
// the HTTP/2 path once left the id out of it, so the handler saw nothing
// (a fresh job) or the last request's id (a reused one).
TEST(H2Blocking, TheHandlerSeesItsOwnRequestId) {
  HostProcess h(
      probe_args({"--plugin", "/b=" + test_plugin_path("inspect_blocking")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string out = h2_client(h.port(), {"repeat", "/b/x", "3"});
  const nlohmann::json r = nlohmann::json::parse(out, nullptr, false);
  ASSERT_TRUE(r.is_object()) << out;
  const auto& rs = r["responses"];
  ASSERT_EQ(rs.size(), 3u) << out;
  for (size_t i = 0; i < rs.size(); ++i) {
    ASSERT_EQ(rs[i]["status"], "200") << i << out;
    ASSERT_TRUE(rs[i]["request_id"].is_string()) << i << out;
    const std::string id = rs[i]["request_id"];
    const std::string body = rs[i]["body"];
    EXPECT_TRUE(contains(body, "request_id=" + id + "\n")) << i << body;
  }
}

// Large answers on many streams at once: their DATA payloads are written
// from each stream's own buffer (h2::Transport::WireRef), interleaved with
// the other streams' frames. Every answer must be its own request's bytes.
TEST(H2LargeBodies, ConcurrentAnswersAreEachTheirOwn) {
  HostProcess h(probe_args({"--plugin", "/echo=" + plugin_path("echo")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string out =
      h2_client(h.port(), {"echo-concurrent", "/echo", "8", "60000"});
  EXPECT_TRUE(contains(out, "\"streams\": 8, \"wrong\": [], ")) << out;
}

TEST(H2Settings, DefaultsAnnounced) {
  HostProcess h(probe_args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = nghttp(h, "/view");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100]"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "[SETTINGS_INITIAL_WINDOW_SIZE(0x04):65535]"));
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_FRAME_SIZE(0x05):16384]"));
  // = --max-header-size.
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_HEADER_LIST_SIZE(0x06):16384]"));
  EXPECT_TRUE(contains(r.out, "[SETTINGS_ENABLE_CONNECT_PROTOCOL(0x08):1]"));
  // The connection window raised to 1 MiB.
  EXPECT_TRUE(contains(r.out, "(window_size_increment=983041)")) << r.out;
}

TEST(H2Settings, FlagsAnnounced) {
  HostProcess h(probe_args(
      {"--h2-max-concurrent-streams", "7", "--h2-initial-window-size", "100000",
       "--h2-max-frame-size", "32768", "--max-header-size", "8192"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = nghttp(h, "/view");
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_CONCURRENT_STREAMS(0x03):7]"))
      << r.out;
  EXPECT_TRUE(contains(r.out, "[SETTINGS_INITIAL_WINDOW_SIZE(0x04):100000]"));
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_FRAME_SIZE(0x05):32768]"));
  EXPECT_TRUE(contains(r.out, "[SETTINGS_MAX_HEADER_LIST_SIZE(0x06):8192]"));
}

TEST(H2Settings, HeaderListOverTheLimitIs431) {
  HostProcess h(probe_args({"--h2-max-header-list-size", "4096"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto s = nghttp(h, "/view");
  EXPECT_TRUE(contains(s.out, "[SETTINGS_MAX_HEADER_LIST_SIZE(0x06):4096]"))
      << s.out;
  auto r = run_command({"curl", "-sS", "--http2-prior-knowledge", "-D", "-",
                        "-o", "/dev/null", "-H",
                        "X-Big: " + std::string(5000, 'b'), h.url("/view")});
  EXPECT_TRUE(contains(r.out, " 431")) << r.out << r.err;
  EXPECT_TRUE(contains(lower(r.out), "headers_too_large")) << r.out;
  // Below it, served.
  auto ok = run_command({"curl", "-sS", "--http2-prior-knowledge", "-H",
                         "X-Big: " + std::string(3000, 'b'), h.url("/view")});
  EXPECT_TRUE(contains(ok.out, "major=2")) << ok.out << ok.err;
}

TEST(H2Settings, NoHttp2ServesHttp1Only) {
  Certs certs;
  HostProcess h({"--listen", "http://127.0.0.1:0", "--listen",
                 "https://127.0.0.1:0", "--tls-cert", certs.server.cert_path,
                 "--tls-key", certs.server.key_path, "--plugin",
                 plugin_path("hello"), "--no-http2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // The preface is no HTTP/1 request: 505, as any HTTP/2.0 request line.
  auto pk = run_command({"curl", "-sS", "--http2-prior-knowledge", "--max-time",
                         "10", h.url("/")});
  EXPECT_NE(pk.status, 0) << pk.out;
  EXPECT_TRUE(h.wait_for_stderr("505 VERSION_NOT_SUPPORTED"))
      << h.stderr_text();
  // ALPN offers no h2: curl falls back to HTTP/1.1.
  const std::string port = std::to_string(h.ports()[1]);
  auto tls =
      run_command({"curl", "-sS", "--http2", "--cacert", certs.pki->ca_cert(),
                   "--resolve", "localhost:" + port + ":127.0.0.1", "-w",
                   " %{http_version}", "https://localhost:" + port + "/"});
  EXPECT_EQ(tls.out, "Hello, World! 1.1") << tls.err;
}

TEST(H2Settings, AlpnH2IsTheDefaultOverTls) {
  Certs certs;
  HostProcess h({"--listen", "https://127.0.0.1:0", "--tls-cert",
                 certs.server.cert_path, "--tls-key", certs.server.key_path,
                 "--plugin", test_plugin_path("h2_probe")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string port = std::to_string(h.port());
  // nghttp negotiates h2 by ALPN; so does h2load.
  auto n = run_command(
      {"nghttp", "-n", "-t", "20", "https://127.0.0.1:" + port + "/view"}, 60s);
  EXPECT_EQ(n.status, 0) << n.out << n.err;
  auto l = run_command({"h2load", "-n", "400", "-c", "2", "-m", "20",
                        "https://127.0.0.1:" + port + "/view"},
                       60s);
  EXPECT_TRUE(contains(l.out, "400 succeeded")) << l.out << l.err;
  EXPECT_TRUE(contains(l.out, "Application protocol: h2")) << l.out;
}

class H2 : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess(
        probe_args({"--max-body-size", "300000", "--blocking-threads", "4"}));
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  static std::string client(std::vector<std::string> args) {
    return h2_client(host_->port(), std::move(args));
  }
  static HostProcess* host_;
};

HostProcess* H2::host_ = nullptr;

TEST_F(H2, MalformedRequestsAreStreamErrors) {
  // RFC 9113 §8.1.1, §8.2, §8.3: RST_STREAM with PROTOCOL_ERROR (1); the
  // connection goes on (the next request on it is served).
  for (const char* name :
       {"path-not-slash", "path-absolute", "no-method", "no-path",
        "unknown-pseudo", "pseudo-after-regular", "upper-case-name",
        "connection-header", "keep-alive-header", "upgrade-header",
        "proxy-connection-header", "transfer-encoding", "te-gzip",
        "host-mismatch", "crlf-in-value", "nul-in-value"}) {
    std::string r = client({"malformed", name});
    EXPECT_TRUE(contains(r, "\"reset\": 1,")) << name << ": " << r;
    EXPECT_TRUE(contains(r, "\"after\": \"200\"")) << name << ": " << r;
  }
  for (const char* name : {"te-trailers", "host-match", "ok"}) {
    std::string r = client({"malformed", name});
    EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << name << ": " << r;
    EXPECT_TRUE(contains(r, "major=2")) << name << ": " << r;
  }
  // A CONNECT without :protocol is well-formed, and not served.
  std::string c = client({"malformed", "plain-connect"});
  EXPECT_TRUE(contains(c, "\"status\": \"400\"")) << c;
}

TEST_F(H2, ContentLengthDisagreeingWithDataIsAStreamError) {
  std::string r = client({"content-length-mismatch", "/view"});
  EXPECT_TRUE(contains(r, "\"reset\": 1,")) << r;
  EXPECT_TRUE(contains(r, "\"status\": null")) << r;
}

TEST_F(H2, RequestTrailersReachTheSyncHandler) {
  std::string r = client(
      {"request", "POST", "/view", "x-a: 1", "hello", "x-t: 9\nx-u: 10"});
  EXPECT_TRUE(contains(r, "body_len=5\\n")) << r;
  EXPECT_TRUE(contains(r, "trailer=x-t: 9\\ntrailer=x-u: 10\\n")) << r;
  EXPECT_TRUE(contains(r, "header=x-a: 1\\n")) << r;
}

TEST_F(H2, CookieCrumbsAreJoined) {
  // RFC 9113 §8.2.3: split cookies are one field again for the plugin.
  std::string r =
      client({"request", "GET", "/view", "cookie: a=1\ncookie: b=2\nx: y"});
  EXPECT_TRUE(contains(r, "header=cookie: a=1; b=2\\n")) << r;
}

TEST_F(H2, ErrorsEndTheStreamNotTheConnection) {
  std::string r =
      client({"sequence", "/nothing", "POST:@300001:/view", "/blk/", "/view"});
  EXPECT_TRUE(contains(r, "\"statuses\": [\"404\", \"413\", \"200\", \"200\"]"))
      << r;
  EXPECT_TRUE(contains(r, "\"goaway\": null")) << r;
}

TEST_F(H2, ABlockingHandlerDoesNotStallOtherStreams) {
  // One connection: a blocking handler sleeping 1.5 s, then a sync request.
  // The sync one is answered first; the blocking one after its sleep.
  std::string r = client({"concurrent", "/blk/sleep?ms=1500", "/view"});
  EXPECT_TRUE(contains(r, "\"order\": [\"fast\", \"slow\"]")) << r;
  EXPECT_TRUE(contains(r, "\"slow\": \"200\"")) << r;
}

TEST_F(H2, PrefaceInTwoSegments) {
  std::string r = client({"preface-split", "/view"});
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "major=2")) << r;
}

TEST_F(H2, PrefaceOnlyOpensAConnection) {
  // After an HTTP/1.1 request, the preface is just a bad request line.
  RawClient c(host_->port());
  ASSERT_TRUE(c.connected());
  c.send("GET /view HTTP/1.1\r\nHost: x\r\n\r\n");
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  c.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  auto second = c.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 505);
}

TEST_F(H2, ManyConcurrentStreams) {
  auto r = run_command(
      {"h2load", "-n", "3000", "-c", "3", "-m", "40", host_->url("/view")},
      60s);
  EXPECT_TRUE(contains(r.out, "3000 succeeded")) << r.out << r.err;
  auto b = run_command({"h2load", "-n", "60", "-c", "1", "-m", "20",
                        host_->url("/blk/sleep?ms=10")},
                       60s);
  EXPECT_TRUE(contains(b.out, "60 succeeded")) << b.out << b.err;
}

TEST(H2Timeouts, AnUnfinishedHeaderBlockEndsAtHeaderTimeout) {
  HostProcess h(probe_args({"--header-timeout", "1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // Nothing but CONTINUATION may follow: the whole connection waits, so at
  // --header-timeout it ends (GOAWAY, then the close).
  std::string r = h2_client(h.port(), {"unfinished-header-block"});
  EXPECT_TRUE(contains(r, "\"goaway\": {\"error\": 0,")) << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_TRUE(h.wait_for_stderr("unfinished after --header-timeout"))
      << h.stderr_text();
}

TEST_F(H2, DeclaredBodyOverTheLimitIs413ForEveryMode) {
  for (const char* path : {"/view", "/blocking/view", "/async/body"}) {
    std::string r =
        client({"request", "POST", path, "content-length: 300001", "@300001"});
    EXPECT_TRUE(contains(r, "\"status\": \"413\"")) << path << r;
  }
}

// The attacks of issue 13 §3 have their own file: http2_attacks_test.cpp.

// ---------------------------------------------------------------------------
// Async streams over HTTP/2 (step 3): flow control is the backpressure; the
// connection moves, whole, to an async loop

class H2Async : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> a =
        probe_args({"--plugin", "/sp=" + test_plugin_path("stream_probe_v1"),
                    "--async-threads", "1", "--blocking-threads", "4"});
    for (auto& s : extra) a.push_back(std::move(s));
    host_ = std::make_unique<HostProcess>(a);
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }
  std::string client(std::vector<std::string> args) {
    return h2_client(host_->port(), std::move(args));
  }
  std::unique_ptr<HostProcess> host_;
};

TEST_F(H2Async, ClosedWindowIsHighWaterAndAnOpenedOneOnWritable) {
  start();
  // The client spends its windows (65,535 bytes) and waits: the stream's
  // queue fills past --stream-high-water, so the plugin's write reports
  // POUNCE_HIGH_WATER ("high water"); once the client opens its windows,
  // on_writable fires and the 4 MiB flood completes.
  std::string r = client({"flow", "/sp/flood?mode=polite", "4194304"});
  EXPECT_TRUE(contains(r, "\"stalled_at\": 65535,")) << r;
  EXPECT_TRUE(contains(r, "\"total\": 4194304,")) << r;
  EXPECT_TRUE(contains(r, "\"ended\": true")) << r;
  const std::string err = host_->stderr_text();
  const size_t high = err.find("high water");
  const size_t writable = err.find("on_writable");
  ASSERT_NE(high, std::string::npos) << err;
  ASSERT_NE(writable, std::string::npos) << err;
  EXPECT_LT(high, writable) << err;
}

TEST_F(H2Async, AStreamThatNeverDrainsIsClosedAtStreamMaxBuffer) {
  start({"--stream-max-buffer", "262144"});
  // A rude flood ignores POUNCE_HIGH_WATER; the client never opens its
  // window: past --stream-max-buffer the stream (not the connection) is
  // reset, with INTERNAL_ERROR (2), and on_close says OVERFLOW (3).
  std::string r = client({"never-read", "/sp/flood?mode=rude"});
  EXPECT_TRUE(contains(r, "\"received\": 65535,")) << r;
  EXPECT_TRUE(contains(r, "\"reset\": 2,")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("over --stream-max-buffer"))
      << host_->stderr_text();
  EXPECT_TRUE(host_->wait_for_stderr("v1 on_close reason=3"))
      << host_->stderr_text();
}

TEST_F(H2Async, PeerResetEndsOneStreamWithReset) {
  start();
  std::string r = client({"reset-after-first-chunk", "/async/slow?n=100"});
  EXPECT_TRUE(contains(r, "\"first\": \"chunk 99\\n")) << r;
  EXPECT_TRUE(contains(r, "\"after\": \"200\"")) << r;
  // POUNCE_CLOSE_RESET (6): the peer reset this stream only.
  EXPECT_TRUE(host_->wait_for_stderr("h2probe on_close reason=6"))
      << host_->stderr_text();
}

TEST_F(H2Async, NoStreamWaitsForAnothersPlugin) {
  start();
  // On one connection: a blocking handler sleeping 1.5 s (started on the
  // worker), then an async stream (which moves the connection, whole, to
  // the async loop while the handler still runs), then a sync request.
  // The async and the sync ones finish first; the blocking handler's
  // answer follows the connection to its new loop.
  std::string r = client({"mixed", "/blk/sleep?ms=1500", "/async/slow?n=3",
                          "/view", "/sp/tick?count=2&interval_ms=10"});
  EXPECT_TRUE(contains(r, "\"statuses\": [\"200\", \"200\", \"200\", \"200\"]"))
      << r;
  EXPECT_TRUE(contains(r, "\"slept 1500\"")) << r;
  EXPECT_TRUE(contains(r, "chunk 2\\nchunk 1\\nchunk 0\\n")) << r;
  EXPECT_TRUE(contains(r, "v1 tick 0\\nv1 tick 1\\n")) << r;
  // The blocking one (index 0) is last.
  EXPECT_TRUE(contains(r, "\"order\": [")) << r;
  EXPECT_TRUE(contains(r, ", 0], \"statuses\"")) << r;
  // And after the move, the connection serves on (sync inline there).
  std::string again = client({"sequence", "/async/view", "/view", "/view"});
  EXPECT_TRUE(contains(again, "[\"200\", \"200\", \"200\"]")) << again;
}

TEST_F(H2Async, RequestBodyOfAnAsyncStreamThatWaitedForItsLoop) {
  start();
  // The body arrives with the head, while the connection moves: on_body
  // still gets all of it, after on_request.
  std::string r = client({"request", "POST", "/async/body", "", "@200000"});
  EXPECT_TRUE(contains(r, "bytes=200000 ")) << r;
}

// ---------------------------------------------------------------------------
// WebSockets over HTTP/2 (RFC 8441, step 4)

class H2WebSocket : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess(
        probe_args({"--plugin", "/ws=" + test_plugin_path("ws_probe_v1"),
                    "--plugin", "/echo=" + plugin_path("echo")}));
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  static std::string client(std::vector<std::string> args) {
    return h2_client(host_->port(), std::move(args));
  }
  static HostProcess* host_;
};

HostProcess* H2WebSocket::host_ = nullptr;

TEST_F(H2WebSocket, ExtendedConnectOpensTheSameHooks) {
  // SETTINGS_ENABLE_CONNECT_PROTOCOL, then CONNECT with :protocol
  // websocket: a 200 with the chosen subprotocol and permessage-deflate;
  // on_ws_open's message, echoes (one compressed both ways), the plugin's
  // own answer, our close 1000 answered; the connection lives on.
  std::string r = client({"websocket", "/ws/greet", "hi",
                          "z:compressed hello hello hello", "version"});
  EXPECT_TRUE(contains(r, "\"enable_connect_protocol\": 1,")) << r;
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "[\"sec-websocket-protocol\", \"chat\"]")) << r;
  EXPECT_TRUE(contains(r,
                       "[\"sec-websocket-extensions\", "
                       "\"permessage-deflate"))
      << r;
  EXPECT_TRUE(contains(r,
                       "\"received\": [\"hello from on_ws_open\", "
                       "\"hi\", \"compressed hello hello hello\", "
                       "\"v1\"]"))
      << r;
  EXPECT_TRUE(contains(r, "\"close_code\": 1000")) << r;
  EXPECT_TRUE(contains(r, "\"ended\": true")) << r;
  EXPECT_TRUE(contains(r, "\"after\": \"200\"")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("v1 ws on_ws_close code=1000 reason=done"))
      << host_->stderr_text();
}

TEST_F(H2WebSocket, ServerCloseAndEcho) {
  std::string r = client({"websocket", "/echo", "one", "z:two two two"});
  EXPECT_TRUE(contains(r, "\"received\": [\"one\", \"two two two\"]")) << r;
  // The plugin closes (4000): our close frame, the client's answer, then
  // END_STREAM both ways.
  std::string c = client({"websocket", "/ws/x", "close-me"});
  EXPECT_TRUE(contains(c, "\"close_code\": 4000")) << c;
  EXPECT_TRUE(contains(c, "\"ended\": true")) << c;
  EXPECT_TRUE(host_->wait_for_stderr("v1 ws on_ws_close code=4000"))
      << host_->stderr_text();
}

TEST_F(H2WebSocket, RefusalsAreResponses) {
  // The plugin's refusal, a plugin without WebSocket hooks, a wrong
  // version (426 with the version the server speaks).
  std::string f = client({"websocket-refused", "/ws/forbidden"});
  EXPECT_TRUE(contains(f, "\"status\": \"403\"")) << f;
  std::string u = client({"websocket-refused", "/view"});
  EXPECT_TRUE(contains(u, "\"status\": \"400\"")) << u;
  EXPECT_TRUE(contains(u, "WEBSOCKET_UNSUPPORTED")) << u;
  std::string v = client({"websocket-refused", "/ws/x", "8"});
  EXPECT_TRUE(contains(v, "\"status\": \"426\"")) << v;
  EXPECT_TRUE(contains(v, "[\"sec-websocket-version\", \"13\"]")) << v;
}

TEST_F(H2WebSocket, PeerResetIsAnAbnormalClose) {
  std::string r = client({"websocket-reset", "/ws/x"});
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "\"after\": \"200\"")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("v1 ws on_ws_close code=1006"))
      << host_->stderr_text();
}

// ---------------------------------------------------------------------------
// Graceful shutdown and reload (step 5): GOAWAY with the last stream id,
// then the streams in flight finish, within the HTTP/1 timeouts

class H2Drain : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> a =
        probe_args({"--plugin", "/sp=" + test_plugin_path("stream_probe_v1"),
                    "--no-supervise"});
    for (auto& s : extra) a.push_back(std::move(s));
    host_ = std::make_unique<HostProcess>(a);
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }
  std::string drain(const std::string& path, const std::string& sig,
                    const std::string& after = "") {
    return h2_client(host_->port(),
                     {"drain", path, std::to_string(host_->pid()), sig, after});
  }
  std::unique_ptr<HostProcess> host_;
};

TEST_F(H2Drain, ShutdownLetsAnAsyncStreamFinish) {
  start();
  // SIGTERM once the stream's first chunk arrived: GOAWAY (NO_ERROR, last
  // stream 1), every chunk still comes, then the server closes.
  std::string r = drain("/async/slow?n=10", "TERM");
  EXPECT_TRUE(contains(r, "chunk 9\\n")) << r;
  EXPECT_TRUE(contains(r, "chunk 0\\n")) << r;
  EXPECT_TRUE(contains(r, "\"ended\": true")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": {\"error\": 0, \"last_stream_id\": 1}"))
      << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_EQ(host_->wait_exit(), 0);
  // The stream completed: on_close(DONE), not RESET.
  EXPECT_TRUE(contains(host_->stderr_text(), "h2probe on_close reason=0"))
      << host_->stderr_text();
}

TEST_F(H2Drain, ShutdownLetsABlockingHandlerFinish) {
  start();
  std::string r;
  std::thread client([&] { r = drain("/blk/sleep?ms=800", "TERM"); });
  // Not the client: it cannot see the handler start. The signal comes from
  // the test once the handler is running.
  ASSERT_TRUE(host_->wait_for_stderr("sleep entered")) << host_->stderr_text();
  host_->signal(SIGTERM);
  client.join();
  EXPECT_TRUE(contains(r, "\"body\": \"slept 800\"")) << r;
  EXPECT_TRUE(contains(r, "\"last_stream_id\": 1}")) << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_EQ(host_->wait_exit(), 0);
}

TEST_F(H2Drain, IdleConnectionGetsGoawayAndIsClosed) {
  start();
  std::string r = drain("/view", "TERM");
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": {\"error\": 0, \"last_stream_id\": 1}"))
      << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_EQ(host_->wait_exit(), 0);
}

TEST_F(H2Drain, AWebSocketGetsGoingAwayAtShutdown) {
  start({"--plugin", "/ws=" + test_plugin_path("ws_probe_v1")});
  std::string r = h2_client(host_->port(), {"websocket-drain", "/ws/x",
                                            std::to_string(host_->pid())});
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "\"close_code\": 1001")) << r;
  EXPECT_TRUE(contains(r, "\"last_stream_id\": 1}")) << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_EQ(host_->wait_exit(), 0);
  EXPECT_TRUE(contains(host_->stderr_text(), "v1 ws on_ws_close code=1001"))
      << host_->stderr_text();
}

TEST_F(H2Drain, IdleTimeoutIsGoawayThenClose) {
  start({"--keep-alive-timeout", "0.3"});
  // No stream for --keep-alive-timeout: GOAWAY (NO_ERROR), then the close.
  std::string r = h2_client(host_->port(), {"drain", "/view"});
  EXPECT_TRUE(contains(r, "\"status\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": {\"error\": 0, \"last_stream_id\": 1}"))
      << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
  EXPECT_TRUE(host_->running());
}

TEST_F(H2Drain, ABusyConnectionOutlivesTheKeepAliveTimeout) {
  start({"--keep-alive-timeout", "1"});
  // A request every 300 ms for 3 s, each answered within the read that
  // brought it: the connection is idle between them, never for 1 s.
  std::string r = h2_client(host_->port(), {"steady", "/view", "10", "300"});
  EXPECT_TRUE(contains(r,
                       "\"statuses\": [\"200\", \"200\", \"200\", "
                       "\"200\", \"200\", \"200\", \"200\", \"200\", "
                       "\"200\", \"200\"]"))
      << r;
  EXPECT_TRUE(contains(r, "\"goaway\": null")) << r;
}

TEST_F(H2Drain, IdleAfterAStreamThatEndedOnATimer) {
  start({"--keep-alive-timeout", "0.3"});
  // The last stream ends on the plugin's timer, not on a read: the
  // connection is idle from then on, and its timeout still applies.
  std::string r = h2_client(host_->port(), {"drain", "/async/slow?n=3"});
  EXPECT_TRUE(contains(r, "chunk 0\\n")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": {\"error\": 0, \"last_stream_id\": 1}"))
      << r;
  EXPECT_TRUE(contains(r, "\"closed\": true")) << r;
}

TEST_F(H2Drain, WindowsThatStayClosedMeetTheWriteTimeout) {
  start({"--write-timeout", "1"});
  // A large sync response to a client that never opens its windows: the
  // socket is idle, the response waits in its stream. As a socket the
  // client stopped reading, it is closed at --write-timeout.
  std::string r = h2_client(host_->port(), {"never-read", "/big?n=1000000"});
  EXPECT_TRUE(contains(r, "\"received\": 65535,")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("(its HTTP/2 windows stay closed)"))
      << host_->stderr_text();
}

TEST_F(H2Drain, ShutdownDeadlineEndsAnEndlessStream) {
  start({"--shutdown-timeout", "1"});
  // An endless stream: at --shutdown-timeout it gets its end (a final
  // DATA frame with END_STREAM, not a reset): a complete response, so
  // on_close(DONE), as over HTTP/1.1 (a final chunk).
  std::string r = drain("/sp/tick?count=0&interval_ms=50", "TERM");
  EXPECT_TRUE(contains(r, "v1 tick 0\\n")) << r;
  EXPECT_TRUE(contains(r, "\"ended\": true")) << r;
  EXPECT_TRUE(contains(r, "\"reset\": null")) << r;
  EXPECT_TRUE(contains(r, "\"last_stream_id\": 1}")) << r;
  EXPECT_EQ(host_->wait_exit(), 0);
  EXPECT_TRUE(contains(host_->stderr_text(), "v1 on_close reason=0"))
      << host_->stderr_text();
}

TEST_F(H2Drain, ReloadEndsTheOldGenerationsStreamsNotTheConnection) {
  start({"--reload-timeout", "1"});
  // SIGHUP: the endless stream pinned to the old generation ends at
  // --reload-timeout; the connection stays, and serves the next request
  // with the new generation. No GOAWAY.
  std::string r = drain("/sp/tick?count=0&interval_ms=50", "HUP", "/view");
  EXPECT_TRUE(contains(r, "\"ended\": true")) << r;
  EXPECT_TRUE(contains(r, "\"after\": \"200\"")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": null")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("reloaded generation 2"))
      << host_->stderr_text();
  EXPECT_TRUE(host_->wait_for_stderr("v1 on_close reason=0"))
      << host_->stderr_text();
}

}  // namespace
