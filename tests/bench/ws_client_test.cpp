// The bench's WebSocket client without a socket: the frames it sends must
// be what the server's own parser accepts, the reader must follow what the
// server's writer produces (plain, fragmented, compressed), and the
// echo sizes must be what was sent (the deflate response parser is tested
// with the codec, in tests/ws/permessage_deflate_test.cpp).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/ws_client.h"
#include "http/byte_buffer.h"
#include "ws/frame_parser.h"
#include "ws/frame_writer.h"
#include "ws/permessage_deflate.h"

namespace pounce::bench {
namespace {

struct Recorder : WsFrameReader::Sink {
  std::vector<size_t> messages;
  std::vector<uint64_t> hashes;
  std::vector<std::string> pings;
  std::vector<uint16_t> closes;
  bool stop_on_ping = false;
  bool on_message(size_t size, uint64_t hash) override {
    messages.push_back(size);
    hashes.push_back(hash);
    return true;
  }
  bool on_ping(std::string_view p) override {
    pings.emplace_back(p);
    return !stop_on_ping;
  }
  bool on_close(uint16_t code) override {
    closes.push_back(code);
    return false;
  }
};

using Status = WsFrameReader::Status;

TEST(WsClientFrame, ServerParserAcceptsItAndUnmasksThePayload) {
  for (size_t size : {0u, 1u, 125u, 126u, 65535u, 65536u}) {
    std::string payload(size, 'q');
    for (size_t i = 0; i < size; ++i) payload[i] = static_cast<char>(i * 7);
    ByteBuffer out;
    append_client_frame(out, 0x2, payload);
    ws::FrameHeader h;
    const char* why = nullptr;
    const auto* p = reinterpret_cast<const uint8_t*>(out.data());
    ASSERT_EQ(ws::parse_client_frame_header(p, out.size(), false, &h, &why),
              ws::HeaderStatus::Complete)
        << size << ": " << (why ? why : "");
    EXPECT_EQ(h.payload_len, size);
    EXPECT_EQ(h.opcode, ws::Opcode::Binary);
    EXPECT_TRUE(h.fin);
    ASSERT_EQ(out.size(), h.header_size + size);
    std::string plain(size, '\0');
    ws::unmask(reinterpret_cast<uint8_t*>(plain.data()), p + h.header_size,
               size, h.mask, 0);
    EXPECT_EQ(plain, payload) << size;
  }
}

TEST(WsClientFrame, MessagesHaveTheRequestedSizeAndDiffer) {
  WsMessages m = build_ws_messages(512);
  ASSERT_GE(m.payloads.size() * 512, 128u * 1024);
  EXPECT_EQ(m.frame_offsets.size(), m.payloads.size() + 1);
  EXPECT_EQ(m.frame_offsets.back(), m.frames.size());
  for (const std::string& s : m.payloads) {
    ASSERT_EQ(s.size(), 512u);
    EXPECT_EQ(s.substr(0, 7), "{\"seq\":");
    EXPECT_EQ(s.substr(510), "\"}");
  }
  EXPECT_NE(m.payloads[0], m.payloads[1]);
  EXPECT_EQ(build_ws_messages(0).payloads[0], "");
  EXPECT_EQ(build_ws_messages(1).payloads[0].size(), 1u);
}

TEST(WsFrameReaderTest, CountsPlainMessagesSplitAnywhere) {
  ByteBuffer wire;
  ws::append_frame(wire, ws::Opcode::Text, std::string(64, 'a'));
  ws::append_frame(wire, ws::Opcode::Binary, std::string(300, 'b'));
  ws::append_frame(wire, ws::Opcode::Binary, std::string(70000, 'c'));
  const std::string bytes(wire.data(), wire.size());
  for (size_t cut = 1; cut < bytes.size(); cut += 997) {
    WsFrameReader reader;
    Recorder r;
    ASSERT_EQ(reader.feed(bytes.data(), cut, &r), Status::Ok);
    ASSERT_EQ(reader.feed(bytes.data() + cut, bytes.size() - cut, &r),
              Status::Ok);
    EXPECT_EQ(r.messages, (std::vector<size_t>{64, 300, 70000})) << cut;
    // The content, not only the size: what the echo check compares.
    EXPECT_EQ(
        r.hashes,
        (std::vector<uint64_t>{
            ws_payload_hash(kWsHashSeed, std::string(64, 'a').data(), 64),
            ws_payload_hash(kWsHashSeed, std::string(300, 'b').data(), 300),
            ws_payload_hash(kWsHashSeed, std::string(70000, 'c').data(),
                            70000)}))
        << cut;
  }
}

TEST(WsFrameReaderTest, HashTellsADifferentMessageOfTheSameSize) {
  WsMessages m = build_ws_messages(64);
  ASSERT_EQ(m.hashes.size(), m.payloads.size());
  for (size_t i : {size_t{0}, size_t{1}}) {
    ByteBuffer wire;
    ws::append_frame(wire, ws::Opcode::Text, m.payloads[i]);
    WsFrameReader reader;
    Recorder r;
    ASSERT_EQ(reader.feed(wire.data(), wire.size(), &r), Status::Ok);
    ASSERT_EQ(r.hashes.size(), 1u);
    EXPECT_EQ(r.hashes[0], m.hashes[i]);
    EXPECT_NE(r.hashes[0], m.hashes[1 - i]);
  }
}

TEST(WsFrameReaderTest, FragmentsWithAPingBetween) {
  ByteBuffer wire;
  ws::append_frame(wire, ws::Opcode::Text, "hel", /*fin=*/false);
  ASSERT_TRUE(ws::append_ping(wire, "p1"));
  ws::append_frame(wire, ws::Opcode::Continuation, "lo", /*fin=*/true);
  WsFrameReader reader;
  Recorder r;
  ASSERT_EQ(reader.feed(wire.data(), wire.size(), &r), Status::Ok);
  EXPECT_EQ(r.messages, std::vector<size_t>{5});
  EXPECT_EQ(r.pings, std::vector<std::string>{"p1"});
}

TEST(WsFrameReaderTest, StopsWhenTheSinkSaysSo) {
  ByteBuffer wire;
  ASSERT_TRUE(ws::append_ping(wire, "x"));
  ws::append_frame(wire, ws::Opcode::Text, "after");
  WsFrameReader reader;
  Recorder r;
  r.stop_on_ping = true;
  EXPECT_EQ(reader.feed(wire.data(), wire.size(), &r), Status::Stopped);
  EXPECT_TRUE(r.messages.empty());

  ByteBuffer close;
  ASSERT_TRUE(ws::append_close(close, 1001, "bye"));
  WsFrameReader reader2;
  Recorder r2;
  EXPECT_EQ(reader2.feed(close.data(), close.size(), &r2), Status::Stopped);
  EXPECT_EQ(r2.closes, std::vector<uint16_t>{1001});
}

TEST(WsFrameReaderTest, RefusesWhatNoServerMaySend) {
  struct Case {
    const char* name;
    std::string bytes;
  };
  const std::vector<Case> cases = {
      {"masked", std::string("\x81\x81\0\0\0\0a", 7)},
      {"rsv2", std::string("\xA1\x01"
                           "a",
                           3)},
      {"rsv1 without deflate", std::string("\xC1\x01"
                                           "a",
                                           3)},
      {"reserved opcode", std::string("\x83\x00", 2)},
      {"continuation first", std::string("\x80\x00", 2)},
      {"fragmented ping", std::string("\x09\x00", 2)},
      {"long ping", "\x89\x7E\x00\x7E" + std::string(126, 'p')},
      {"64-bit length msb", std::string("\x82\x7F\x80\0\0\0\0\0\0\0", 10)},
  };
  for (const Case& c : cases) {
    WsFrameReader reader;
    Recorder r;
    EXPECT_EQ(reader.feed(c.bytes.data(), c.bytes.size(), &r), Status::Error)
        << c.name;
  }
}

TEST(WsFrameReaderTest, InflatesCompressedMessagesWithContextTakeover) {
  ws::DeflateConfig config;
  config.min_compress_size = 0;
  ws::PerMessageDeflate server({}, config);  // the server's deflater
  ws::PerMessageDeflate client({}, config);  // the client's inflater
  WsFrameReader reader(&client);
  Recorder r;
  std::vector<size_t> sizes = {64, 512, 0, 40000, 512};
  std::vector<uint64_t> hashes;
  for (size_t size : sizes) {
    std::string text(size, 'z');
    for (size_t i = 0; i < size; ++i) text[i] = "pounce "[i % 7];
    hashes.push_back(ws_payload_hash(kWsHashSeed, text.data(), text.size()));
    ByteBuffer wire;
    ASSERT_TRUE(ws::append_message(wire, ws::Opcode::Text, text, &server));
    ASSERT_EQ(reader.feed(wire.data(), wire.size(), &r), Status::Ok) << size;
  }
  EXPECT_EQ(r.messages, sizes);
  EXPECT_EQ(r.hashes, hashes);
}

TEST(WsUpgradeRequest, OffersDeflateOnlyWhenAsked) {
  std::string plain = ws_upgrade_request("h:1", "/echo/ws", false);
  EXPECT_EQ(plain.rfind("GET /echo/ws HTTP/1.1\r\nHost: h:1\r\n", 0), 0u);
  EXPECT_NE(plain.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(plain.find("Sec-WebSocket-Extensions"), std::string::npos);
  EXPECT_EQ(plain.substr(plain.size() - 4), "\r\n\r\n");
  std::string deflate = ws_upgrade_request("h:1", "/echo/ws", true);
  EXPECT_NE(deflate.find("Sec-WebSocket-Extensions: permessage-deflate; "
                         "client_max_window_bits\r\n"),
            std::string::npos);
}

}  // namespace
}  // namespace pounce::bench
