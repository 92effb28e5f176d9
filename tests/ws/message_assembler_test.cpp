// The receiving side against RFC 6455 §5: frames, fragmentation, control
// frames, close codes, UTF-8 and the size limit. Every case of the tables
// also runs fed one byte at a time.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/close_codes.h"
#include "ws/message_assembler.h"
#include "ws_test_support.h"

namespace pounce::ws::testing {
namespace {

using namespace std::string_literals;
namespace cc = close_code;

struct FrameCase {
  const char* name;
  std::string wire;
  std::vector<Rec> events;
  uint64_t max_message_size = kDefaultMaxMessageSize;
};

void PrintTo(const FrameCase& c, std::ostream* os) {
  *os << c.name;
}

const uint8_t kZeroMask[4] = {0, 0, 0, 0};

std::string repeat(char c, size_t n) {
  return std::string(n, c);
}

// Pseudo-random bytes, so that masking bugs do not hide in a repeated byte.
std::string noise(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 0x12345678;
  for (auto& c : s) {
    x = x * 1664525 + 1013904223;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

const std::vector<FrameCase> kValid = {
    // RFC 6455 §5.7.
    {"Rfc6455MaskedHello",
     from_hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
     {text_msg("Hello")}},
    {"Rfc6455FragmentedUnmaskedExampleMasked",
     from_hex("01 83 37 fa 21 3d 7f 9f 4d") +
         from_hex("80 82 37 fa 21 3d 5b 95"),
     {text_msg("Hello")}},
    {"Rfc6455MaskedPing",
     from_hex("89 85 37 fa 21 3d 7f 9f 4d 51 58"),
     {ping_ev("Hello")}},
    {"Rfc6455MaskedPong",
     from_hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58"),
     {pong_ev("Hello")}},
    // Length encodings at their boundaries.
    {"EmptyTextMessage", text(""), {text_msg("")}},
    {"EmptyBinaryMessage", binary(""), {binary_msg("")}},
    {"Length125Uses7Bits", binary(noise(125)), {binary_msg(noise(125))}},
    {"Length126Uses16Bits", binary(noise(126)), {binary_msg(noise(126))}},
    {"Length65535Uses16Bits", binary(noise(65535)), {binary_msg(noise(65535))}},
    {"Length65536Uses64Bits", binary(noise(65536)), {binary_msg(noise(65536))}},
    {"ZeroMaskKey",
     client_frame(b0(Opcode::Text), "plain", kZeroMask),
     {text_msg("plain")}},
    {"TwoMessagesInOneRead",
     text("one") + binary("two"),
     {text_msg("one"), binary_msg("two")}},
    // Fragmentation (§5.4).
    {"FragmentedBinaryInThreeFrames",
     binary("ab", false) + cont("cd", false) + cont("ef"),
     {binary_msg("abcdef")}},
    {"FragmentedWithEmptyFragments",
     text("", false) + cont("", false) + cont("x", false) + cont(""),
     {text_msg("x")}},
    {"PingBetweenFragments",
     text("Hel", false) + ping("p1") + cont("lo"),
     {ping_ev("p1"), text_msg("Hello")}},
    {"PingsAndPongBetweenFragments",
     binary("a", false) + ping("") + cont("b", false) + pong("q") +
         ping(repeat('z', 125)) + cont("c"),
     {ping_ev(""), pong_ev("q"), ping_ev(repeat('z', 125)), binary_msg("abc")}},
    {"CloseBetweenFragments",
     text("a", false) + close_frame(1000),
     {close_ev(1000)}},
    {"ControlPayloadOf125Bytes", ping(noise(125)), {ping_ev(noise(125))}},
    // Close (§5.5.1, §7.4).
    {"CloseWithoutPayloadIs1005",
     client_frame(b0(Opcode::Close), ""),
     {close_ev(cc::kNoStatus)}},
    {"CloseWithCodeOnly", close_frame(1000), {close_ev(1000)}},
    {"CloseWithReason",
     close_frame(1001, "going \xc3\xa0 bed"),
     {close_ev(1001, "going \xc3\xa0 bed")}},
    {"CloseWithReasonOf123Bytes",
     close_frame(4000, repeat('r', 123)),
     {close_ev(4000, repeat('r', 123))}},
    {"InputAfterCloseIsIgnored",
     close_frame(1000) + text("late"),
     {close_ev(1000)}},
    // UTF-8 (§8.1).
    {"TextWithEveryUtf8Length",
     text("a\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f"
          "\xbf\xbf"),
     {text_msg("a\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4"
               "\x8f\xbf\xbf")}},
    {"CodePointSplitAcrossFragments",
     text("\xe2", false) + cont("\x82", false) + cont("\xac"),
     {text_msg("\xe2\x82\xac")}},
    {"CodePointSplitAroundAPing",
     text("\xf0\x9f", false) + ping("") + cont("\x98\x80"),
     {ping_ev(""), text_msg("\xf0\x9f\x98\x80")}},
    {"BinaryIsNotUtf8Checked",
     binary("\xff\xfe\xc0"),
     {binary_msg("\xff\xfe\xc0")}},
    // Size limit, exactly reached.
    {"MessageOfExactlyTheLimit",
     binary(repeat('x', 1000)),
     {binary_msg(repeat('x', 1000))},
     1000},
    {"FragmentsSummingToTheLimit",
     binary(repeat('x', 600), false) + cont(repeat('y', 400)),
     {binary_msg(repeat('x', 600) + repeat('y', 400))},
     1000},
    {"ControlFramesDoNotCountTowardsTheLimit",
     binary(repeat('x', 10), false) + ping(repeat('p', 100)) + cont(""),
     {ping_ev(repeat('p', 100)), binary_msg(repeat('x', 10))},
     10},
};

struct ErrorCase {
  const char* name;
  std::string wire;
  uint16_t code;
  std::vector<Rec> before = {};  // events expected before the error
  uint64_t max_message_size = kDefaultMaxMessageSize;
};

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

std::string with_length16(uint8_t b0, uint16_t len) {
  std::string s;
  s.push_back(static_cast<char>(b0));
  s.push_back(static_cast<char>(0x80 | 126));
  s.push_back(static_cast<char>(len >> 8));
  s.push_back(static_cast<char>(len));
  return s + "\x01\x02\x03\x04";
}

std::string with_length64(uint8_t b0, uint64_t len) {
  std::string s;
  s.push_back(static_cast<char>(b0));
  s.push_back(static_cast<char>(0x80 | 127));
  for (int i = 0; i < 8; ++i)
    s.push_back(static_cast<char>(len >> (56 - 8 * i)));
  return s + "\x01\x02\x03\x04";
}

const std::vector<ErrorCase> kErrors = {
    // Masking (§5.1).
    {"UnmaskedTextFrame", unmasked_frame(b0(Opcode::Text), "Hello"),
     cc::kProtocolError},
    {"UnmaskedFrameFailsAfterTwoBytes", "\x81\x05"s, cc::kProtocolError},
    {"UnmaskedPing", unmasked_frame(b0(Opcode::Ping), ""), cc::kProtocolError},
    // Reserved bits (§5.2), without an extension.
    {"Rsv1WithoutExtension", client_frame(0x80 | kRsv1 | 0x1, "x"),
     cc::kProtocolError},
    {"Rsv2", client_frame(0x80 | kRsv2 | 0x1, "x"), cc::kProtocolError},
    {"Rsv3", client_frame(0x80 | kRsv3 | 0x2, "x"), cc::kProtocolError},
    {"Rsv2OnPing", client_frame(0x80 | kRsv2 | 0x9, ""), cc::kProtocolError},
    // Reserved opcodes.
    {"Opcode3", client_frame(0x83, ""), cc::kProtocolError},
    {"Opcode4", client_frame(0x84, ""), cc::kProtocolError},
    {"Opcode5", client_frame(0x85, ""), cc::kProtocolError},
    {"Opcode6", client_frame(0x86, ""), cc::kProtocolError},
    {"Opcode7", client_frame(0x87, ""), cc::kProtocolError},
    {"OpcodeB", client_frame(0x8B, ""), cc::kProtocolError},
    {"OpcodeC", client_frame(0x8C, ""), cc::kProtocolError},
    {"OpcodeD", client_frame(0x8D, ""), cc::kProtocolError},
    {"OpcodeE", client_frame(0x8E, ""), cc::kProtocolError},
    {"OpcodeF", client_frame(0x8F, ""), cc::kProtocolError},
    {"ReservedOpcodeAfterAMessage",
     text("ok") + client_frame(0x8B, ""),
     cc::kProtocolError,
     {text_msg("ok")}},
    // Control frames (§5.5).
    {"PingOf126Bytes", ping(repeat('p', 126)), cc::kProtocolError},
    {"PingWith16BitLength",
     client_frame(b0(Opcode::Ping), "abc", kDefaultMask, LenEncoding::Force16),
     cc::kProtocolError},
    {"CloseOf126Bytes",
     client_frame(b0(Opcode::Close), "\x03\xe8" + repeat('r', 124)),
     cc::kProtocolError},
    {"FragmentedPing", client_frame(b0(Opcode::Ping, false), "x"),
     cc::kProtocolError},
    {"FragmentedClose", client_frame(b0(Opcode::Close, false), "\x03\xe8"),
     cc::kProtocolError},
    {"FragmentedPong", client_frame(b0(Opcode::Pong, false), ""),
     cc::kProtocolError},
    // Fragmentation order (§5.4).
    {"ContinuationWithoutAMessage", cont("x"), cc::kProtocolError},
    {"ContinuationAfterAFinishedMessage",
     text("a") + cont("b"),
     cc::kProtocolError,
     {text_msg("a")}},
    {"TextInsideAFragmentedMessage", text("a", false) + text("b"),
     cc::kProtocolError},
    {"BinaryInsideAFragmentedMessage", binary("a", false) + binary("b"),
     cc::kProtocolError},
    // Length encodings (§5.2): minimal, and the 64-bit MSB.
    {"NonMinimal16BitLength", with_length16(0x82, 125), cc::kProtocolError},
    {"NonMinimal16BitLengthOfZero", with_length16(0x82, 0), cc::kProtocolError},
    {"NonMinimal64BitLength", with_length64(0x82, 65535), cc::kProtocolError},
    {"NonMinimal64BitLengthOf125", with_length64(0x82, 125),
     cc::kProtocolError},
    {"SixtyFourBitLengthWithMsbSet", with_length64(0x82, 1ull << 63),
     cc::kProtocolError},
    {"SixtyFourBitLengthMsbFailsAtItsByte", "\x82\xff\x80"s,
     cc::kProtocolError},
    // Close payloads (§5.5.1, §7.4).
    {"CloseWithOneBytePayload", client_frame(b0(Opcode::Close), "\x03"),
     cc::kProtocolError},
    {"CloseCode0", close_frame(0), cc::kProtocolError},
    {"CloseCode999", close_frame(999), cc::kProtocolError},
    {"CloseCode1004", close_frame(1004), cc::kProtocolError},
    {"CloseCode1005", close_frame(1005), cc::kProtocolError},
    {"CloseCode1006", close_frame(1006), cc::kProtocolError},
    {"CloseCode1015", close_frame(1015), cc::kProtocolError},
    {"CloseCode1016", close_frame(1016), cc::kProtocolError},
    {"CloseCode1100", close_frame(1100), cc::kProtocolError},
    {"CloseCode2000", close_frame(2000), cc::kProtocolError},
    {"CloseCode2999", close_frame(2999), cc::kProtocolError},
    {"CloseCode5000", close_frame(5000), cc::kProtocolError},
    {"CloseCode65535", close_frame(65535), cc::kProtocolError},
    {"CloseReasonNotUtf8", close_frame(1000, "\xff"), cc::kInvalidPayload},
    {"CloseReasonEndingMidCodePoint", close_frame(1000, "ok\xe2\x82"),
     cc::kInvalidPayload},
    // UTF-8 of text messages (§8.1).
    {"InvalidUtf8InOneFrame", text("ab\xff"), cc::kInvalidPayload},
    {"OverlongTwoByteSlash", text("\xc0\xaf"), cc::kInvalidPayload},
    {"OverlongThreeByte", text("\xe0\x80\xaf"), cc::kInvalidPayload},
    {"OverlongFourByte", text("\xf0\x80\x80\xaf"), cc::kInvalidPayload},
    {"SurrogateHigh", text("\xed\xa0\x80"), cc::kInvalidPayload},
    {"SurrogateLow", text("\xed\xbf\xbf"), cc::kInvalidPayload},
    {"AboveU10FFFF", text("\xf4\x90\x80\x80"), cc::kInvalidPayload},
    {"LeadByteF5", text("\xf5\x80\x80\x80"), cc::kInvalidPayload},
    {"MessageEndsMidCodePoint", text("ok\xe2\x82"), cc::kInvalidPayload},
    {"FragmentedMessageEndsMidCodePoint",
     text("ok\xf0", false) + cont("\x9f\x98"), cc::kInvalidPayload},
    // Fail fast: the error comes with the first bad byte, before the rest
    // of the message exists (these inputs stop right there).
    {"InvalidCodePointSplitAcrossFragmentsFailsFast",
     text("\xce", false) + cont("\x28", false), cc::kInvalidPayload},
    {"InvalidByteFailsBeforeTheFrameEnds",
     client_frame(b0(Opcode::Text, false), "abc\xff" + repeat('x', 200))
         .substr(0, 2 + 2 + 4 + 4),
     cc::kInvalidPayload},
    {"InvalidUtf8AfterAPingBetweenFragments",
     text("\xe2\x82", false) + ping("p") + cont("\x41", false),
     cc::kInvalidPayload,
     {ping_ev("p")}},
    // Size limit (1009), checked at the frame header.
    {"SingleFrameOverTheLimit",
     binary(repeat('x', 1001)),
     cc::kMessageTooBig,
     {},
     1000},
    {"OverTheLimitFailsAtTheHeader",
     client_frame(b0(Opcode::Binary), repeat('x', 1001)).substr(0, 8),
     cc::kMessageTooBig,
     {},
     1000},
    {"FragmentsOverTheLimit",
     binary(repeat('x', 600), false) + cont(repeat('y', 401)),
     cc::kMessageTooBig,
     {},
     1000},
    {"HugeDeclaredLength", with_length64(0x82, (1ull << 62)),
     cc::kMessageTooBig},
};

class Frames : public ::testing::TestWithParam<FrameCase> {};
class FrameErrors : public ::testing::TestWithParam<ErrorCase> {};

TEST_P(Frames, GiveTheirEvents) {
  const FrameCase& c = GetParam();
  MessageAssembler whole({c.max_message_size});
  EXPECT_EQ(run(whole, c.wire), c.events);
  MessageAssembler bytewise({c.max_message_size});
  EXPECT_EQ(run(bytewise, c.wire, 1), c.events);
}

TEST_P(FrameErrors, FailWithTheirCode) {
  const ErrorCase& c = GetParam();
  std::vector<Rec> expected = c.before;
  expected.push_back(error_ev(c.code));
  MessageAssembler whole({c.max_message_size});
  EXPECT_EQ(run(whole, c.wire), expected);
  EXPECT_TRUE(whole.finished());
  MessageAssembler bytewise({c.max_message_size});
  EXPECT_EQ(run(bytewise, c.wire, 1), expected);
}

template <typename T>
std::string case_name(const ::testing::TestParamInfo<T>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Table, Frames, ::testing::ValuesIn(kValid),
                         case_name<FrameCase>);
INSTANTIATE_TEST_SUITE_P(Table, FrameErrors, ::testing::ValuesIn(kErrors),
                         case_name<ErrorCase>);

// --- Behaviours outside the tables -----------------------------------------

TEST(MessageAssembler, ValidCloseCodesAreReported) {
  for (uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
                        1012, 1013, 1014, 3000, 3999, 4000, 4999}) {
    MessageAssembler rx;
    EXPECT_EQ(run(rx, close_frame(code, "r")), std::vector{close_ev(code, "r")})
        << code;
  }
}

TEST(MessageAssembler, SingleFrameMessageIsUnmaskedInPlace) {
  std::string wire = text("in place");
  MessageAssembler rx;
  Event ev;
  EXPECT_EQ(rx.feed(wire.data(), wire.size(), &ev), wire.size());
  ASSERT_EQ(ev.type, EventType::Message);
  EXPECT_EQ(ev.data, "in place");
  EXPECT_EQ(ev.data.data(), wire.data() + 6);  // a view of the input
  EXPECT_EQ(rx.memory_usage(), 0u);            // no message buffer
}

TEST(MessageAssembler, OneEventPerFeedCall) {
  std::string wire = ping("a") + ping("b") + text("c");
  MessageAssembler rx;
  Event ev;
  size_t pos = rx.feed(wire.data(), wire.size(), &ev);
  EXPECT_EQ(ev.type, EventType::Ping);
  EXPECT_EQ(pos, 7u);
  pos += rx.feed(wire.data() + pos, wire.size() - pos, &ev);
  EXPECT_EQ(ev.data, "b");
  pos += rx.feed(wire.data() + pos, wire.size() - pos, &ev);
  EXPECT_EQ(ev.data, "c");
  EXPECT_EQ(pos, wire.size());
  EXPECT_EQ(rx.feed(wire.data() + pos, 0, &ev), 0u);
  EXPECT_EQ(ev.type, EventType::None);
}

TEST(MessageAssembler, PartialFrameIsNotAnEvent) {
  std::string wire = text("Hello").substr(0, 8);
  MessageAssembler rx;
  Event ev;
  EXPECT_EQ(rx.feed(wire.data(), wire.size(), &ev), wire.size());
  EXPECT_EQ(ev.type, EventType::None);
  EXPECT_FALSE(rx.finished());
}

TEST(MessageAssembler, BufferOfALargeMessageIsFreedAfterIt) {
  MessageAssembler rx;
  const std::string big = noise(100000);
  EXPECT_EQ(run(rx, binary(big, false) + cont(""), 4096),
            std::vector{binary_msg(big)});
  // The view was handed out; the next feed drops the buffer.
  EXPECT_GE(rx.memory_usage(), big.size());
  EXPECT_EQ(run(rx, text("x")), std::vector{text_msg("x")});
  EXPECT_LE(rx.memory_usage(), MessageAssembler::kRetainedCapacity);
}

TEST(MessageAssembler, BufferGrowsWithDataNotWithDeclaredLength) {
  MessageAssembler rx;
  // A frame claiming 10 MB with 1 KiB of it sent.
  std::string wire =
      client_frame(b0(Opcode::Binary), std::string(10'000'000, 'x'))
          .substr(0, 14 + 1024);
  EXPECT_TRUE(run(rx, wire, 100).empty());
  EXPECT_LE(rx.memory_usage(), 4096u);
}

TEST(MessageAssembler, InvalidUtf8FailsAtTheFirstBadByteOfAStream) {
  // The header and "ab" arrive; then the bad byte alone. The error must
  // come with that byte, although 100 more payload bytes are announced.
  std::string wire =
      client_frame(b0(Opcode::Text), "ab\xc3\x28" + repeat('x', 100));
  MessageAssembler rx;
  std::vector<size_t> cuts = {8, 10, 11, 12};
  const auto events = run_cuts(rx, wire.substr(0, 12), cuts);
  EXPECT_EQ(events, std::vector{error_ev(cc::kInvalidPayload)});
}

TEST(MessageAssembler, ReleaseBufferFreesIdleMemory) {
  MessageAssembler rx;
  EXPECT_EQ(run(rx, binary("abc", false) + cont("def")),
            std::vector{binary_msg("abcdef")});
  EXPECT_GT(rx.memory_usage(), 0u);
  rx.release_buffer();
  EXPECT_EQ(rx.memory_usage(), 0u);
}

TEST(MessageAssembler, CloseCodeForPluginIs1006WithoutACloseFrame) {
  EXPECT_EQ(close_code_for_plugin(false, 0), cc::kAbnormal);
  EXPECT_EQ(close_code_for_plugin(true, cc::kNoStatus), cc::kNoStatus);
  EXPECT_EQ(close_code_for_plugin(true, 4001), 4001);
}

}  // namespace
}  // namespace pounce::ws::testing
