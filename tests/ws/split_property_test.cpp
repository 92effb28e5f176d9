// The split property: however the client's bytes are cut into reads, the
// assembler reports the same events. Every sequence of the corpus is fed
// whole, byte by byte, cut once at every offset, and cut at random offsets.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "ws/close_codes.h"
#include "ws/message_assembler.h"
#include "ws/permessage_deflate.h"
#include "ws_test_support.h"

namespace pounce::ws::testing {
namespace {

struct Sequence {
  const char* name;
  std::string wire;
  bool deflate = false;
  // Messages before the end (a close, an error or the input's end), as a
  // check that the corpus itself is what it claims; -1: not checked.
  int messages = -1;
  uint64_t max_message_size = kDefaultMaxMessageSize;
};

void PrintTo(const Sequence& s, std::ostream* os) {
  *os << s.name;
}

// A fresh receiver (with its deflate state) per run.
struct Receiver {
  explicit Receiver(const Sequence& s)
      : pmd(s.deflate ? std::make_unique<PerMessageDeflate>(DeflateParams{},
                                                            DeflateConfig{})
                      : nullptr),
        rx({s.max_message_size}, pmd.get()) {}
  std::unique_ptr<PerMessageDeflate> pmd;
  MessageAssembler rx;
};

std::string compressed(ClientDeflater& client, Opcode op,
                       std::string_view message, size_t fragments = 1) {
  const std::string c = client.compress(message);
  std::string wire;
  const size_t step = c.size() / fragments + 1;
  for (size_t i = 0; i < fragments; ++i) {
    const std::string part =
        i * step < c.size() ? c.substr(i * step, step) : "";
    const bool fin = i + 1 == fragments;
    wire += i == 0 ? client_frame(b0(op, fin, true), part)
                   : client_frame(b0(Opcode::Continuation, fin), part);
  }
  return wire;
}

std::vector<Sequence> corpus() {
  std::vector<Sequence> out;
  out.push_back({"Rfc6455Examples",
                 from_hex("81 85 37 fa 21 3d 7f 9f 4d 51 58") +
                     from_hex("01 83 37 fa 21 3d 7f 9f 4d") +
                     from_hex("89 85 37 fa 21 3d 7f 9f 4d 51 58") +
                     from_hex("80 82 37 fa 21 3d 5b 95"),
                 false, 2});
  out.push_back({"LengthBoundaries",
                 binary(std::string(125, 'a')) + binary(std::string(126, 'b')) +
                     text(std::string(300, 'c')) +
                     binary(std::string(65536, 'd')) + text(""),
                 false, 5});
  out.push_back({"FragmentsWithControlFrames",
                 text("\xe2\x82", false) + ping("p") + cont("\xac", false) +
                     pong("") + cont(" euro") + binary("", false) +
                     cont("x", false) + ping(std::string(125, 'z')) +
                     cont("y") + close_frame(1000, "done"),
                 false, 2});
  out.push_back(
      {"EndsWithAnError", text("fine") + text("bad \xc0\xaf"), false, 1});
  out.push_back({"EndsWithAnErrorInAFragment",
                 binary("ok") + text("\xf0\x9f", false) + cont("\x28"), false,
                 1});
  out.push_back({"OverTheLimit",
                 text("small") + binary(std::string(300, 'a'), false) +
                     cont(std::string(300, 'b')),
                 false, 1, 500});
  // One statement per compressed message: the client's stream order
  // matters, and the operands of + are unsequenced.
  {
    ClientDeflater client;
    std::string wire = compressed(client, Opcode::Text, "Hello");
    wire += compressed(client, Opcode::Text, "Hello");
    wire += ping("x");
    wire +=
        compressed(client, Opcode::Binary, std::string(5000, 'q') + "tail", 4);
    wire += text("plain", false) + cont(" too");
    wire += compressed(client, Opcode::Text, "", 1);
    wire += compressed(client, Opcode::Text,
                       "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 3);
    out.push_back({"CompressedWithTakeover", wire, true, 6});
  }
  {
    ClientDeflater client;
    std::string wire = compressed(client, Opcode::Binary, "a");
    wire += compressed(client, Opcode::Binary, std::string(3000, 'z'), 2);
    out.push_back({"CompressedOverTheLimit", wire, true, 1, 2000});
  }
  {
    ClientDeflater client;
    std::string wire = compressed(client, Opcode::Text, "ok");
    wire += compressed(
        client, Opcode::Text,
        std::string(100, 'a') + "\xed\xa0\x80" + std::string(3000, 'b'), 2);
    out.push_back({"CompressedInvalidUtf8", wire, true, 1});
  }
  return out;
}

class SplitProperty : public ::testing::TestWithParam<Sequence> {};

TEST_P(SplitProperty, ByteByByteGivesTheSameEvents) {
  const Sequence& s = GetParam();
  Receiver whole(s), bytewise(s);
  const auto expected = run(whole.rx, s.wire);
  ASSERT_FALSE(expected.empty());
  if (s.messages >= 0) {
    int messages = 0;
    for (const Rec& r : expected) messages += r.type == EventType::Message;
    EXPECT_EQ(messages, s.messages) << ::testing::PrintToString(expected);
  }
  EXPECT_EQ(run(bytewise.rx, s.wire, 1), expected);
}

TEST_P(SplitProperty, EveryChunkSizeGivesTheSameEvents) {
  const Sequence& s = GetParam();
  Receiver whole(s);
  const auto expected = run(whole.rx, s.wire);
  for (size_t chunk = 2; chunk <= 32; ++chunk) {
    Receiver r(s);
    ASSERT_EQ(run(r.rx, s.wire, chunk), expected) << "chunk " << chunk;
  }
}

TEST_P(SplitProperty, OneCutAnywhereGivesTheSameEvents) {
  const Sequence& s = GetParam();
  Receiver whole(s);
  const auto expected = run(whole.rx, s.wire);
  // Every offset for short inputs; for long ones every offset of the first
  // and last 2 KiB and a stride in between.
  for (size_t cut = 0; cut <= s.wire.size();
       cut += (cut < 2048 || cut + 2048 > s.wire.size()) ? 1 : 97) {
    Receiver r(s);
    ASSERT_EQ(run_cuts(r.rx, s.wire, {cut}), expected) << "cut at " << cut;
  }
}

TEST_P(SplitProperty, RandomCutsGiveTheSameEvents) {
  const Sequence& s = GetParam();
  Receiver whole(s);
  const auto expected = run(whole.rx, s.wire);
  std::mt19937 rng(1);
  for (int round = 0; round < 200; ++round) {
    std::vector<size_t> cuts;
    size_t at = 0;
    while (true) {
      at += std::uniform_int_distribution<size_t>(0, 40)(rng);
      if (at >= s.wire.size()) break;
      cuts.push_back(at);
    }
    Receiver r(s);
    ASSERT_EQ(run_cuts(r.rx, s.wire, cuts), expected) << "round " << round;
  }
}

INSTANTIATE_TEST_SUITE_P(Corpus, SplitProperty, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Sequence>& i) {
                           return std::string(i.param.name);
                         });

}  // namespace
}  // namespace pounce::ws::testing
