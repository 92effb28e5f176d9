// Regression tests for generation pins and deferred calls into plugin code
// (issue 9, defects 1, 2, 3, 5 and 11): a request handed to the async pool
// while a write is in flight, hand-offs that die while they wait, posted
// callbacks that outlive their owner, what a closing owner may still ask for,
// and subprotocol choices that are out of range.
//
// A leaked generation shows as "still pinned ... leaking it" after a SIGHUP;
// a retired one as the plugin's shutdown line, then "unloaded generation N".
#include <gtest/gtest.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>

#include "host_process.h"
#include "raw_client.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kLeak = "leaking it";

// Just below the server's output high-water mark (1 MiB), so that the
// server serves the request behind the POST in the same pass instead of
// waiting for the echo to be written first...
constexpr size_t kBigBody = 1000 * 1024;

// ...and far more than a connection with these options takes at once: a
// receive buffer without autotuning, and small segments, from which the
// server sizes its send buffer (a few hundred KiB at most, where 64 KiB
// loopback segments would give it megabytes).
constexpr ClientSocketOptions kSmallWindow{64 * 1024, 1400};

// Sends a POST whose echo the socket cannot take at once, then `next`
// behind it, so that the server reads `next` together with the body's last
// byte and serves it while the echo is still being written.
void send_big_post_then(RawClient& c, const std::string& next) {
  std::string bytes =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/octet-stream\r\nContent-Length: " +
      std::to_string(kBigBody) + "\r\n\r\n";
  bytes.append(kBigBody - 1, 'b');
  ASSERT_TRUE(c.send(bytes));
  // Everything but the last byte acknowledged by the server's kernel: the
  // last byte and `next` then travel in one segment, read in one read.
  auto deadline = std::chrono::steady_clock::now() + 20s;
  int unsent = 1;
  while (ioctl(c.fd(), SIOCOUTQ, &unsent) == 0 && unsent > 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(unsent, 0);
  ASSERT_TRUE(c.send("b" + next));
}

std::vector<std::string> sse_host_args() {
  return {"--plugin",         plugin_path("echo"),
          "--plugin",         "/sse=" + plugin_path("sse"),
          "--plugin",         "/probe=" + test_plugin_path("pin_probe"),
          "--workers",        "1",
          "--async-threads",  "1",
          "--max-body-size",  std::to_string(kBigBody),
          "--reload-timeout", "1"};
}

// After a SIGHUP, generation 1 must be retired: its shutdown runs, and the
// host never declares it leaked.
void expect_generation_1_retires(HostProcess& h) {
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_TRUE(h.wait_for_stderr("unloaded generation 1", 20s))
      << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("pin-probe 1 shutdown"), std::string::npos);
  EXPECT_EQ(h.stderr_text().find(kLeak), std::string::npos) << h.stderr_text();
}

// ---------------------------------------------------------------------------
// Defect 1: an async request read together with a sync one whose response
// is still being written.

TEST(HandOffDuringWrite, AsyncRequestBehindALargeSyncResponseIsServed) {
  HostProcess h(sse_host_args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port(), kSmallWindow);
  // The client reads nothing until the POST was served.
  send_big_post_then(
      c, "GET /sse/events?count=3&interval_ms=10 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stdout("\"POST / HTTP/1.1\" 200", 20s))
      << h.stderr_text();

  auto echo = c.read_response(false, 30s);
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->status, 200);
  EXPECT_EQ(echo->body.size(), kBigBody);
  auto sse = c.read_head();
  ASSERT_TRUE(sse) << "the async request behind the POST was dropped\n"
                   << h.stderr_text();
  EXPECT_EQ(sse->status, 200);
  std::string events;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) events += *chunk;
  EXPECT_TRUE(ended);
  EXPECT_EQ(count_of(events, "data: "), 3u) << events;
  ASSERT_TRUE(
      h.wait_for_stdout("\"GET /sse/events?count=3&interval_ms=10 "
                        "HTTP/1.1\" 200"));
  expect_generation_1_retires(h);
}

// ---------------------------------------------------------------------------
// Defect 2: the hand-off's pin when the connection dies while it waits.

TEST(HandOffDuringWrite, WriteTimeoutWhileTheHandOffWaitsReleasesItsPin) {
  auto args = sse_host_args();
  args.insert(args.end(), {"--write-timeout", "1"});
  HostProcess h(args);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port(), kSmallWindow);
  send_big_post_then(c, "GET /sse/events?count=0 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stdout("\"POST / HTTP/1.1\" 200", 20s))
      << h.stderr_text();
  // Never read: the write times out while the hand-off waits for it.
  ASSERT_TRUE(h.wait_for_stderr("write timeout: ", 20s)) << h.stderr_text();
  expect_generation_1_retires(h);
}

TEST(HandOffDuringWrite, ResetWhileTheHandOffWaitsReleasesItsPin) {
  HostProcess h(sse_host_args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  {
    RawClient c(h.port(), kSmallWindow);
    send_big_post_then(c,
                       "GET /sse/events?count=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(h.wait_for_stdout("\"POST / HTTP/1.1\" 200", 20s))
        << h.stderr_text();
    linger l{1, 0};  // the close below resets: the write in flight fails
    setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  expect_generation_1_retires(h);
}

// ---------------------------------------------------------------------------
// Defect 3: a callback posted while its owner lived runs after the owner
// closed; its generation must stay loaded until then.

// From the owning loop, and from a thread of the plugin's own (which pins
// through the handle table).
class DeferredCalls : public ::testing::TestWithParam<std::string> {};

TEST_P(DeferredCalls, PostedCallbackKeepsItsGenerationUntilItRan) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("pin_probe"),
                 "--workers", "1", "--async-threads", "1", "--reload-timeout",
                 "30"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();

  // A: a held stream of generation 1 with its body still to come.
  RawClient a(h.port());
  a.send("POST /probe/hold?sleep_ms=2000&from=" + GetParam() +
         " HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n");
  ASSERT_TRUE(a.read_head());
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();

  // D: a stream of generation 2 on the same loop, whose body's arrival
  // keeps the loop busy for a while.
  RawClient d(h.port());
  d.send(
      "POST /probe/slowbody?sleep_ms=1500 HTTP/1.1\r\nHost: x\r\n"
      "Content-Length: 1\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("pin-probe 2 slowbody started"));

  // A's body: its on_body blocks the loop, then posts a callback to A.
  // Meanwhile A's client leaves and D's body arrives, so that the loop
  // next runs A's on_close (A's own pin goes), then D's busy on_body, and
  // only then the callback.
  a.send("x");
  ASSERT_TRUE(h.wait_for_stderr("pin-probe 1 on_body sleeping"));
  a.shutdown_write();
  d.send("y");

  ASSERT_TRUE(h.wait_for_stderr("pin-probe 1 posted callback ran", 20s))
      << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("unloaded generation 1", 20s))
      << h.stderr_text();
  const std::string err = h.stderr_text();
  EXPECT_NE(err.find("pin-probe 1 posted rc=0"), std::string::npos) << err;
  EXPECT_LT(err.find("pin-probe 1 posted callback ran"),
            err.find("pin-probe 1 shutdown"))
      << "generation 1 was shut down before its posted callback ran\n"
      << err;
  EXPECT_EQ(err.find(kLeak), std::string::npos) << err;
  EXPECT_TRUE(h.running());
}

INSTANTIATE_TEST_SUITE_P(From, DeferredCalls,
                         ::testing::Values("loop", "thread"));

// ---------------------------------------------------------------------------
// Defect 5: what a closing owner may still ask for.

TEST(ClosingOwner, StreamOnCloseGetsNoTimerNoPostAndNoWrite) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("pin_probe"),
                 "--shutdown-timeout", "2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  {
    RawClient c(h.port());
    c.send("GET /probe/closing HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(c.read_head());
  }  // the client leaves: on_close(PEER)
  ASSERT_TRUE(h.wait_for_stderr("on_close calls: ")) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("on_close calls: timer=0 post=-1 write=-1"),
            std::string::npos)
      << h.stderr_text();
  // A timer accepted there would fire every 10 ms and keep the loop alive.
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
  EXPECT_EQ(h.stderr_text().find("after close"), std::string::npos)
      << h.stderr_text();
}

TEST(ClosingOwner, WebSocketOnCloseGetsNoTimerNoPostAndNoSend) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("pin_probe"),
                 "--shutdown-timeout", "2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  {
    WsClient c(h.port());
    auto r = c.handshake("/probe/ws");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 101);
  }  // the client vanishes: on_ws_close(1006)
  ASSERT_TRUE(h.wait_for_stderr("on_ws_close calls: ")) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("on_ws_close calls: timer=0 post=-1 send=-1"),
            std::string::npos)
      << h.stderr_text();
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
  EXPECT_EQ(h.stderr_text().find("after close"), std::string::npos)
      << h.stderr_text();
}

// ---------------------------------------------------------------------------
// Defect 11: a subprotocol index that is neither -1 nor an offered one.

class SubprotocolIndex : public ::testing::TestWithParam<int> {};

TEST_P(SubprotocolIndex, OutOfRangeIsRefusedWith500) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("pin_probe")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string index = std::to_string(GetParam());
  WsClient c(h.port());
  auto r = c.handshake("/probe/ws?protocol=" + index,
                       "Sec-WebSocket-Protocol: chat, superchat\r\n");
  ASSERT_TRUE(r) << "no answer to the upgrade";
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(h.wait_for_stderr("chose subprotocol " + index + " of 2"))
      << h.stderr_text();
  // Nothing was opened: no session, so no on_ws_close either.
  EXPECT_EQ(h.stderr_text().find("on_ws_close calls"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Indexes, SubprotocolIndex,
                         ::testing::Values(-2, -1000, 2, 7));

TEST(SubprotocolIndexInRange, AnOfferedOneIsSentIn101) {
  HostProcess h({"--plugin", "/probe=" + test_plugin_path("pin_probe")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  auto r = c.handshake("/probe/ws?protocol=1",
                       "Sec-WebSocket-Protocol: chat, superchat\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
  EXPECT_EQ(r->header("Sec-WebSocket-Protocol").value_or(""), "superchat");
}

}  // namespace
