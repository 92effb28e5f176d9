// Everything else works over TLS (issue 12 §5): the real pounce-host with
// https listeners, driven by real clients (OpenSSL through TlsClient, curl,
// python3's ssl and websockets, wrk). Each test is the TLS twin of a
// cleartext behaviour tested elsewhere.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "stream_decoder.h"
#include "tls_support.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

// An https listener on an ephemeral port, with the given extra arguments.
std::vector<std::string> https_args(const TempCert& cert,
                                    std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--listen", "https://127.0.0.1:0"};
  for (auto& s : cert.host_args()) a.push_back(s);
  for (auto& s : extra) a.push_back(std::move(s));
  return a;
}

// HTTP/1.1 over TLS: these are the twins of cleartext HTTP/1.1 tests, and
// curl would negotiate h2 by ALPN otherwise (http2_test.cpp covers that).
std::vector<std::string> curl_args(const TempCert& cert, uint16_t port,
                                   std::vector<std::string> extra) {
  std::vector<std::string> a = {
      "curl",       "-sS",
      "--max-time", "30",
      "--cacert",   cert.cert(),
      "--resolve",  "localhost:" + std::to_string(port) + ":127.0.0.1",
      "--http1.1"};
  for (auto& s : extra) a.push_back(std::move(s));
  return a;
}

std::string https_url(uint16_t port, const std::string& path) {
  return "https://localhost:" + std::to_string(port) + path;
}

// The events /sse/events sends, in order: "0", "1", ...
std::vector<std::string> event_ids(const std::string& text) {
  std::vector<std::string> ids;
  for (size_t at = text.find("id: "); at != std::string::npos;
       at = text.find("id: ", at + 1)) {
    ids.push_back(text.substr(at + 4, text.find('\n', at) - at - 4));
  }
  return ids;
}

class TlsServe : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_ = new TempCert();
    if (!cert_->ok()) return;
    host_ = new HostProcess(https_args(
        *cert_, {"--plugin", plugin_path("hello"), "--plugin",
                 "/echo=" + plugin_path("echo"), "--plugin",
                 "/sse=" + plugin_path("sse"), "--plugin",
                 "/probe=" + test_plugin_path("stream_probe_v1"), "--plugin",
                 "/blk=" + test_plugin_path("sleeper"), "--workers", "1",
                 "--async-threads", "1", "--stream-high-water", "65536",
                 "--stream-max-buffer", "1048576", "--no-access-log"}));
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete cert_;
    cert_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(cert_->ok()) << cert_->error();
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }
  static uint16_t port() { return host_->port(); }
  static CommandResult curl(std::vector<std::string> extra) {
    return run_command(curl_args(*cert_, port(), std::move(extra)));
  }

  static TempCert* cert_;
  static HostProcess* host_;
};

TempCert* TlsServe::cert_ = nullptr;
HostProcess* TlsServe::host_ = nullptr;

TEST_F(TlsServe, StartupLineNamesTheHttpsListener) {
  ASSERT_EQ(host_->listener_urls().size(), 1u);
  EXPECT_EQ(host_->listener_urls()[0],
            "https://127.0.0.1:" + std::to_string(port()));
}

// ---------------------------------------------------------------------------
// Keep-alive and pipelining

TEST_F(TlsServe, KeepAliveServesManyRequestsOverOneHandshake) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "request " << i << ": " << to_string(c.close_kind());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "Hello, World!");
  }
  EXPECT_EQ(c.handshakes(), 1);
  EXPECT_EQ(c.close_kind(), TlsClose::StillOpen);
}

TEST_F(TlsServe, CurlReusesTheTlsConnection) {
  auto r = curl({"-v", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                 https_url(port(), "/"), https_url(port(), "/json"),
                 https_url(port(), "/")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(count_of(r.err, "SSL connection using"), 1u) << r.err;
  EXPECT_EQ(count_of(r.err, "Re-using existing connection"), 2u) << r.err;
  EXPECT_EQ(count_of(r.err, "< HTTP/1.1 200"), 3u) << r.err;
}

TEST_F(TlsServe, ThreePipelinedRequestsInOneRecord) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/") + get("/json") + get("/")));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->body, "Hello, World!");
  EXPECT_EQ(r2->body, "{\"message\":\"Hello, World!\"}");
  EXPECT_EQ(r3->body, "Hello, World!");
}

// More than one record's worth of requests in one write: the server reads
// several records per socket read and must serve all of them, also when
// it stops reading midway (responses waiting for the client).
TEST_F(TlsServe, PipelinedBurstLargerThanARecord) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  std::string burst;
  int n = 0;
  while (burst.size() < 64 * 1024) {
    burst += get(n % 2 ? "/json" : "/");
    ++n;
  }
  ASSERT_TRUE(c.send(burst));
  for (int i = 0; i < n; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << " of " << n << ": "
                   << to_string(c.close_kind());
    ASSERT_EQ(r->body,
              i % 2 ? "{\"message\":\"Hello, World!\"}" : "Hello, World!")
        << i;
  }
}

// The same against a client that reads slowly (a small receive buffer):
// the server stops reading with records undecrypted, and must resume them
// when the socket drains, with no new input from the client.
TEST_F(TlsServe, PipelinedBurstToASlowReader) {
  TlsClientOptions o;
  o.socket.receive_buffer = 4096;
  TlsClient c(port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  std::string burst;
  int n = 0;
  while (burst.size() < 256 * 1024) {
    burst += get(n % 2 ? "/json" : "/");
    ++n;
  }
  ASSERT_TRUE(c.send(burst));
  for (int i = 0; i < n; ++i) {
    auto r = c.read_response(false, 20s);
    ASSERT_TRUE(r) << "response " << i << " of " << n << ": "
                   << to_string(c.close_kind());
    ASSERT_EQ(r->body,
              i % 2 ? "{\"message\":\"Hello, World!\"}" : "Hello, World!")
        << i;
  }
  EXPECT_EQ(c.handshakes(), 1);
}

// Records that end in the middle of a request line, a header, or the
// blank line: the plaintext is one stream whatever the record boundaries.
TEST_F(TlsServe, PipelinedSmallRequestsSplitAcrossRecords) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  std::string all;
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) all += get(i % 2 ? "/json" : "/");
  std::vector<std::string> pieces;
  size_t sizes[] = {1, 7, 13, 2, 31, 5};
  for (size_t off = 0, i = 0; off < all.size(); ++i) {
    size_t len = std::min(sizes[i % 6], all.size() - off);
    pieces.push_back(all.substr(off, len));
    off += len;
  }
  ASSERT_TRUE(c.send_records(pieces));
  for (int i = 0; i < kRequests; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r) << "response " << i << ": " << to_string(c.close_kind());
    ASSERT_EQ(r->status, 200);
  }
}

// ---------------------------------------------------------------------------
// Request bodies

TEST_F(TlsServe, ChunkedRequestBodyInSeveralRecords) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(
      "POST /echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n"
      "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  ASSERT_TRUE(c.send("1\r\n \r\n"));
  ASSERT_TRUE(c.send_records({"5\r\nwor", "ld\r\n0\r\n", "\r\n"}));
  auto r = c.read_response();
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello world");
  EXPECT_EQ(r->header("Content-Type"), "text/plain");
  // The connection serves the next request.
  ASSERT_TRUE(c.send(get("/")));
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "Hello, World!");
}

TEST_F(TlsServe, LargeBodiesBothWays) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  std::string body;
  for (size_t i = 0; body.size() < 900 * 1024; ++i) {
    body += "line " + std::to_string(i) + " of a large request body\n";
  }
  ASSERT_TRUE(
      c.send("POST /echo/ HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Length: " +
             std::to_string(body.size()) + "\r\n\r\n" + body));
  auto r = c.read_response(false, 30s);
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body == body)
      << "echoed " << r->body.size() << " of " << body.size() << " bytes";
  // A large chunked body too.
  std::string chunked =
      "POST /echo/ HTTP/1.1\r\nHost: localhost\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 40000) {
    size_t len = std::min<size_t>(40000, body.size() - off);
    char size[32];
    snprintf(size, sizeof size, "%zx\r\n", len);
    chunked += size + body.substr(off, len) + "\r\n";
  }
  chunked += "0\r\n\r\n";
  ASSERT_TRUE(c.send(chunked));
  auto r2 = c.read_response(false, 30s);
  ASSERT_TRUE(r2) << to_string(c.close_kind());
  EXPECT_TRUE(r2->body == body) << r2->body.size();
}

TEST_F(TlsServe, ExpectContinue) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(
      c.send("POST /echo/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
             "Expect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim) << to_string(c.close_kind());
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(TlsServe, CurlExpectContinue) {
  std::string file = cert_->dir() + "/upload.bin";
  std::string data(200000, 'u');
  std::ofstream(file) << data;
  auto r = curl({"-v", "-H", "Expect: 100-continue", "--data-binary",
                 "@" + file, https_url(port(), "/echo/")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("< HTTP/1.1 100 Continue"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out == data) << r.out.size();
}

// ---------------------------------------------------------------------------
// Errors: the full answer, then close_notify

TEST_F(TlsServe, BadRequestGetsA400ThenCloseNotify) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: localhost\r\nno colon\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(c.wait_closed(), TlsClose::CloseNotify);
}

// Lingering close: the client is still sending when the error goes out.
// It gets the whole 413 (no reset eats it), then close_notify; what it
// sends meanwhile (under the linger bound) is discarded.
TEST_F(TlsServe, LingeringCloseAfterAnErrorWhileTheClientSends) {
  for (int round = 0; round < 5; ++round) {
    TlsClient c(port());
    ASSERT_TRUE(c.connected()) << c.error();
    // A declared body over --max-body-size: a 413 at the head, with body
    // bytes already in flight behind it.
    ASSERT_TRUE(
        c.send("POST /echo/ HTTP/1.1\r\nHost: localhost\r\n"
               "Content-Length: 10000000\r\n\r\n" +
               std::string(24000, 'x')));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "round " << round << ": " << to_string(c.close_kind());
    EXPECT_EQ(r->status, 413);
    EXPECT_EQ(r->body, "Content Too Large (BODY_TOO_LARGE)\n");
    c.send(std::string(16000, 'y'));  // may fail: the server closed first
    TlsClose how = c.wait_closed(20s);
    EXPECT_EQ(how, TlsClose::CloseNotify) << to_string(how);
  }
}

// A client's close_notify is answered with the server's own (RFC 5246
// §7.2.1 requires it in TLS 1.2; RFC 8446 asks for it too), after what was
// already due, for both versions.
TEST_F(TlsServe, ClientCloseNotifyGetsTheServersCloseNotify) {
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    TlsClientOptions o;
    o.max_version = version;
    TlsClient c(port(), o);
    ASSERT_TRUE(c.connected()) << c.error();
    ASSERT_TRUE(c.send(get("/")));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.send_close_notify());
    TlsClose how = c.wait_closed(20s);
    EXPECT_EQ(how, TlsClose::CloseNotify)
        << SSL_get_version(c.ssl()) << ": " << to_string(how);
  }
}

// A client that ends the session properly (close_notify, then waiting for
// the server's) gets the server's close_notify back: python's unwrap().
TEST_F(TlsServe, ClientCloseNotifyIsAnswered) {
  const char* script = R"PY(
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                    server_hostname="localhost")
s.settimeout(20)
s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
data = b""
while b"Hello, World!" not in data:
    data += s.recv(65536)
raw = s.unwrap()
print("unwrapped", s.version() if hasattr(s, "version") else "")
raw.close()
)PY";
  auto r = run_command({"/usr/bin/python3", "-c", script,
                        std::to_string(port()), cert_->cert()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("unwrapped"), std::string::npos) << r.out << r.err;
}

// ---------------------------------------------------------------------------
// Async streams, SSE, backpressure, compression

TEST_F(TlsServe, SseOverHttpsWithCurl) {
  auto r =
      curl({"-N", https_url(port(), "/sse/events?count=3&interval_ms=20")});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out,
            "id: 0\ndata: {\"seq\":0}\n\nid: 1\ndata: {\"seq\":1}\n\n"
            "id: 2\ndata: {\"seq\":2}\n\n");
}

TEST_F(TlsServe, SseEventsArriveAsChunks) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/sse/events?count=4&interval_ms=20")));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  std::vector<std::string> chunks;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) chunks.push_back(*chunk);
  EXPECT_TRUE(ended);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[3], "id: 3\ndata: {\"seq\":3}\n\n");
}

// The TLS twin of StreamingTest.SlowReaderGetsBackpressureAndEverything:
// a client that does not read makes the plugin pause at the high-water
// mark, and then gets every byte.
TEST_F(TlsServe, SlowReaderGetsBackpressureAndEverything) {
  const size_t high_waters = count_of(host_->stderr_text(), "high water");
  const size_t writables = count_of(host_->stderr_text(), "on_writable");
  TlsClientOptions o;
  o.socket.receive_buffer = 32 * 1024;
  TlsClient c(port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/probe/flood?mode=polite")));
  ASSERT_TRUE(host_->wait_for_stderr("high water", 20s, high_waters + 1))
      << host_->stderr_text();
  auto head = c.read_head();
  ASSERT_TRUE(head);
  size_t total = 0;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended, 20s)) total += chunk->size();
  EXPECT_TRUE(ended) << to_string(c.close_kind());
  EXPECT_EQ(total, 4u << 20);
  EXPECT_TRUE(host_->wait_for_stderr("on_writable", 20s, writables + 1));
  // And the connection goes on.
  ASSERT_TRUE(c.send(get("/")));
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "Hello, World!");
}

class TlsPerChunk
    : public TlsServe,
      public ::testing::WithParamInterface<StreamDecoder::Coding> {};

TEST_P(TlsPerChunk, EachChunkDecodesToWholeEventsOnArrival) {
  const bool zstd = GetParam() == StreamDecoder::Coding::Zstd;
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get(
      "/sse/events?count=6&interval_ms=30",
      std::string("Accept-Encoding: ") + (zstd ? "zstd" : "gzip") + "\r\n")));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Encoding"), zstd ? "zstd" : "gzip");
  StreamDecoder d(GetParam());
  int events = 0;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) {
    std::string text = d.feed(*chunk);
    ASSERT_TRUE(d.ok());
    if (text.empty()) continue;
    EXPECT_EQ(text, "id: " + std::to_string(events) +
                        "\ndata: {\"seq\":" + std::to_string(events) + "}\n\n");
    ++events;
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(events, 6);
  EXPECT_TRUE(d.finished());
}

TEST_P(TlsPerChunk, CurlDecodesALargeCompressedStream) {
  const bool zstd = GetParam() == StreamDecoder::Coding::Zstd;
  auto plain = curl({https_url(port(),
                               "/sse/stream?chunks=40&size=4096&"
                               "interval_ms=1")});
  ASSERT_EQ(plain.status, 0) << plain.err;
  ASSERT_EQ(plain.out.size(), 40u * 4096);
  auto r = curl({"--compressed", "-D", cert_->dir() + "/headers", "-H",
                 std::string("Accept-Encoding: ") + (zstd ? "zstd" : "gzip"),
                 https_url(port(),
                           "/sse/stream?chunks=40&size=4096&"
                           "interval_ms=1")});
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream hf(cert_->dir() + "/headers");
  std::string headers((std::istreambuf_iterator<char>(hf)), {});
  EXPECT_NE(headers.find(std::string("Content-Encoding: ") +
                         (zstd ? "zstd" : "gzip")),
            std::string::npos)
      << headers;
  EXPECT_TRUE(r.out == plain.out);
}

INSTANTIATE_TEST_SUITE_P(Codings, TlsPerChunk,
                         ::testing::Values(StreamDecoder::Coding::Zstd,
                                           StreamDecoder::Coding::Gzip),
                         [](const auto& i) {
                           return i.param == StreamDecoder::Coding::Zstd
                                      ? std::string("zstd")
                                      : std::string("gzip");
                         });

// ---------------------------------------------------------------------------
// Hand-off, blocking pool, WebSocket

// With one worker and one async loop, a keep-alive TLS connection moves
// to the async loop for the stream and serves sync requests after it: the
// SSL session travels with the socket.
TEST_F(TlsServe, OneConnectionMovesBetweenWorkerAndAsyncLoop) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(c.send(get("/")));
    auto r1 = c.read_response();
    ASSERT_TRUE(r1) << round << ": " << to_string(c.close_kind());
    EXPECT_EQ(r1->body, "Hello, World!");
    ASSERT_TRUE(c.send(get("/sse/events?count=2&interval_ms=5")));
    auto r2 = c.read_response();
    ASSERT_TRUE(r2) << round << ": " << to_string(c.close_kind());
    EXPECT_EQ(r2->body,
              "id: 0\ndata: {\"seq\":0}\n\nid: 1\ndata: {\"seq\":1}\n\n");
  }
  // Pipelined around the stream, in one record: the bytes behind the
  // stream's request travel with the hand-off.
  ASSERT_TRUE(c.send(get("/") + get("/sse/events?count=1&interval_ms=1") +
                     get("/json")));
  auto a = c.read_response();
  auto b = c.read_response();
  auto d = c.read_response();
  ASSERT_TRUE(a && b && d) << to_string(c.close_kind());
  EXPECT_EQ(a->body, "Hello, World!");
  EXPECT_EQ(b->body, "id: 0\ndata: {\"seq\":0}\n\n");
  EXPECT_EQ(d->body, "{\"message\":\"Hello, World!\"}");
  EXPECT_EQ(c.handshakes(), 1);
}

// The requests behind the stream's arrive in records of their own, in the
// same read: undecrypted ciphertext travels with the hand-off, and the
// async loop resumes it without new input.
TEST_F(TlsServe, HandOffCarriesUndecryptedRecords) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  for (int round = 0; round < 5; ++round) {
    ASSERT_TRUE(c.send_records(
        {get("/"), get("/sse/events?count=1&interval_ms=1"), get("/json"),
         get("/sse/events?count=1&interval_ms=1"), get("/")}));
    std::vector<std::string> bodies;
    for (int i = 0; i < 5; ++i) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << round << "/" << i << ": " << to_string(c.close_kind());
      bodies.push_back(r->body);
    }
    EXPECT_EQ(bodies[0], "Hello, World!");
    EXPECT_EQ(bodies[1], "id: 0\ndata: {\"seq\":0}\n\n");
    EXPECT_EQ(bodies[2], "{\"message\":\"Hello, World!\"}");
    EXPECT_EQ(bodies[3], "id: 0\ndata: {\"seq\":0}\n\n");
    EXPECT_EQ(bodies[4], "Hello, World!");
  }
}

TEST_F(TlsServe, BlockingPoolServesTlsConnections) {
  TlsClient c(port());
  ASSERT_TRUE(c.connected()) << c.error();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get("/blk/sleep?ms=20")));
    auto r = c.read_response(false, 20s);
    ASSERT_TRUE(r) << to_string(c.close_kind());
    EXPECT_EQ(r->body, "slept 20");
    ASSERT_TRUE(c.send(get("/blk/fast")));
    auto f = c.read_response();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->body, "fast");
  }
  // Pipelined behind a parked request, in one record and in records of
  // their own (left undecrypted while the request is parked).
  ASSERT_TRUE(c.send(get("/blk/sleep?ms=20") + get("/")));
  auto s = c.read_response(false, 20s);
  auto h = c.read_response();
  ASSERT_TRUE(s && h);
  EXPECT_EQ(s->body, "slept 20");
  EXPECT_EQ(h->body, "Hello, World!");
  ASSERT_TRUE(c.send_records({get("/blk/sleep?ms=20"), get("/"),
                              get("/blk/sleep?ms=1"), get("/json")}));
  std::vector<std::string> bodies;
  for (int i = 0; i < 4; ++i) {
    auto r = c.read_response(false, 20s);
    ASSERT_TRUE(r) << i << ": " << to_string(c.close_kind());
    bodies.push_back(r->body);
  }
  EXPECT_EQ(bodies,
            (std::vector<std::string>{"slept 20", "Hello, World!", "slept 1",
                                      "{\"message\":\"Hello, World!\"}"}));
}

// python3-websockets over wss://, against the echo plugin.
TEST_F(TlsServe, WebSocketOverWssWithPythonWebsockets) {
  const char* script = R"PY(
import asyncio, ssl, sys
import websockets
async def main(url, ca):
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        for msg in ["hello", "x" * 100000, b"\x00\x01binary"]:
            await ws.send(msg)
            back = await ws.recv()
            assert back == msg, (len(back), len(msg))
        print("cipher", ws.transport.get_extra_info("ssl_object").version())
    print("ok")
asyncio.run(main(sys.argv[1], sys.argv[2]))
)PY";
  auto r = run_command({"/usr/bin/python3", "-c", script,
                        "wss://localhost:" + std::to_string(port()) + "/echo/",
                        cert_->cert()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("ok"), std::string::npos) << r.out << r.err;
}

// ---------------------------------------------------------------------------
// Python's ssl module: the standard library's view of the same server.

TEST_F(TlsServe, PythonSslPipelinesAndSeesCloseNotify) {
  const char* script = R"PY(
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
raw = socket.create_connection(("127.0.0.1", port))
s = ctx.wrap_socket(raw, server_hostname="localhost")
req = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
last = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
s.sendall(req + req + last)
data = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    print("eof")
except ssl.SSLZeroReturnError:
    print("close_notify")
except ssl.SSLEOFError:
    print("eof without close_notify")
print("responses", data.count(b"HTTP/1.1 200 OK"))
)PY";
  auto r = run_command({"/usr/bin/python3", "-c", script,
                        std::to_string(port()), cert_->cert()});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("responses 3"), std::string::npos) << r.out;
  // Python's recv returns b"" on close_notify (suppress_ragged_eofs).
  EXPECT_EQ(r.out.find("without"), std::string::npos) << r.out;
}

// ---------------------------------------------------------------------------
// wrk

TEST_F(TlsServe, WrkOverHttpsHasNoErrors) {
  auto r = run_command({"wrk", "-t1", "-c10", "-d1s",
                        "https://127.0.0.1:" + std::to_string(port()) + "/"},
                       60s);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out.find("Socket errors"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Non-2xx"), std::string::npos) << r.out;
  size_t at = r.out.find(" requests in ");
  ASSERT_NE(at, std::string::npos) << r.out;
  size_t start = r.out.rfind(' ', at - 1) + 1;
  long requests = atol(r.out.c_str() + start);
  EXPECT_GT(requests, 0) << r.out;
  printf("%s", r.out.c_str());
}

// ---------------------------------------------------------------------------
// Timeouts over TLS: each ends with close_notify, then the FIN.

// A host of its own per test, with a certificate of its own.
class TlsHost : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(cert_.ok()) << cert_.error(); }
  TempCert cert_;
};

TEST_F(TlsHost, KeepAliveTimeoutSendsCloseNotify) {
  HostProcess h(
      https_args(cert_, {"--plugin", plugin_path("hello"),
                         "--keep-alive-timeout", "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/")));
  ASSERT_TRUE(c.read_response());
  std::string extra;
  EXPECT_EQ(c.wait_closed(20s, &extra), TlsClose::CloseNotify);
  EXPECT_EQ(extra, "");
}

// The handshake is done, no request comes: the header timeout closes the
// connection, and says so in TLS.
TEST_F(TlsHost, HeaderTimeoutAfterTheHandshakeSendsCloseNotify) {
  HostProcess h(
      https_args(cert_, {"--plugin", plugin_path("hello"), "--header-timeout",
                         "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error();
  EXPECT_EQ(c.wait_closed(20s), TlsClose::CloseNotify);
}

// Half a request head, then nothing: a 408 in TLS, then close_notify.
TEST_F(TlsHost, HeaderTimeoutOnAPartialHeadAnswers408) {
  HostProcess h(
      https_args(cert_, {"--plugin", plugin_path("hello"), "--header-timeout",
                         "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: loc"));
  auto r = c.read_response(false, 20s);
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(c.wait_closed(20s), TlsClose::CloseNotify);
}

// A body that stops coming: the body timeout (--request-timeout) answers
// in TLS, then close_notify.
TEST_F(TlsHost, BodyTimeoutAnswersInTls) {
  HostProcess h(
      https_args(cert_, {"--plugin", "/echo=" + plugin_path("echo"),
                         "--request-timeout", "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(
      c.send("POST /echo/ HTTP/1.1\r\nHost: localhost\r\n"
             "Content-Length: 100\r\n\r\n0123456789"));
  auto r = c.read_response(false, 20s);
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->header("X-Pounce-Error"), "BODY_TIMEOUT");
  EXPECT_EQ(c.wait_closed(20s), TlsClose::CloseNotify);
}

// A client that stops reading a large TLS response is closed at
// --write-timeout, and the server goes on serving.
TEST_F(TlsHost, WriteTimeoutClosesAClientThatStopsReading) {
  HostProcess h(https_args(cert_, {"--plugin", plugin_path("hello"), "--plugin",
                                   "/sse=" + plugin_path("sse"),
                                   "--write-timeout", "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClientOptions o;
  o.socket.receive_buffer = 4096;
  TlsClient c(h.port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/sse/stream?chunks=64&size=1048576&interval_ms=1")));
  EXPECT_TRUE(h.wait_for_stderr("write timeout: ", 20s)) << h.stderr_text();
  TlsClient other(h.port());
  ASSERT_TRUE(other.connected()) << other.error();
  ASSERT_TRUE(other.send(get("/")));
  auto r = other.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "Hello, World!");
}

// --header-timeout bounds the handshake: half a ClientHello, then silence.
TEST_F(TlsHost, HeaderTimeoutBoundsTheHandshake) {
  HostProcess h(
      https_args(cert_, {"--plugin", plugin_path("hello"), "--header-timeout",
                         "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::string hello = client_hello();
  ASSERT_GT(hello.size(), 100u);
  RawClient c(h.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(std::string_view(hello).substr(0, hello.size() / 2)));
  std::string extra;
  EXPECT_TRUE(c.wait_closed(20s, &extra));
  EXPECT_EQ(extra, "");  // nothing to say to a handshake that never ended
  // The server still serves.
  TlsClient ok(h.port());
  ASSERT_TRUE(ok.connected()) << ok.error();
  ASSERT_TRUE(ok.send(get("/")));
  EXPECT_TRUE(ok.read_response());
}

// ---------------------------------------------------------------------------
// Reload, shutdown, supervisor

TEST_F(TlsHost, HotReloadKeepsTlsConnectionsWorking) {
  HostProcess h(https_args(cert_, {"--plugin", plugin_path("hello"), "--plugin",
                                   "/sse=" + plugin_path("sse"), "--workers",
                                   "2", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient c(h.port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/")));
  ASSERT_TRUE(c.read_response());
  for (int i = 1; i <= 2; ++i) {
    h.signal(SIGHUP);
    ASSERT_TRUE(
        h.wait_for_stderr("reloaded generation " + std::to_string(i + 1), 20s))
        << h.stderr_text();
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << i << ": " << to_string(c.close_kind());
    EXPECT_EQ(r->body, "Hello, World!");
    TlsClient fresh(h.port());
    ASSERT_TRUE(fresh.connected()) << fresh.error();
    ASSERT_TRUE(fresh.send(get("/sse/events?count=1&interval_ms=1")));
    auto s = fresh.read_response();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->status, 200);
  }
  EXPECT_EQ(c.handshakes(), 1);
}

TEST_F(TlsHost, GracefulShutdownEndsATlsStreamCleanly) {
  HostProcess h(https_args(
      cert_, {"--plugin", "/sse=" + plugin_path("sse"), "--async-threads", "2",
              "--shutdown-timeout", "10", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  TlsClient endless(h.port());
  ASSERT_TRUE(endless.connected()) << endless.error();
  ASSERT_TRUE(endless.send(get("/sse/events?count=0&interval_ms=50")));
  TlsClient finite(h.port());
  ASSERT_TRUE(finite.connected()) << finite.error();
  ASSERT_TRUE(finite.send(get("/sse/events?count=4&interval_ms=250")));
  ASSERT_TRUE(endless.read_head());
  ASSERT_TRUE(finite.read_head());
  bool ended = false;
  ASSERT_TRUE(endless.read_chunk(&ended));  // streaming

  h.signal(SIGTERM);
  std::string finite_text;
  while (auto chunk = finite.read_chunk(&ended, 20s)) finite_text += *chunk;
  EXPECT_TRUE(ended) << "the finite stream was cut: "
                     << to_string(finite.close_kind());
  EXPECT_EQ(event_ids(finite_text),
            (std::vector<std::string>{"0", "1", "2", "3"}));
  ended = false;
  while (endless.read_chunk(&ended, 20s)) {
  }
  EXPECT_TRUE(ended) << "no final chunk: " << to_string(endless.close_kind());
  EXPECT_EQ(endless.wait_closed(20s), TlsClose::CloseNotify);
  EXPECT_EQ(finite.wait_closed(20s), TlsClose::CloseNotify);
  EXPECT_EQ(h.wait_exit(20s), 0) << h.stderr_text();
}

// SIGTERM with idle TLS keep-alive connections: each is told with
// close_notify, and one with a request in flight gets its answer first.
TEST_F(TlsHost, GracefulShutdownSendsCloseNotifyToIdleConnections) {
  HostProcess h(https_args(cert_, {"--plugin", plugin_path("hello"), "--plugin",
                                   "/blk=" + test_plugin_path("sleeper"),
                                   "--workers", "2", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::vector<std::unique_ptr<TlsClient>> idle;
  for (int i = 0; i < 4; ++i) {
    idle.push_back(std::make_unique<TlsClient>(h.port()));
    ASSERT_TRUE(idle.back()->connected()) << idle.back()->error();
    ASSERT_TRUE(idle.back()->send(get("/")));
    ASSERT_TRUE(idle.back()->read_response());
  }
  TlsClient busy(h.port());
  ASSERT_TRUE(busy.connected()) << busy.error();
  ASSERT_TRUE(busy.send(get("/blk/sleep?ms=500")));
  ASSERT_TRUE(h.wait_for_stderr("sleep entered", 20s)) << h.stderr_text();
  h.signal(SIGTERM);
  auto r = busy.read_response(false, 20s);
  ASSERT_TRUE(r) << to_string(busy.close_kind());
  EXPECT_EQ(r->body, "slept 500");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(busy.wait_closed(20s), TlsClose::CloseNotify);
  for (auto& c : idle) {
    TlsClose how = c->wait_closed(20s);
    EXPECT_EQ(how, TlsClose::CloseNotify) << to_string(how);
  }
  EXPECT_EQ(h.wait_exit(20s), 0) << h.stderr_text();
}

TEST_F(TlsHost, SupervisorRestartKeepsServingHttps) {
  HostOptions o;
  o.args = https_args(cert_, {"--plugin", test_plugin_path("crasher"),
                              "--workers", "1", "--no-access-log"});
  o.crash_expected = true;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_NE(h.serving_pid(), h.pid()) << "no serving child process";
  for (int i = 1; i <= 3; ++i) {
    {
      TlsClient c(h.port());
      ASSERT_TRUE(c.connected()) << c.error();
      ASSERT_TRUE(c.send(get("/crash")));
      EXPECT_FALSE(c.read_response(false, 20s));
    }
    ASSERT_TRUE(h.wait_for_stderr("restarting the worker process", 20s, i))
        << h.stderr_text();
    ASSERT_TRUE(h.wait_for_stderr(" is serving", 20s, i)) << h.stderr_text();
    TlsClient c(h.port());
    ASSERT_TRUE(c.connected()) << c.error();
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response(false, 20s);
    ASSERT_TRUE(r) << to_string(c.close_kind());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
  }
}

// ---------------------------------------------------------------------------
// Listeners

TEST_F(TlsHost, HttpAndHttpsListenersOnOneHost) {
  std::vector<std::string> a = {"--listen", "http://127.0.0.1:0", "--listen",
                                "https://127.0.0.1:0"};
  for (auto& s : cert_.host_args()) a.push_back(s);
  for (auto& s :
       std::vector<std::string>{"--plugin", plugin_path("hello"), "--workers",
                                "2", "--no-access-log"}) {
    a.push_back(s);
  }
  HostProcess h(a);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_EQ(h.ports().size(), 2u);
  EXPECT_EQ(h.listener_urls()[0].rfind("http://", 0), 0u);
  EXPECT_EQ(h.listener_urls()[1].rfind("https://", 0), 0u);
  auto plain = one_request(h.ports()[0], get("/"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->body, "Hello, World!");
  TlsClient c(h.ports()[1]);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "Hello, World!");
  // The cleartext port does not speak TLS, and the TLS port refuses
  // cleartext: each stays what it was declared.
  TlsClient wrong(h.ports()[0]);
  EXPECT_FALSE(wrong.connected());
}

bool have_ipv6_loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

TEST_F(TlsHost, Ipv6HttpsListener) {
  if (!have_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  std::vector<std::string> a = {"--listen", "https://[::1]:0"};
  for (auto& s : cert_.host_args()) a.push_back(s);
  a.push_back("--plugin");
  a.push_back(plugin_path("hello"));
  a.push_back("--no-access-log");
  HostProcess h(a);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(h.listener_urls()[0], "https://[::1]:" + std::to_string(h.port()));
  TlsClientOptions o;
  o.ipv6 = true;
  o.ca_file = cert_.cert();
  TlsClient c(h.port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "Hello, World!");
  auto cr =
      run_command({"curl", "-sS", "--max-time", "20", "--cacert", cert_.cert(),
                   "-g", "https://[::1]:" + std::to_string(h.port()) + "/"});
  EXPECT_EQ(cr.status, 0) << cr.err;
  EXPECT_EQ(cr.out, "Hello, World!");
}

class TlsAcceptMode : public ::testing::TestWithParam<const char*> {};

TEST_P(TlsAcceptMode, TwoWorkersServeHttps) {
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  HostProcess h(
      https_args(cert, {"--plugin", plugin_path("hello"), "--workers", "2",
                        "--accept-mode", GetParam(), "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (int i = 0; i < 16; ++i) {
    clients.push_back(std::make_unique<TlsClient>(h.port()));
    ASSERT_TRUE(clients.back()->connected()) << clients.back()->error();
  }
  for (int round = 0; round < 3; ++round) {
    for (auto& c : clients) ASSERT_TRUE(c->send(get("/")));
    for (auto& c : clients) {
      auto r = c->read_response();
      ASSERT_TRUE(r) << to_string(c->close_kind());
      EXPECT_EQ(r->body, "Hello, World!");
    }
  }
  auto w = run_command({"wrk", "-t2", "-c8", "-d1s",
                        "https://127.0.0.1:" + std::to_string(h.port()) + "/"},
                       60s);
  ASSERT_EQ(w.status, 0) << w.err;
  EXPECT_EQ(w.out.find("Socket errors"), std::string::npos) << w.out;
  EXPECT_EQ(w.out.find("Non-2xx"), std::string::npos) << w.out;
}

INSTANTIATE_TEST_SUITE_P(Modes, TlsAcceptMode,
                         ::testing::Values("distributor", "reuseport"));

}  // namespace
