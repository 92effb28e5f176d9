// The known HTTP/2 attacks (issue 13 §3), each against the real pounce-host
// through python3-h2 and raw frames (h2_client.py). Each attack must end
// with a bounded cost: a GOAWAY with the right code (or a stream error),
// one log line, and a normal client served while it runs and after.
//
// The limits the floods meet are host/h2/frame_budget.h's; a count below
// the burst must pass untouched, so that each test also shows the budget
// does not refuse a normal client.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "h2_client.h"
#include "host_process.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

// The number after `"key": ` in a JSON line; -1 when absent.
long json_number(const std::string& json, const std::string& key) {
  const std::string k = "\"" + key + "\": ";
  const size_t at = json.find(k);
  if (at == std::string::npos) return -1;
  return strtol(json.c_str() + at + k.size(), nullptr, 10);
}

class H2Attack : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess(
        {"--plugin", test_plugin_path("h2_probe"), "--plugin",
         "/sp=" + test_plugin_path("stream_probe_v1"), "--workers", "1",
         "--async-threads", "1", "--write-timeout", "1", "--no-access-log"});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  static std::string client(std::vector<std::string> args) {
    return h2_client(host_->port(), std::move(args));
  }
  // A well-behaved client on its own connection is served.
  static void expect_others_served() {
    std::string ok = client({"request", "GET", "/view"});
    EXPECT_TRUE(contains(ok, "\"status\": \"200\"")) << ok;
  }
  // An attack's connection ends with GOAWAY `code`, and the line that says
  // why is in the log.
  static void expect_goaway(const std::string& r, int code,
                            const std::string& log_line) {
    EXPECT_TRUE(
        contains(r, "\"goaway\": {\"error\": " + std::to_string(code) + ", "))
        << r;
    EXPECT_TRUE(host_->wait_for_stderr(log_line)) << host_->stderr_text();
  }
  static HostProcess* host_;
};

HostProcess* H2Attack::host_ = nullptr;

TEST_F(H2Attack, RapidResetIsEnhanceYourCalm) {
  // CVE-2023-44487: HEADERS then RST_STREAM, 3,000 times. The budget is
  // 200 at once: the connection ends with ENHANCE_YOUR_CALM (11) long
  // before the end, and the last stream it processed says how soon.
  std::string r = client({"rapid-reset", "3000"});
  expect_goaway(r, 11, "flood of RST_STREAM frames");
  // Streams 1, 3, ... 399 drew the burst of 200; a few more came back
  // while the attack ran (50 a second).
  const long last = json_number(r, "last_stream_id");
  EXPECT_GE(last, 399) << r;
  EXPECT_LT(last, 1000) << r;
  expect_others_served();
}

TEST_F(H2Attack, ResetsTheServerIsMadeToSendCountToo) {
  // "MadeYouReset": malformed requests the server must reset. Each stream
  // error draws on the same budget as the client's own resets.
  std::string r = client({"made-you-reset", "1000"});
  expect_goaway(r, 11, "flood of RST_STREAM frames");
  const long resets = json_number(r, "resets");
  EXPECT_GE(resets, 200) << r;
  EXPECT_LT(resets, 500) << r;
  expect_others_served();
}

TEST_F(H2Attack, ControlFrameFloodsAreEnhanceYourCalm) {
  for (const char* kind : {"settings", "ping", "empty-data", "priority"}) {
    SCOPED_TRACE(kind);
    // Within the burst: untouched, and the connection serves a request.
    std::string calm = client({"frame-flood", kind, "20"});
    EXPECT_TRUE(contains(calm, "\"goaway\": null, \"after\": \"200\"")) << calm;
    // A flood: GOAWAY ENHANCE_YOUR_CALM with a log line naming it.
    std::string r = client({"frame-flood", kind, "1000"});
    const std::string name = std::string(kind) == "settings"     ? "SETTINGS"
                             : std::string(kind) == "ping"       ? "PING"
                             : std::string(kind) == "empty-data" ? "empty DATA"
                                                                 : "PRIORITY";
    expect_goaway(r, 11, "flood of " + name + " frames");
    expect_others_served();
  }
}

TEST_F(H2Attack, ContinuationFloodIsEnhanceYourCalm) {
  // 2024: CONTINUATION frames without END_HEADERS, endlessly. nghttp2
  // allows 8 per header block; the header list limit applies as they come.
  std::string r = client({"continuation-flood", "10000"});
  expect_goaway(r, 11, "Too many CONTINUATION frames");
  expect_others_served();
}

TEST_F(H2Attack, HpackBombMeetsTheHeaderListLimit) {
  // A 4 KiB field referenced 1,000 times: a few KiB on the wire, 4 MB
  // decoded. The decoded size counts: 431, and the connection goes on.
  std::string r = client({"hpack-bomb", "1000"});
  EXPECT_TRUE(contains(r, "\"status\": \"431\"")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": null, \"after\": \"200\"")) << r;
  EXPECT_TRUE(host_->wait_for_stderr("431 HEADERS_TOO_LARGE"))
      << host_->stderr_text();
}

TEST_F(H2Attack, StreamIdAbuseIsAProtocolError) {
  // An even id: only the server may open one (RFC 9113 §5.1.1).
  std::string even = client({"stream-id", "even"});
  expect_goaway(even, 1, "PROTOCOL_ERROR (last stream 0)");
  // A lower id after a higher one (an id the client skipped, so never
  // opened): nghttp2 drops that HEADERS unanswered; the host ends the
  // connection.
  std::string down = client({"stream-id", "decreasing"});
  expect_goaway(down, 1, "HEADERS on stream 3, an id it skipped");
  EXPECT_TRUE(contains(down, "\"closed\": true")) << down;
  // A finished stream's id again: nghttp2's STREAM_CLOSED (5).
  std::string again = client({"stream-id", "reused"});
  expect_goaway(again, 5, "STREAM_CLOSED (last stream 1)");
  expect_others_served();
}

TEST_F(H2Attack, StreamsPastTheConcurrencyLimit) {
  // Sent before the client read the server's SETTINGS: the 101st stream is
  // refused (RST_STREAM REFUSED_STREAM, 7), the others stay.
  std::string early = client({"too-many-streams", "100", "before-ack"});
  EXPECT_TRUE(contains(early, "\"last_reset\": 7, \"resets\": 1,")) << early;
  EXPECT_TRUE(contains(early, "\"goaway\": null")) << early;
  // After the client acknowledged the limit, exceeding it is nghttp2's
  // connection error (PROTOCOL_ERROR): RFC 9113 §5.4 lets a stream error be
  // treated as one (docs/http2.md).
  std::string late = client({"too-many-streams", "100", "after-ack"});
  EXPECT_TRUE(contains(late, "\"goaway\": {\"error\": 1, ")) << late;
  expect_others_served();
}

TEST_F(H2Attack, AStarvedStreamIsResetWhileOthersFlow) {
  // Zero-window stall, per stream: the client keeps the connection window
  // open and reads one stream (an endless async one), but never opens the
  // other's window. At --write-timeout (1 s) the starved stream is reset
  // (CANCEL, 8) with a log line; the other goes on, on the same connection.
  std::string r = client({"starved-stream", "/big?n=1000000",
                          "/sp/tick?count=0&interval_ms=50", "20"});
  EXPECT_TRUE(contains(r, "\"starved_reset\": 8,")) << r;
  EXPECT_TRUE(contains(r, "\"starved_bytes\": 65535,")) << r;
  EXPECT_TRUE(contains(r, "\"live_data_after_reset\": 3,")) << r;
  EXPECT_TRUE(contains(r, "\"goaway\": null, \"closed\": false")) << r;
  EXPECT_TRUE(host_->wait_for_stderr(
      "its window stayed closed for --write-timeout; RST_STREAM CANCEL"))
      << host_->stderr_text();
}

TEST_F(H2Attack, NormalClientsAreServedDuringAFlood) {
  // Floods on four connections at once while h2load's requests run on
  // others: every h2load request succeeds.
  std::vector<std::thread> attackers;
  for (int i = 0; i < 4; ++i) {
    attackers.emplace_back([] { (void)client({"rapid-reset", "3000"}); });
  }
  auto load = run_command(
      {"h2load", "-n", "2000", "-c", "2", "-m", "10", host_->url("/view")},
      60s);
  for (auto& t : attackers) t.join();
  EXPECT_TRUE(contains(load.out, "2000 succeeded")) << load.out << load.err;
}

}  // namespace
