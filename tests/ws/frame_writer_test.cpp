// Server frames: header encodings, control frames, close frames.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/close_codes.h"
#include "ws/frame_writer.h"
#include "ws_test_support.h"

namespace pounce::ws::testing {
namespace {

std::string bytes(const ByteBuffer& b) {
  return std::string(b.view());
}

struct HeaderCase {
  const char* name;
  Opcode opcode;
  uint64_t length;
  bool fin, rsv1;
  std::string header;
};

void PrintTo(const HeaderCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<HeaderCase> kHeaders = {
    {"Rfc6455UnmaskedHello", Opcode::Text, 5, true, false, from_hex("81 05")},
    {"Empty", Opcode::Binary, 0, true, false, from_hex("82 00")},
    {"Length125", Opcode::Binary, 125, true, false, from_hex("82 7d")},
    {"Length126", Opcode::Binary, 126, true, false, from_hex("82 7e 00 7e")},
    // RFC 6455 §5.7: 256 bytes binary in a single unmasked frame.
    {"Rfc6455Length256", Opcode::Binary, 256, true, false,
     from_hex("82 7e 01 00")},
    {"Length65535", Opcode::Binary, 65535, true, false,
     from_hex("82 7e ff ff")},
    // RFC 6455 §5.7: 64 KiB binary in a single unmasked frame.
    {"Rfc6455Length65536", Opcode::Binary, 65536, true, false,
     from_hex("82 7f 00 00 00 00 00 01 00 00")},
    {"Length2Pow40", Opcode::Binary, 1ull << 40, true, false,
     from_hex("82 7f 00 00 01 00 00 00 00 00")},
    {"CompressedText", Opcode::Text, 7, true, true, from_hex("c1 07")},
    {"FirstFragment", Opcode::Text, 3, false, false, from_hex("01 03")},
    {"Continuation", Opcode::Continuation, 2, true, false, from_hex("80 02")},
    {"Ping", Opcode::Ping, 0, true, false, from_hex("89 00")},
    {"Pong", Opcode::Pong, 5, true, false, from_hex("8a 05")},
    {"Close", Opcode::Close, 2, true, false, from_hex("88 02")},
};

class FrameHeaders : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(FrameHeaders, EncodeMinimallyAndUnmasked) {
  const HeaderCase& c = GetParam();
  uint8_t out[kMaxServerHeader];
  const size_t n = encode_frame_header(out, c.opcode, c.length, c.fin, c.rsv1);
  EXPECT_EQ(to_hex(std::string(reinterpret_cast<char*>(out), n)),
            to_hex(c.header));
  EXPECT_EQ(n, frame_header_size(c.length));
}

INSTANTIATE_TEST_SUITE_P(Table, FrameHeaders, ::testing::ValuesIn(kHeaders),
                         [](const ::testing::TestParamInfo<HeaderCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(FrameWriter, AppendsHeaderAndPayload) {
  ByteBuffer out;
  append_frame(out, Opcode::Text, "Hello");
  EXPECT_EQ(to_hex(bytes(out)), "81 05 48 65 6c 6c 6f");
}

TEST(FrameWriter, AppendsAfterWhatIsThere) {
  ByteBuffer out;
  out.append("xy");
  append_message(out, Opcode::Binary, std::string(300, 'b'));
  ServerFrame f;
  ASSERT_TRUE(parse_server_frame(bytes(out).substr(2), &f));
  EXPECT_EQ(f.opcode, Opcode::Binary);
  EXPECT_EQ(f.payload, std::string(300, 'b'));
  EXPECT_FALSE(f.rsv1);
}

TEST(FrameWriter, PingAndPongOf125Bytes) {
  ByteBuffer out;
  EXPECT_TRUE(append_ping(out, std::string(125, 'p')));
  EXPECT_TRUE(append_pong(out, std::string(125, 'q')));
  EXPECT_EQ(out.size(), 2 * 127u);
}

TEST(FrameWriter, RefusesControlPayloadOver125) {
  ByteBuffer out;
  EXPECT_FALSE(append_ping(out, std::string(126, 'p')));
  EXPECT_FALSE(append_pong(out, std::string(126, 'q')));
  EXPECT_TRUE(out.empty());
}

TEST(FrameWriter, CloseWithCodeAndReason) {
  ByteBuffer out;
  EXPECT_TRUE(append_close(out, close_code::kNormal, "bye"));
  EXPECT_EQ(to_hex(bytes(out)), "88 05 03 e8 62 79 65");
}

TEST(FrameWriter, CloseWithReasonOf123Bytes) {
  ByteBuffer out;
  EXPECT_TRUE(append_close(out, 4000, std::string(123, 'r')));
  EXPECT_EQ(out.size(), 2 + 125u);
}

TEST(FrameWriter, CloseWithNoStatusSendsAnEmptyPayload) {
  ByteBuffer out;
  EXPECT_TRUE(append_close(out, close_code::kNoStatus));
  EXPECT_EQ(to_hex(bytes(out)), "88 00");
}

TEST(FrameWriter, CloseRefusesInvalidArguments) {
  ByteBuffer out;
  EXPECT_FALSE(append_close(out, 4000, std::string(124, 'r')));
  EXPECT_FALSE(append_close(out, 1000, "\xff"));
  EXPECT_FALSE(append_close(out, 1000, "\xe2\x82"));
  EXPECT_FALSE(append_close(out, close_code::kNoStatus, "reason"));
  for (uint16_t bad : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000}) {
    EXPECT_FALSE(append_close(out, bad, "x")) << bad;
  }
  EXPECT_TRUE(out.empty());
}

TEST(FrameWriter, CloseAcceptsEverySendableCode) {
  for (uint16_t good : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                        1012, 1013, 1014, 3000, 4999}) {
    ByteBuffer out;
    EXPECT_TRUE(append_close(out, good)) << good;
  }
}

TEST(FrameWriter, ServerFramesParseBackThroughTheClientCodec) {
  // A server frame, masked as a client would send it, decodes to the same
  // message: the writer and the parser agree on the layout.
  for (size_t len : {0u, 1u, 125u, 126u, 65535u, 65536u, 70000u}) {
    const std::string payload(len, 'a');
    ByteBuffer out;
    append_message(out, Opcode::Binary, payload);
    ServerFrame f;
    ASSERT_TRUE(parse_server_frame(bytes(out), &f)) << len;
    EXPECT_EQ(f.header_size, frame_header_size(len));
    EXPECT_EQ(f.payload.size(), len);
  }
}

}  // namespace
}  // namespace pounce::ws::testing
