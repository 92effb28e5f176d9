// Unfinished WebSocket messages cannot pin memory without bound (issue 9
// #8): the async loop's --ws-buffer-budget caps the message buffers of all
// its sockets together, and --ws-message-timeout bounds how long a message
// may stay unfinished. Both fail the connection with close code 1008.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <string>
#include <thread>

#include "host_process.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

// WsClient::send_frame takes the RSV bits as a 3-bit number: RSV1 is 4.
constexpr uint8_t kRsv1 = 4;

// One permessage-deflate message payload (RFC 7692 §7.2.1): raw deflate,
// sync-flushed, without the final 00 00 FF FF.
std::string deflate_message(const std::string& data) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  EXPECT_EQ(out.substr(out.size() - 4), std::string("\0\0\xff\xff", 4));
  out.resize(out.size() - 4);
  return out;
}

const char* kDeflateOffer =
    "Sec-WebSocket-Extensions: permessage-deflate; "
    "client_no_context_takeover\r\n";

// The first fragment of a compressed message: a few KB on the wire, 900 KB
// once inflated, then nothing more. A ping after it, answered, shows the
// server has read (and inflated) the fragment.
void send_held_fragment(WsClient& c, const std::string& compressed) {
  ASSERT_TRUE(c.send_frame(2, compressed, /*fin=*/false, true, kRsv1));
  ASSERT_TRUE(c.send_frame(9, "sync"));
}

TEST(WsBufferBudget, UnfinishedMessagesPastTheLoopBudgetAreClosedWith1008) {
  HostProcess h({"--plugin", plugin_path("echo"), "--async-threads", "1",
                 "--ws-max-message-size", "1048576", "--ws-buffer-budget",
                 "1048576", "--ws-ping-interval", "0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string compressed = deflate_message(std::string(900000, '\0'));
  ASSERT_LT(compressed.size(), 4000u);

  WsClient first(h.port());
  ASSERT_EQ(first.handshake("/", kDeflateOffer)->status, 101);
  send_held_fragment(first, compressed);
  auto pong = first.read_frame();
  ASSERT_TRUE(pong);
  ASSERT_EQ(pong->opcode, 10);

  // The same loop: the budget is spent by the first socket's message.
  WsClient second(h.port());
  ASSERT_EQ(second.handshake("/", kDeflateOffer)->status, 101);
  send_held_fragment(second, compressed);
  auto close = second.read_until_close();
  ASSERT_TRUE(close) << h.stderr_text();
  EXPECT_EQ(close->close_code(), 1008);
  EXPECT_TRUE(second.wait_closed());
  EXPECT_TRUE(h.wait_for_stderr("unfinished messages over --ws-buffer-budget"))
      << h.stderr_text();

  // The first socket is untouched: its message ends and comes back.
  ASSERT_TRUE(first.send_frame(0, "", /*fin=*/true));
  auto echo = first.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->opcode, 2);

  // Its buffer went back with it: another socket may now hold as much.
  WsClient third(h.port());
  ASSERT_EQ(third.handshake("/", kDeflateOffer)->status, 101);
  send_held_fragment(third, compressed);
  auto third_pong = third.read_frame();
  ASSERT_TRUE(third_pong);
  EXPECT_EQ(third_pong->opcode, 10);
}

TEST(WsMessageTimeout, AMessageLeftUnfinishedIsClosedWith1008) {
  HostProcess h({"--plugin", plugin_path("echo"), "--ws-message-timeout", "0.3",
                 "--ws-ping-interval", "0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  ASSERT_TRUE(c.send_frame(1, "the start of a message", /*fin=*/false));
  // Pings keep coming (a live peer), the message never ends.
  ASSERT_TRUE(c.send_frame(9, "alive"));
  auto close = c.read_until_close(30s);
  ASSERT_TRUE(close) << h.stderr_text();
  EXPECT_EQ(close->close_code(), 1008);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(
      h.wait_for_stderr("WebSocket message unfinished after "
                        "--ws-message-timeout; closing (1008)"))
      << h.stderr_text();
}

// The timer runs per message: messages that finish in time, whole or
// fragmented across reads, leave the socket open.
TEST(WsMessageTimeout, MessagesThatFinishInTimeAreNotAffected) {
  HostProcess h({"--plugin", plugin_path("echo"), "--ws-message-timeout", "0.3",
                 "--ws-ping-interval", "0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send_frame(1, "part one, ", /*fin=*/false));
    ASSERT_TRUE(c.send_frame(0, "part two", /*fin=*/true));
    auto echo = c.read_frame();
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->payload, "part one, part two");
  }
  // Well past the limit after the last message ended: still open.
  EXPECT_TRUE(c.raw().stays_open(900ms));
  c.send_text("still here");
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "still here");
}

// Each message gets its own deadline: a client that streams messages so
// that every read ends inside one (the end of one, the start of the next)
// is making progress and stays, though no read ever ends between messages.
TEST(WsMessageTimeout, EachMessageHasItsOwnDeadline) {
  HostProcess h({"--plugin", plugin_path("echo"), "--ws-message-timeout", "1",
                 "--ws-ping-interval", "0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  WsClient c(h.port());
  ASSERT_EQ(c.handshake()->status, 101);
  ASSERT_TRUE(c.send_frame(1, "message 0 ", /*fin=*/false));
  // Twice the limit in all, a fifth of it per message.
  for (int i = 1; i <= 10; ++i) {
    std::this_thread::sleep_for(200ms);
    std::string batch =
        WsClient::encode_frame(0, "ends", /*fin=*/true) +
        WsClient::encode_frame(1, "message " + std::to_string(i) + " ",
                               /*fin=*/false);
    ASSERT_TRUE(c.raw().send(batch));
    auto echo = c.read_frame();
    ASSERT_TRUE(echo) << "message " << i - 1;
    ASSERT_EQ(echo->opcode, 1)
        << "closed at message " << i - 1 << " (" << echo->close_code() << ")";
    EXPECT_EQ(echo->payload, "message " + std::to_string(i - 1) + " ends");
  }
}

}  // namespace
