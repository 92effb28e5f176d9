// The async path and the streaming pipeline, with real clients: handoff,
// streams, per-chunk compression, backpressure, SSE, Server-Timing, reload
// and shutdown with open streams.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "stream_decoder.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string request(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

class StreamingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess({"--plugin", plugin_path("hello"), "--plugin",
                             "/sse=" + plugin_path("sse"), "--plugin",
                             "/probe=" + test_plugin_path("stream_probe_v1"),
                             "--workers", "2", "--async-threads", "2",
                             "--stream-high-water", "65536",
                             "--stream-max-buffer", "1048576"});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  uint16_t port() const { return host_->port(); }
  static CommandResult curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"curl", "-sS", "--max-time", "20"});
    return run_command(args);
  }
  static HostProcess* host_;
};

HostProcess* StreamingTest::host_ = nullptr;

// ---------------------------------------------------------------------------
// Streams and the handoff

TEST_F(StreamingTest, EventsArriveChunkedWithTheirFraming) {
  RawClient c(port());
  c.send(request("/sse/events?count=3&interval_ms=20"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Type"), "text/event-stream");
  EXPECT_EQ(head->header("Transfer-Encoding"), "chunked");
  std::string all;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) all += *chunk;
  EXPECT_TRUE(ended);
  EXPECT_EQ(all,
            "id: 0\ndata: {\"seq\":0}\n\nid: 1\ndata: {\"seq\":1}\n\n"
            "id: 2\ndata: {\"seq\":2}\n\n");
}

TEST_F(StreamingTest, EventsArriveOneByOneNotInABurst) {
  RawClient c(port());
  c.send(request("/sse/events?count=5&interval_ms=100"));
  ASSERT_TRUE(c.read_head());
  std::vector<std::chrono::steady_clock::time_point> at;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) {
    at.push_back(std::chrono::steady_clock::now());
  }
  ASSERT_TRUE(ended);
  ASSERT_EQ(at.size(), 5u);
  // Lower bounds only: a loaded machine may deliver late, never early.
  for (size_t i = 1; i < at.size(); ++i) {
    EXPECT_GE(at[i] - at[i - 1], 50ms) << "event " << i << " came in a burst";
  }
}

TEST_F(StreamingTest, StampedEventsCarryAMonotonicTime) {
  RawClient c(port());
  c.send(request("/sse/events?count=2&interval_ms=10&stamp=1"));
  ASSERT_TRUE(c.read_head());
  bool ended = false;
  auto first = c.read_chunk(&ended);
  ASSERT_TRUE(first);
  EXPECT_NE(first->find("data: {\"seq\":0,\"t\":"), std::string::npos)
      << *first;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  uint64_t t = std::stoull(first->substr(first->find("\"t\":") + 4));
  uint64_t now_ns = static_cast<uint64_t>(now.tv_sec) * 1000000000ull +
                    static_cast<uint64_t>(now.tv_nsec);
  EXPECT_LE(t, now_ns);
  EXPECT_GT(t, now_ns - 10'000'000'000ull);
}

TEST_F(StreamingTest, KeepAliveAfterAnAsyncResponseServesTheNextRequest) {
  RawClient c(port());
  c.send(request("/sse/events?count=1&interval_ms=1"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "id: 0\ndata: {\"seq\":0}\n\n");
  c.send(request("/hello"));
  auto h = c.read_response();
  ASSERT_TRUE(h);
  EXPECT_EQ(h->body, "Hello, World!");
  c.send(request("/sse/events?count=1&interval_ms=1"));
  auto again = c.read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST_F(StreamingTest, PipelinedRequestsAroundAnAsyncOneStayInOrder) {
  RawClient c(port());
  c.send(request("/hello") + request("/sse/events?count=2&interval_ms=10") +
         request("/json"));
  auto r1 = c.read_response();
  auto r2 = c.read_response();
  auto r3 = c.read_response();
  ASSERT_TRUE(r1 && r2 && r3);
  EXPECT_EQ(r1->body, "Hello, World!");
  EXPECT_EQ(r2->body,
            "id: 0\ndata: {\"seq\":0}\n\nid: 1\ndata: {\"seq\":1}\n\n");
  EXPECT_EQ(r3->body, "{\"message\":\"Hello, World!\"}");
}

TEST_F(StreamingTest, Http10GetsACloseDelimitedBody) {
  RawClient c(port());
  c.send("GET /sse/events?count=2&interval_ms=10 HTTP/1.0\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("Transfer-Encoding"));
  EXPECT_FALSE(r->header("Content-Length"));
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(r->body,
            "id: 0\ndata: {\"seq\":0}\n\nid: 1\ndata: {\"seq\":1}\n\n");
}

TEST_F(StreamingTest, DeclaredLengthUsesContentLength) {
  auto r = one_request(port(), request("/probe/length?n=100"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Length"), "100");
  EXPECT_FALSE(r->header("Transfer-Encoding"));
  EXPECT_EQ(r->body, std::string(100, 'L'));
}

TEST_F(StreamingTest, WritesFromAnotherThreadAreQueuedToTheLoop) {
  auto r = one_request(port(), request("/probe/thread"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "from a thread\nfrom a thread\nfrom a thread\n");
}

// A producer thread that pauses at POUNCE_HIGH_WATER must get on_writable,
// even when the client reads so fast that the loop's own writes never find
// the queue over the mark (the backlog it was told about was in transit).
TEST_F(StreamingTest, AnotherThreadPausedAtHighWaterGetsOnWritable) {
  auto r = one_request(port(), request("/probe/thread-flood"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 256u * 16384);
  EXPECT_EQ(r->body.find("stalled"), std::string::npos);
}

// HEAD of an endless stream: the response is complete once its head is out,
// so the connection serves what was pipelined behind it.
TEST_F(StreamingTest, HeadOfAnEndlessStreamEndsAtItsHead) {
  RawClient c(port());
  c.send("HEAD /sse/events?count=0 HTTP/1.1\r\nHost: x\r\n\r\n" +
         request("/hello"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  auto next = c.read_response();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "Hello, World!");
}

TEST_F(StreamingTest, StreamedRequestBodyReachesOnBody) {
  RawClient c(port());
  c.send(
      "POST /probe/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "\r\n5\r\nhello\r\n");
  auto head = c.read_head();
  ASSERT_TRUE(head);
  bool ended = false;
  auto first = c.read_chunk(&ended);
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, "hello");  // echoed before the body is complete
  c.send("6\r\n world\r\n0\r\n\r\n");
  auto second = c.read_chunk(&ended);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, " world");
  EXPECT_FALSE(c.read_chunk(&ended));
  EXPECT_TRUE(ended);
}

TEST_F(StreamingTest, ExceptionInOnRequestIsA500) {
  auto r = one_request(port(), request("/probe/fail"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("X-Pounce-Error"), "PLUGIN_ERROR");
}

// ---------------------------------------------------------------------------
// Compression

TEST_F(StreamingTest, CurlDecodesGzip) {
  auto plain =
      curl({host_->url("/sse/stream?chunks=20&size=3000&interval_ms=0")});
  auto r = curl({"--compressed", "-H", "Accept-Encoding: gzip", "-D", "-",
                 host_->url("/sse/stream?chunks=20&size=3000&interval_ms=0")});
  ASSERT_EQ(plain.out.size(), 60000u);
  EXPECT_NE(r.out.find("Content-Encoding: gzip\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("Vary: Accept-Encoding\r\n"), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.find("\r\n\r\n") + 4), plain.out);
}

TEST_F(StreamingTest, CurlDecodesZstd) {
  auto plain =
      curl({host_->url("/sse/stream?chunks=20&size=3000&interval_ms=0")});
  auto r = curl({"--compressed", "-H", "Accept-Encoding: zstd", "-D", "-",
                 host_->url("/sse/stream?chunks=20&size=3000&interval_ms=0")});
  EXPECT_NE(r.out.find("Content-Encoding: zstd\r\n"), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.find("\r\n\r\n") + 4), plain.out);
}

TEST_F(StreamingTest, CurlDecodesACompressedSyncBody) {
  // The json body is too small; a large echo is compressible.
  std::string body(20000, 'a');
  for (size_t i = 0; i < body.size(); ++i) body[i] = "pounce host "[i % 12];
  HostProcess h({"--plugin", plugin_path("echo")});
  ASSERT_TRUE(h.ok());
  auto r =
      curl({"--compressed", "-H", "Accept-Encoding: zstd", "-D", "-", "-H",
            "Content-Type: text/plain", "--data-binary", body, h.url("/")});
  EXPECT_NE(r.out.find("Content-Encoding: zstd\r\n"), std::string::npos)
      << r.out.substr(0, 300);
  EXPECT_EQ(r.out.substr(r.out.find("\r\n\r\n") + 4), body);
}

// --no-compression turns it off; --compression-min-size moves the bar for
// known-length bodies. Each host gets the same 2,000-byte text body.
TEST(CompressionFlags, OffAndMinimumSizeAreHonoured) {
  std::string body(2000, 'a');
  for (size_t i = 0; i < body.size(); ++i) body[i] = "pounce host "[i % 12];
  struct Case {
    std::vector<std::string> flags;
    bool compressed;
  };
  const Case cases[] = {
      {{}, true},
      {{"--no-compression"}, false},
      {{"--compression-min-size", "4000"}, false},
      {{"--compression-min-size", "1000"}, true},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"--plugin", plugin_path("echo")};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    HostProcess h(args);
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    auto r = run_command({"curl", "-sS", "--max-time", "20", "--compressed",
                          "-H", "Accept-Encoding: gzip", "-D", "-", "-H",
                          "Content-Type: text/plain", "--data-binary", body,
                          h.url("/")});
    const std::string flags = c.flags.empty() ? "(defaults)" : c.flags[0];
    EXPECT_EQ(r.out.find("Content-Encoding: gzip\r\n") != std::string::npos,
              c.compressed)
        << flags << "\n"
        << r.out.substr(0, 300);
    EXPECT_EQ(r.out.substr(r.out.find("\r\n\r\n") + 4), body) << flags;
  }
}

class PerChunk : public StreamingTest,
                 public ::testing::WithParamInterface<StreamDecoder::Coding> {};

TEST_P(PerChunk, EachChunkDecodesToWholeEventsOnArrival) {
  const bool zstd = GetParam() == StreamDecoder::Coding::Zstd;
  RawClient c(port());
  c.send(request(
      "/sse/events?count=6&interval_ms=30",
      std::string("Accept-Encoding: ") + (zstd ? "zstd" : "gzip") + "\r\n"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Encoding"), zstd ? "zstd" : "gzip");
  StreamDecoder d(GetParam());
  int events = 0;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) {
    std::string text = d.feed(*chunk);
    ASSERT_TRUE(d.ok());
    if (text.empty()) continue;  // the end of the frame / the gzip trailer
    // Everything sent so far decodes now: whole events, nothing pending.
    EXPECT_EQ(text, "id: " + std::to_string(events) +
                        "\ndata: {\"seq\":" + std::to_string(events) + "}\n\n");
    ++events;
  }
  EXPECT_TRUE(ended);
  EXPECT_EQ(events, 6);
  EXPECT_TRUE(d.finished());
}

INSTANTIATE_TEST_SUITE_P(Codings, PerChunk,
                         ::testing::Values(StreamDecoder::Coding::Zstd,
                                           StreamDecoder::Coding::Gzip),
                         [](const auto& i) {
                           return i.param == StreamDecoder::Coding::Zstd
                                      ? std::string("zstd")
                                      : std::string("gzip");
                         });

TEST_F(StreamingTest, SkipsSmallBodies) {
  auto r = one_request(port(), request("/hello", "Accept-Encoding: gzip\r\n"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("Content-Encoding"));
  EXPECT_FALSE(r->header("Vary"));
  EXPECT_EQ(r->body, "Hello, World!");
}

TEST_F(StreamingTest, SkipsImagePng) {
  auto r =
      one_request(port(), request("/probe/png", "Accept-Encoding: gzip\r\n"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("Content-Encoding"));
  EXPECT_EQ(r->body, std::string(16384, 'P'));
}

TEST_F(StreamingTest, SkipsAPresetContentEncoding) {
  auto r = one_request(port(),
                       request("/probe/encoded", "Accept-Encoding: zstd\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Encoding"), "identity");
  EXPECT_EQ(r->header_count("Content-Encoding"), 1u);
  EXPECT_EQ(r->body, std::string(4096, 'E'));
}

TEST_F(StreamingTest, QZeroExcludesACoding) {
  auto r = one_request(port(),
                       request("/sse/stream?chunks=4&size=2000&interval_ms=0",
                               "Accept-Encoding: zstd;q=0, gzip\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Encoding"), "gzip");
  auto none = one_request(
      port(), request("/sse/stream?chunks=4&size=2000&interval_ms=0",
                      "Accept-Encoding: zstd;q=0, gzip;q=0\r\n"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->header("Content-Encoding"));
  EXPECT_EQ(none->body.size(), 8000u);
}

// A HEAD gets the head its GET gets (RFC 9110 §9.3.2), encoding included,
// and no body.
TEST_F(StreamingTest, HeadIsEncodedLikeGetButCarriesNoBody) {
  RawClient c(port());
  c.send(
      "HEAD /sse/stream?chunks=2&size=2000 HTTP/1.1\r\nHost: x\r\n"
      "Accept-Encoding: gzip\r\n\r\n");
  auto r = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Encoding"), "gzip");
  EXPECT_EQ(r->header("Vary"), "Accept-Encoding");
  EXPECT_TRUE(c.stays_open(100ms)) << "a HEAD response carried a body";
}

// The sync HEAD body is compressed and dropped: the Content-Length is the
// compressed one, as the GET's.
TEST(SyncCompression, HeadGetsTheEncodingAndLengthOfItsGet) {
  HostProcess h({"--plugin", plugin_path("echo")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::string body(2000, 't');
  auto ask = [&](const char* method) {
    RawClient c(h.port());
    c.send(std::string(method) +
           " / HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
           "Content-Type: text/plain\r\nContent-Length: 2000\r\n\r\n" +
           body);
    auto r = c.read_response(/*head_request=*/method[0] == 'H');
    EXPECT_TRUE(r) << method;
    if (method[0] == 'H') {
      EXPECT_TRUE(c.stays_open(100ms)) << "a HEAD response carried a body";
    }
    return r ? *r : HttpResponse{};
  };
  HttpResponse get = ask("GET");
  HttpResponse head = ask("HEAD");
  EXPECT_EQ(head.header("Content-Encoding"), "gzip");
  EXPECT_EQ(head.header("Vary"), "Accept-Encoding");
  EXPECT_EQ(head.header("Content-Length"), get.header("Content-Length"));
  EXPECT_NE(head.header("Content-Length"), "2000");
  EXPECT_TRUE(head.body.empty());
}

// ---------------------------------------------------------------------------
// Backpressure and the client leaving

TEST_F(StreamingTest, ClientLeavingMidStreamFiresOnClose) {
  {
    RawClient c(port());
    c.send(request("/probe/tick?count=0&interval_ms=10",
                   "Accept-Encoding: zstd\r\n"));
    ASSERT_TRUE(c.read_head());
    bool ended = false;
    ASSERT_TRUE(c.read_chunk(&ended));
  }  // closes the socket
  EXPECT_TRUE(host_->wait_for_stderr("v1 on_close reason=1"))
      << host_->stderr_text();
}

TEST_F(StreamingTest, SlowReaderGetsBackpressureAndEverything) {
  // A small receive buffer: with the kernel's autotuning (up to
  // tcp_rmem's max, 32 MiB on some kernels) the 4 MiB flood could fit in
  // the sockets' buffers, and no backpressure would ever reach the plugin.
  ClientSocketOptions small;
  small.receive_buffer = 32 * 1024;
  RawClient c(port(), small);
  c.send(request("/probe/flood?mode=polite"));
  // Do not read: the plugin must see the high-water mark and pause.
  ASSERT_TRUE(host_->wait_for_stderr("high water"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  size_t total = 0;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) total += chunk->size();
  EXPECT_TRUE(ended);
  EXPECT_EQ(total, 4u << 20);
  EXPECT_TRUE(host_->wait_for_stderr("on_writable"));
}

TEST_F(StreamingTest, StreamPastTheMaxBufferIsClosed) {
  RawClient c(port());
  c.send(request("/probe/flood?mode=rude"));
  EXPECT_TRUE(host_->wait_for_stderr("over --stream-max-buffer"))
      << host_->stderr_text();
  EXPECT_TRUE(host_->wait_for_stderr("v1 on_close reason=3"));
  EXPECT_TRUE(c.wait_closed(20s));
}

// ---------------------------------------------------------------------------
// Timeouts, Server-Timing

TEST(StreamingTimeouts, NoResponseStartGives500) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("stream_probe_v1"),
                 "--request-timeout", "0.3"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto start = std::chrono::steady_clock::now();
  auto r = one_request(h.port(), request("/probe/never"));
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("X-Pounce-Error"), "RESPONSE_TIMEOUT");
  // After --request-timeout (0.3 s), not the 30 s default.
  EXPECT_GE(took, 300ms - kTimerMayFireEarly);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(h.wait_for_stderr("v1 on_close reason=5"));
}

TEST(ServerTiming, SyncResponsesCarryParseAppAndEncode) {
  HostProcess h({"--plugin", plugin_path("hello"), "--server-timing"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), request("/hello"));
  ASSERT_TRUE(r);
  auto st = r->header("Server-Timing");
  ASSERT_TRUE(st);
  EXPECT_NE(st->find("parse;dur="), std::string::npos) << *st;
  EXPECT_NE(st->find(", app;dur="), std::string::npos) << *st;
  EXPECT_NE(st->find(", encode;dur="), std::string::npos) << *st;
  // Milliseconds with three decimals.
  std::string first = st->substr(10, st->find(',') - 10);
  EXPECT_EQ(first.size() - first.find('.'), 4u) << first;
}

TEST(ServerTiming, StreamedResponsesCarryParseAndAppOnly) {
  HostProcess h({"--plugin", "/sse=" + plugin_path("sse"), "--server-timing"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), request("/sse/events?count=1&interval_ms=1"));
  ASSERT_TRUE(r);
  auto st = r->header("Server-Timing");
  ASSERT_TRUE(st);
  EXPECT_NE(st->find("parse;dur="), std::string::npos);
  EXPECT_NE(st->find("app;dur="), std::string::npos);
  EXPECT_EQ(st->find("encode"), std::string::npos) << *st;
}

TEST(ServerTiming, NeverOn100Continue) {
  HostProcess h({"--plugin", plugin_path("echo"), "--server-timing"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  c.send(
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
      "Expect: 100-continue\r\n\r\n");
  auto cont = c.read_response();
  ASSERT_TRUE(cont);
  EXPECT_EQ(cont->status, 100);
  EXPECT_FALSE(cont->header("Server-Timing"));
  c.send("ok");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->header("Server-Timing"));
}

TEST(ServerTiming, OffByDefault) {
  HostProcess h({"--plugin", plugin_path("hello")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), request("/hello"));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->header("Server-Timing"));
}

// ---------------------------------------------------------------------------
// Reload and shutdown with open streams

TEST(StreamingLifecycle, ReloadKeepsAnOpenStreamOnTheOldGeneration) {
  char tmpl[] = "/tmp/pounce-stream-reload-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string so = dir + "/libprobe.so";
  fs::copy_file(test_plugin_path("stream_probe_v1"), so);
  HostProcess h({"--plugin", so, "--reload-timeout", "30"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient open(h.port());
  open.send(request("/tick?count=0&interval_ms=20"));
  ASSERT_TRUE(open.read_head());
  bool ended = false;
  auto before = open.read_chunk(&ended);
  ASSERT_TRUE(before);
  EXPECT_EQ(before->substr(0, 8), "v1 tick ");

  fs::copy_file(test_plugin_path("stream_probe_v2"), so + ".new");
  fs::rename(so + ".new", so);
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_TRUE(h.wait_for_stderr("v1 draining reason=1"));
  // New requests: the new code.
  auto fresh = one_request(h.port(), request("/tick?count=1&interval_ms=1"));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->body, "v2 tick 0\n");
  // The open stream: still the old code.
  for (int i = 0; i < 3; ++i) {
    auto chunk = open.read_chunk(&ended);
    ASSERT_TRUE(chunk);
    EXPECT_EQ(chunk->substr(0, 8), "v1 tick ");
  }
  EXPECT_EQ(h.stderr_text().find("unloaded generation 1"), std::string::npos);
  fs::remove_all(dir);
}

TEST(StreamingLifecycle, ReloadDeadlineEndsTheOldStreamsWithAFinalChunk) {
  char tmpl[] = "/tmp/pounce-stream-reload-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::string so = dir + "/libprobe.so";
  fs::copy_file(test_plugin_path("stream_probe_v1"), so);
  HostProcess h({"--plugin", so, "--reload-timeout", "0.3"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient open(h.port());
  open.send(request("/tick?count=0&interval_ms=20"));
  ASSERT_TRUE(open.read_head());
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2"));
  bool ended = false;
  while (open.read_chunk(&ended)) {
  }
  EXPECT_TRUE(ended) << "the stream was cut instead of ended";
  EXPECT_TRUE(h.wait_for_stderr("unloaded generation 1")) << h.stderr_text();
  fs::remove_all(dir);
}

// The per-loop pool lends at most 64 streaming compression contexts; a
// stream past that is sent uncompressed, and a stream whose client leaves
// gives its context back. Then a clean exit, which under ASan+LSan fails on
// any stream left unfreed.
TEST(StreamingLifecycle, CompressorsAreCappedAndReturnedWhenClientsLeave) {
  HostProcess h(
      {"--plugin", "/sse=" + plugin_path("sse"), "--async-threads", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string req = request("/sse/events?count=0&interval_ms=1000",
                                  "Accept-Encoding: zstd\r\n");
  // Opens n streams; returns how many came back zstd-encoded.
  auto open_streams = [&](size_t n,
                          std::vector<std::unique_ptr<RawClient>>* held) {
    size_t compressed = 0;
    for (size_t i = 0; i < n; ++i) {
      auto c = std::make_unique<RawClient>(h.port());
      c->send(req);
      auto head = c->read_head();
      if (head && head->header("Content-Encoding") == "zstd") ++compressed;
      held->push_back(std::move(c));
    }
    return compressed;
  };
  std::vector<std::unique_ptr<RawClient>> held;
  EXPECT_EQ(open_streams(65, &held), 64u) << "the 65th is over the cap";
  held.clear();  // every client leaves
  // The leaving is noticed on the loop a moment later: once every context
  // is back, 64 new streams are all compressed again.
  size_t again = 0;
  for (auto until = std::chrono::steady_clock::now() + 10s;
       again < 64 && std::chrono::steady_clock::now() < until;) {
    std::vector<std::unique_ptr<RawClient>> round;
    again = open_streams(64, &round);
  }
  EXPECT_EQ(again, 64u) << "compression contexts were not given back";
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(10s), 0) << h.stderr_text();
}

TEST(StreamingLifecycle, ShutdownEndsAnEndlessSseStreamCleanly) {
  HostProcess h({"--plugin", "/sse=" + plugin_path("sse"), "--plugin",
                 "/probe=" + test_plugin_path("stream_probe_v1"),
                 "--shutdown-timeout", "2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient sse(h.port());
  sse.send(request("/sse/events?count=0&interval_ms=20"));
  ASSERT_TRUE(sse.read_head());
  RawClient probe(h.port());
  probe.send(request("/probe/tick?count=0&interval_ms=20"));
  ASSERT_TRUE(probe.read_head());
  auto start = std::chrono::steady_clock::now();
  h.signal(SIGTERM);
  // The sse plugin ends its streams itself when told it is draining.
  bool ended = false;
  while (sse.read_chunk(&ended)) {
  }
  EXPECT_TRUE(ended);
  // The probe does not: the host ends it at the shutdown timeout.
  EXPECT_TRUE(h.wait_for_stderr("v1 draining reason=2"));
  ended = false;
  while (probe.read_chunk(&ended, 10s)) {
  }
  EXPECT_TRUE(ended) << "the stream was cut instead of ended";
  EXPECT_EQ(h.wait_exit(10s), 0) << h.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 6s);
}

}  // namespace
