// WebSocket over raw frames: the handshake rules, framing edge cases, the
// close handshake, and the lifecycle (reload, shutdown, vanishing clients).
// The independent clients (python3-websockets, node-ws) are in ws_clients/.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "host_process.h"
#include "raw_client.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class WebSocketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess({"--plugin", test_plugin_path("ws_probe_v1"),
                             "--plugin", "/hello=" + plugin_path("hello"),
                             "--ws-max-message-size", "100000",
                             "--async-threads", "2"});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  uint16_t port() const { return host_->port(); }
  static HostProcess* host_;
};

HostProcess* WebSocketTest::host_ = nullptr;

// Ends a socket with the close handshake, so that its on_ws_close (1000)
// is not a late 1006 that a later test counts as its own.
void close_cleanly(WsClient& c) {
  c.send_close(1000);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1000);
  EXPECT_TRUE(c.wait_closed());
}

// ---------------------------------------------------------------------------
// Handshake

TEST_F(WebSocketTest, HandshakeAnswers101WithTheAcceptKey) {
  WsClient c(port());
  auto r = c.handshake("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  // RFC 6455 §1.3's example key and answer.
  EXPECT_EQ(r->header("Sec-WebSocket-Accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  EXPECT_EQ(r->header("Upgrade"), "websocket");
}

TEST_F(WebSocketTest, ConnectionIsATokenList) {
  RawClient c(port());
  c.send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  auto r = c.read_head();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
}

TEST_F(WebSocketTest, WrongVersionGets426) {
  RawClient c(port());
  c.send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Version: 8\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 426);
  EXPECT_EQ(r->header("Sec-WebSocket-Version"), "13");
  EXPECT_EQ(r->header("Upgrade"), "websocket");
  EXPECT_EQ(r->header("X-Pounce-Error"), "WEBSOCKET_VERSION");
}

TEST_F(WebSocketTest, BadKeyGets400) {
  RawClient c(port());
  c.send(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: tooshort\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("X-Pounce-Error"), "BAD_WEBSOCKET_HANDSHAKE");
}

TEST_F(WebSocketTest, PluginWithoutWebSocketHooksGets400) {
  WsClient c(port());
  auto r = c.handshake("/hello/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("X-Pounce-Error"), "WEBSOCKET_UNSUPPORTED");
}

TEST_F(WebSocketTest, PluginMayRefuseBeforeThe101) {
  WsClient c(port());
  auto r = c.handshake("/forbidden");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
}

TEST_F(WebSocketTest, PluginChoosesASubprotocol) {
  WsClient c(port());
  auto r = c.handshake("/", "Sec-WebSocket-Protocol: superchat, chat\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("Sec-WebSocket-Protocol"), "chat");
  WsClient none(port());
  auto r2 = none.handshake("/", "Sec-WebSocket-Protocol: other\r\n");
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->header("Sec-WebSocket-Protocol"));
}

TEST_F(WebSocketTest, PlainHttpToTheSamePluginStillWorks) {
  auto r = one_request(port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "v1 plain http");
}

// ---------------------------------------------------------------------------
// Framing

TEST_F(WebSocketTest, EchoesTextAndBinaryOfEveryLengthClass) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  for (size_t n : {0u, 125u, 126u, 65535u, 65536u, 99999u}) {
    std::string text(n, 'a');
    ASSERT_TRUE(c.send_frame(1, text));
    auto f = c.read_frame();
    ASSERT_TRUE(f) << n;
    EXPECT_EQ(f->opcode, 1);
    EXPECT_EQ(f->payload, text);
    std::string bin(n, '\xff');
    ASSERT_TRUE(c.send_frame(2, bin));
    auto g = c.read_frame();
    ASSERT_TRUE(g) << n;
    EXPECT_EQ(g->opcode, 2);
    EXPECT_EQ(g->payload.size(), n);
  }
}

TEST_F(WebSocketTest, FragmentsWithPingsInBetween) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(1, "Hel", /*fin=*/false);
  c.send_frame(9, "p1");  // a ping between fragments
  c.send_frame(0, "lo, ", false);
  c.send_frame(9, "p2");
  c.send_frame(0, "World", true);
  auto pong1 = c.read_frame();
  auto pong2 = c.read_frame();
  auto msg = c.read_frame();
  ASSERT_TRUE(pong1 && pong2 && msg);
  EXPECT_EQ(pong1->opcode, 0xA);
  EXPECT_EQ(pong1->payload, "p1");
  EXPECT_EQ(pong2->payload, "p2");
  EXPECT_EQ(msg->opcode, 1);
  EXPECT_EQ(msg->payload, "Hello, World");
}

TEST_F(WebSocketTest, UnmaskedFrameFailsWith1002) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(1, "hi", true, /*masked=*/false);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(host_->wait_for_stderr("v1 ws on_ws_close code=1002"));
}

TEST_F(WebSocketTest, InvalidUtf8SplitAcrossFragmentsFailsFastWith1007) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  // "é" is C3 A9; C3 followed by 28 is invalid. Split inside the code point.
  c.send_frame(1, "ok \xc3", false);
  c.send_frame(0, "\x28 and more", false);  // not final: must fail now
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1007);
}

TEST_F(WebSocketTest, ValidUtf8SplitAcrossFragmentsIsFine) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(1, "caf\xc3", false);
  c.send_frame(0, "\xa9", true);
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "caf\xc3\xa9");
}

TEST_F(WebSocketTest, ReservedBitsFailWith1002) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);  // no permessage-deflate offered
  c.send_frame(1, "x", true, true, /*rsv=*/4);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002);
}

TEST_F(WebSocketTest, UnknownOpcodeFailsWith1002) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(3, "x");
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002);
}

class BadCloseCode : public WebSocketTest,
                     public ::testing::WithParamInterface<int> {};

TEST_P(BadCloseCode, FailsWith1002) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_close(static_cast<uint16_t>(GetParam()));
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1002);
}

INSTANTIATE_TEST_SUITE_P(Codes, BadCloseCode,
                         ::testing::Values(0, 999, 1004, 1005, 1006, 1015, 1016,
                                           2999, 5000));

TEST_F(WebSocketTest, OversizeMessageFailsWith1009) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(2, std::string(100001, 'x'));
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1009);
}

TEST_F(WebSocketTest, OversizeAcrossFragmentsFailsWith1009) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_frame(2, std::string(60000, 'x'), false);
  c.send_frame(0, std::string(60000, 'x'), false);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1009);
}

// ---------------------------------------------------------------------------
// Close handshake and the plugin's calls

TEST_F(WebSocketTest, PeerCloseIsEchoedAndReported) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_close(1000, "done here");
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1000);
  EXPECT_TRUE(c.wait_closed()) << "the server must close the TCP first";
  EXPECT_TRUE(
      host_->wait_for_stderr("v1 ws on_ws_close code=1000 reason=done here"));
}

TEST_F(WebSocketTest, PluginInitiatedClose) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("close-me");
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 4000);
  EXPECT_EQ(close->payload.substr(2), "bye");
  c.send_close(4000);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(WebSocketTest, SendsFromAnotherThread) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("from-thread");
  for (int i = 0; i < 3; ++i) {
    auto f = c.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "thread " + std::to_string(i));
  }
}

TEST_F(WebSocketTest, OnWsOpenRunsBeforeAnyMessage) {
  WsClient c(port());
  ASSERT_EQ(c.handshake("/greet")->status, 101);
  // Nothing sent yet: the first frame can only come from on_ws_open.
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 1);
  EXPECT_EQ(f->payload, "hello from on_ws_open");
  c.send_text("version");
  auto g = c.read_frame();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->payload, "v1");
  close_cleanly(c);
}

// The plugin pings on `command` (from its loop or another thread): the
// client sees a ping with `payload`, answers it, and the socket goes on.
void expect_plugin_ping(uint16_t port, const std::string& command,
                        const std::string& payload) {
  WsClient c(port);
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text(command);
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 9);
  EXPECT_EQ(f->payload, payload);
  c.send_frame(0xA, f->payload);  // pong
  c.send_text("version");
  auto g = c.read_frame();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->payload, "v1");
  close_cleanly(c);
}

TEST_F(WebSocketTest, PluginPingReachesTheClient) {
  expect_plugin_ping(port(), "ping", "plugin-ping");
}

TEST_F(WebSocketTest, PingFromAnotherThreadReachesTheClient) {
  expect_plugin_ping(port(), "thread-ping", "thread-ping");
}

TEST_F(WebSocketTest, CloseFromAnotherThreadReachesTheClient) {
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("thread-close");
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 4001);
  EXPECT_EQ(close->payload.substr(2), "from thread");
  c.send_close(4001);
  EXPECT_TRUE(c.wait_closed());
  // on_ws_close gets the peer's answer: our code, no reason.
  EXPECT_TRUE(host_->wait_for_stderr("v1 ws on_ws_close code=4001 reason=\n"))
      << host_->stderr_text();
}

// A call queued from another thread is checked before it is queued: bad
// UTF-8 in a text message, a bad opcode, NULL data with a length, a ping
// over 125 bytes, a bad close code or reason all answer POUNCE_ERR_INVALID
// (-2) as they do on the owning loop, instead of POUNCE_OK and nothing.
TEST_F(WebSocketTest, InvalidCallsAreRefusedAlikeFromAnyThread) {
  std::string codes;
  for (int i = 0; i < 10; ++i) codes += i ? " -2" : "-2";
  WsClient c(port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("invalid-calls");
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "loop: " + codes);
  c.send_text("thread-invalid-calls");
  auto g = c.read_frame();
  ASSERT_TRUE(g);
  EXPECT_EQ(g->payload, "thread: " + codes);
  // None of them sent or closed anything: the socket still answers, and
  // the answer is the next frame.
  c.send_text("version");
  auto v = c.read_frame();
  ASSERT_TRUE(v);
  EXPECT_EQ(v->opcode, 1);
  EXPECT_EQ(v->payload, "v1");
  close_cleanly(c);
}

TEST_F(WebSocketTest, VanishingClientGivesExactlyOneOnClose1006) {
  size_t before = count_of(host_->stderr_text(), "v1 ws on_ws_close code=1006");
  {
    WsClient c(port());
    ASSERT_EQ(c.handshake()->status, 101);
    c.send_text("version");
    ASSERT_TRUE(c.read_frame());
  }  // the socket closes without a close frame
  ASSERT_TRUE(
      host_->wait_for_stderr("v1 ws on_ws_close code=1006", 10s, before + 1));
  // Exactly once: nothing more arrives for it.
  RawClient probe(port());  // a round trip through the server
  probe.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(probe.read_response());
  EXPECT_EQ(count_of(host_->stderr_text(), "v1 ws on_ws_close code=1006"),
            before + 1);
}

// ---------------------------------------------------------------------------
// Lifecycle

TEST(WebSocketLifecycle, KeepAliveTimeoutNeverClosesAWebSocket) {
  HostProcess h({"--plugin", test_plugin_path("ws_probe_v1"),
                 "--keep-alive-timeout", "0.2", "--header-timeout", "0.2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  EXPECT_TRUE(c.raw().stays_open(700ms));
  c.send_text("still here");
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "still here");
}

// Many messages in one read: their echoes are held back while the read is
// handled (the connection is corked) and must all arrive, also when the
// high-water mark is below what one read's echoes add up to.
TEST(WebSocketLifecycle, EveryEchoOfOneReadArrives) {
  for (const char* high_water : {"65536", "300"}) {
    HostProcess h(
        {"--plugin", plugin_path("echo"), "--stream-high-water", high_water});
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    WsClient c(h.port());
    ASSERT_EQ(c.handshake()->status, 101);
    std::string batch;
    for (int i = 0; i < 64; ++i) {
      batch += WsClient::encode_frame(
          1, "message " + std::to_string(i) + std::string(100, '.'));
    }
    ASSERT_TRUE(c.raw().send(batch));
    for (int i = 0; i < 64; ++i) {
      auto f = c.read_frame();
      ASSERT_TRUE(f) << "echo " << i << " with --stream-high-water "
                     << high_water;
      EXPECT_EQ(f->payload,
                "message " + std::to_string(i) + std::string(100, '.'));
    }
  }
}

// The plugin sends until a send answers POUNCE_HIGH_WATER while the client
// reads nothing; once the client reads, on_ws_writable follows.
TEST(WebSocketLifecycle, SendAnswersHighWaterAndOnWsWritableFollows) {
  HostProcess h({"--plugin", test_plugin_path("ws_probe_v1"),
                 "--stream-high-water", "4096"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("flood");
  // The client has read nothing since: the plugin saw POUNCE_HIGH_WATER.
  ASSERT_TRUE(h.wait_for_stderr("v1 ws flood: high water after", 30s))
      << h.stderr_text();
  EXPECT_EQ(h.stderr_text().find("v1 ws on_ws_writable"), std::string::npos)
      << "on_ws_writable before the client read anything";
  size_t blocks = 0;
  std::optional<WsFrame> f;
  while ((f = c.read_frame()) && f->opcode == 2) ++blocks;
  ASSERT_TRUE(f) << "after " << blocks << " blocks";
  EXPECT_EQ(f->opcode, 1);
  EXPECT_EQ(f->payload, "high-water");
  EXPECT_GT(blocks, 0u);
  auto w = c.read_frame();
  ASSERT_TRUE(w) << "no message from on_ws_writable";
  EXPECT_EQ(w->opcode, 1);
  EXPECT_EQ(w->payload, "writable");
  EXPECT_TRUE(h.wait_for_stderr("v1 ws on_ws_writable")) << h.stderr_text();
}

TEST(WebSocketLifecycle, IdleSocketsGetServerPings) {
  HostProcess h({"--plugin", test_plugin_path("ws_probe_v1"),
                 "--ws-ping-interval", "0.2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  auto f = c.read_frame(5s);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->opcode, 9);        // ping
  c.send_frame(0xA, f->payload);  // pong
}

TEST(WebSocketLifecycle, ShutdownSends1001AndWaitsForTheHandshake) {
  HostProcess h(
      {"--plugin", test_plugin_path("ws_probe_v1"), "--shutdown-timeout", "5"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  h.signal(SIGTERM);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1001);
  EXPECT_TRUE(h.running()) << "exited before the close handshake";
  c.send_close(1001);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(h.wait_exit(10s), 0) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("v1 ws on_ws_close code=1001"),
            std::string::npos);
}

// A client that never answers the 1001 does not hold the shutdown: at
// --shutdown-timeout (shorter than the close wait) the server closes the
// socket, the plugin hears 1006 (no close frame came), and the process
// exits 0.
TEST(WebSocketLifecycle, ShutdownClosesASocketWhoseClientNeverAnswers) {
  HostProcess h(
      {"--plugin", test_plugin_path("ws_probe_v1"), "--shutdown-timeout", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  c.send_text("version");
  ASSERT_TRUE(c.read_frame());
  auto start = std::chrono::steady_clock::now();
  h.signal(SIGTERM);
  auto close = c.read_until_close();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->close_code(), 1001);
  // No answer. The close wait alone would take 5 s.
  EXPECT_TRUE(c.wait_closed(10s));
  EXPECT_EQ(h.wait_exit(10s), 0) << h.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 4s);
  std::string err = h.stderr_text();
  EXPECT_NE(err.find("shutdown timeout: closing the connections still open"),
            std::string::npos)
      << err;
  EXPECT_EQ(count_of(err, "v1 ws on_ws_close code="), 1u) << err;
  EXPECT_NE(err.find("v1 ws on_ws_close code=1006"), std::string::npos) << err;
}

// A host serving ws_probe v1 from a file that is then replaced by v2 and
// reloaded, with a socket opened before the reload (which must still be
// served by v1).
class ReloadedWsHost {
 public:
  explicit ReloadedWsHost(std::vector<std::string> extra_args) {
    char tmpl[] = "/tmp/pounce-ws-reload-XXXXXX";
    dir_ = mkdtemp(tmpl);
    const std::string so = dir_ + "/libws.so";
    fs::copy_file(test_plugin_path("ws_probe_v1"), so);
    std::vector<std::string> args = {"--plugin", so};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    host = std::make_unique<HostProcess>(args);
    if (!host->ok()) return;
    old_socket = std::make_unique<WsClient>(host->port());
    if (!old_socket->handshake()) return;
    fs::copy_file(test_plugin_path("ws_probe_v2"), so + ".new");
    fs::rename(so + ".new", so);
    host->signal(SIGHUP);
    reloaded = host->wait_for_stderr("reloaded generation 2");
  }
  ~ReloadedWsHost() { fs::remove_all(dir_); }

  // The version that answers on `c`.
  static std::string version(WsClient& c) {
    c.send_text("version");
    auto f = c.read_frame();
    return f ? f->payload : "(no answer)";
  }

  std::unique_ptr<HostProcess> host;
  std::unique_ptr<WsClient> old_socket;
  bool reloaded = false;

 private:
  std::string dir_;
};

TEST(WebSocketLifecycle, ReloadKeepsOpenSocketsOnTheOldGeneration) {
  ReloadedWsHost r({});
  ASSERT_TRUE(r.reloaded) << r.host->stderr_text();
  EXPECT_EQ(ReloadedWsHost::version(*r.old_socket), "v1");
  WsClient new_socket(r.host->port());
  ASSERT_EQ(new_socket.handshake()->status, 101);
  EXPECT_EQ(ReloadedWsHost::version(new_socket), "v2");
}

// An old-generation socket still open at --reload-timeout gets close 1001
// from the server; the old generation is unloaded once it is gone.
TEST(WebSocketLifecycle, ReloadTimeoutClosesOldSocketsWith1001) {
  ReloadedWsHost r({"--reload-timeout", "1"});
  ASSERT_TRUE(r.reloaded) << r.host->stderr_text();
  HostProcess& h = *r.host;
  WsClient& old_socket = *r.old_socket;
  EXPECT_EQ(ReloadedWsHost::version(old_socket), "v1");
  auto close = old_socket.read_until_close();
  ASSERT_TRUE(close) << h.stderr_text();
  EXPECT_EQ(close->close_code(), 1001);
  EXPECT_TRUE(
      h.wait_for_stderr("generation 1 still pinned at --reload-timeout"))
      << h.stderr_text();
  old_socket.send_close(1001);
  EXPECT_TRUE(old_socket.wait_closed());
  EXPECT_TRUE(h.wait_for_stderr("v1 ws on_ws_close code=1001"))
      << h.stderr_text();
  EXPECT_TRUE(h.wait_for_stderr("unloaded generation 1")) << h.stderr_text();
}

}  // namespace
