// ABI 1.1 (issue 11 #4, docs/abi.md): the rules a plugin can observe, probed
// from C (tests/plugins/abi11_probe.c) and through pounce.hpp
// (tests/plugins/abi11_cpp.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "host_process.h"
#include "raw_client.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

std::string get_body(uint16_t port, const std::string& path,
                     const std::string& extra = "") {
  RawClient c(port);
  c.send("GET " + path + " HTTP/1.1\r\nHost: example.test:8080\r\n" + extra +
         "\r\n");
  auto r = c.read_response();
  return r ? r->body : "(no response)";
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

class Abi11 : public ::testing::Test {
 protected:
  void SetUp() override {
    host_ = std::make_unique<HostProcess>(std::vector<std::string>{
        "--plugin", test_plugin_path("abi11_probe"), "--log-level", "warn"});
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }
  uint16_t port() const { return host_->port(); }
  std::unique_ptr<HostProcess> host_;
};

// A timer handle given to stream_* calls and post, a stream handle given to
// ws_* calls and timer_stop: POUNCE_ERR_INVALID on the loop (was
// POUNCE_ERR_CLOSED) and from another thread (was POUNCE_OK, the call then
// dropped on the loop).
TEST_F(Abi11, HandlesOfAnotherKindAreInvalidOnAndOffTheLoop) {
  EXPECT_EQ(get_body(port(), "/kinds"), "ok");
}

TEST_F(Abi11, AWebSocketHandleGivenToStreamCallsIsInvalid) {
  WsClient c(port());
  auto r = c.handshake("/ws-kinds");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 101);
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "ok");
  c.send_close(1000);
  c.read_until_close();
}

// Non-zero from on_request after stream_start: the stream is aborted (the
// client sees the chunked body cut short) and logged, no longer ignored.
TEST_F(Abi11, OnRequestFailingAfterStartAbortsTheStream) {
  RawClient c(port());
  c.send("GET /after-start HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  std::string rest;
  EXPECT_TRUE(c.wait_closed(10s, &rest));
  EXPECT_NE(rest.find("partial"), std::string::npos) << rest;
  EXPECT_EQ(rest.find("0\r\n\r\n"), std::string::npos) << rest;
  EXPECT_TRUE(host_->wait_for_stderr(
      "on_request returned 1 after stream_start; aborting the stream"))
      << host_->stderr_text();
  EXPECT_TRUE(host_->wait_for_stderr("stream closed reason=5"))
      << host_->stderr_text();
}

// timer_start off the loop answers 0 (as before) and is now logged, once.
TEST_F(Abi11, TimerStartOffTheLoopIsLoggedOnce) {
  EXPECT_EQ(get_body(port(), "/timer-thread"), "ok");
  EXPECT_EQ(get_body(port(), "/timer-thread"), "ok");
  const std::string needle =
      "called timer_start from a thread other than the owner's loop";
  ASSERT_TRUE(host_->wait_for_stderr(needle)) << host_->stderr_text();
  // A later line orders the check: both requests were served before it.
  get_body(port(), "/after-start");
  ASSERT_TRUE(host_->wait_for_stderr("stream closed reason=5"));
  EXPECT_EQ(count_of(host_->stderr_text(), needle), 1u) << host_->stderr_text();
}

// A level no POUNCE_LOG_* names is logged as an error (visible under
// --log-level warn), read as the integer it is.
TEST_F(Abi11, AnUnknownLogLevelIsLoggedAsAnError) {
  EXPECT_EQ(get_body(port(), "/log-level"), "ok");
  EXPECT_TRUE(host_->wait_for_stderr("a line at level 99"))
      << host_->stderr_text();
}

// request_addr writes nothing past a plugin-allocated struct's size, and
// family is POUNCE_AF_INET.
TEST_F(Abi11, RequestAddrHonoursThePluginsSize) {
  EXPECT_EQ(get_body(port(), "/addr"), "ok");
}

TEST_F(Abi11, TheViewCarriesSchemeAuthorityAndEveryHeaderValue) {
  EXPECT_EQ(get_body(port(), "/view", "cookie: a=1\r\nCookie: b=2\r\n"),
            "major=1 minor=1 scheme=http authority=example.test:8080 "
            "cookies=2 [a=1][b=2]");
}

// Accepted with a subprotocol the client never offered: the host cannot
// send the 101 and hands the upgrade's user back to be freed.
TEST_F(Abi11, AnAbandonedUpgradeHandsItsUserBack) {
  WsClient c(port());
  auto r = c.handshake("/ws-badproto", "Sec-WebSocket-Protocol: chat\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(
      host_->wait_for_stderr("upgrade abandoned, freeing user of /ws-badproto"))
      << host_->stderr_text();
}

// Refused by the plugin: it freed its own user, and the host calls nothing.
TEST_F(Abi11, ARefusedUpgradeIsNotHandedBack) {
  WsClient c(port());
  auto r = c.handshake("/ws-refuse");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  // Ordered after the refusal on the same loop: a later request's line.
  get_body(port(), "/after-start");
  ASSERT_TRUE(host_->wait_for_stderr("stream closed reason=5"));
  EXPECT_EQ(host_->stderr_text().find("upgrade abandoned"), std::string::npos)
      << host_->stderr_text();
}

// The host never calls a hook from inside a host call: a stream pushed past
// the high-water mark, drained by the client, then ended or aborted from
// flagged host calls. on_close (and on_writable, timers) run on a later turn.
TEST_F(Abi11, NoHookRunsInsideAHostCall) {
  for (const char* path : {"/reentry", "/reentry-abort"}) {
    RawClient c(port());
    c.send(std::string("GET ") + path +
           " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    std::string all = c.read_all(20s);
    EXPECT_NE(all.find("200"), std::string::npos) << path;
  }
  ASSERT_TRUE(host_->wait_for_stderr("stream closed reason=0"))
      << host_->stderr_text();
  ASSERT_TRUE(host_->wait_for_stderr("stream closed reason=5"))
      << host_->stderr_text();
  EXPECT_EQ(host_->stderr_text().find("REENTERED"), std::string::npos)
      << host_->stderr_text();
}

// The same through pounce.hpp.
TEST(Abi11Cpp, RequestAccessorsAndAbandonedUpgrade) {
  HostProcess h({"--plugin", test_plugin_path("abi11_cpp")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(get_body(h.port(), "/", "Cookie: a=1\r\ncookie: b=2\r\n"),
            "major=1 minor=1 scheme=http authority=example.test:8080 "
            "cookies=[a=1][b=2]");
  WsClient c(h.port());
  auto r = c.handshake("/ws-badproto", "Sec-WebSocket-Protocol: chat\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(
      h.wait_for_stderr("cpp upgrade abandoned, freeing user of /ws-badproto"))
      << h.stderr_text();
}

}  // namespace
