// permessage-deflate (RFC 7692): the negotiation table, the examples of
// §7.2.3, round trips with and without context takeover, the size limit on
// inflated data, and the memory a socket costs.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ws/close_codes.h"
#include "ws/frame_writer.h"
#include "ws/message_assembler.h"
#include "ws/permessage_deflate.h"
#include "ws_test_support.h"

namespace pounce::ws::testing {
namespace {

namespace cc = close_code;

// --- Negotiation ------------------------------------------------------------

struct NegotiationCase {
  const char* name;
  std::string offer;
  bool accepted;
  std::string response = "";
  DeflateParams params = {};
  DeflateConfig config = {};
};

void PrintTo(const NegotiationCase& c, std::ostream* os) {
  *os << c.name;
}

DeflateConfig config_with(void (*set)(DeflateConfig&)) {
  DeflateConfig c;
  set(c);
  return c;
}

DeflateParams params(bool snct, bool cnct, uint8_t sbits, uint8_t cbits) {
  return {snct, cnct, sbits, cbits};
}

const std::vector<NegotiationCase> kNegotiations = {
    {"PlainOffer", "permessage-deflate", true, "permessage-deflate",
     params(false, false, 15, 15)},
    {"ChromeOffer", "permessage-deflate; client_max_window_bits", true,
     "permessage-deflate", params(false, false, 15, 15)},
    {"NameIsCaseInsensitive", "PerMessage-Deflate", true, "permessage-deflate",
     params(false, false, 15, 15)},
    {"ServerNoContextTakeoverIsEchoed",
     "permessage-deflate; server_no_context_takeover", true,
     "permessage-deflate; server_no_context_takeover",
     params(true, false, 15, 15)},
    {"ClientNoContextTakeoverIsEchoed",
     "permessage-deflate; client_no_context_takeover", true,
     "permessage-deflate; client_no_context_takeover",
     params(false, true, 15, 15)},
    {"BothNoContextTakeover",
     "permessage-deflate; client_no_context_takeover; "
     "server_no_context_takeover",
     true,
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover",
     params(true, true, 15, 15)},
    {"ServerMaxWindowBitsIsHonoured",
     "permessage-deflate; server_max_window_bits=10", true,
     "permessage-deflate; server_max_window_bits=10",
     params(false, false, 10, 15)},
    {"ServerMaxWindowBits9", "permessage-deflate; server_max_window_bits=9",
     true, "permessage-deflate; server_max_window_bits=9",
     params(false, false, 9, 15)},
    {"ServerMaxWindowBits8IsDeclined",
     "permessage-deflate; server_max_window_bits=8", false},
    {"FallsBackToTheNextOfferAfter8Bits",
     "permessage-deflate; server_max_window_bits=8, permessage-deflate", true,
     "permessage-deflate", params(false, false, 15, 15)},
    {"ClientMaxWindowBitsValueIsHonoured",
     "permessage-deflate; client_max_window_bits=12", true,
     "permessage-deflate; client_max_window_bits=12",
     params(false, false, 15, 12)},
    {"ClientMaxWindowBits15NeedsNoResponse",
     "permessage-deflate; client_max_window_bits=15", true,
     "permessage-deflate", params(false, false, 15, 15)},
    {"ClientMaxWindowBits8InflatesWith9",
     "permessage-deflate; client_max_window_bits=8", true,
     "permessage-deflate; client_max_window_bits=8",
     params(false, false, 15, 9)},
    {"EveryParameterAtOnce",
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=11; "
     "client_max_window_bits=13",
     true,
     "permessage-deflate; server_no_context_takeover; "
     "client_no_context_takeover; server_max_window_bits=11; "
     "client_max_window_bits=13",
     params(true, true, 11, 13)},
    {"WhitespaceAroundSeparators",
     "permessage-deflate ;server_max_window_bits = 12 ,x", true,
     "permessage-deflate; server_max_window_bits=12",
     params(false, false, 12, 15)},
    {"QuotedValue", "permessage-deflate; server_max_window_bits=\"10\"", true,
     "permessage-deflate; server_max_window_bits=10",
     params(false, false, 10, 15)},
    {"QuotedValueWithEscape",
     "permessage-deflate; client_max_window_bits=\"1\\1\"", true,
     "permessage-deflate; client_max_window_bits=11",
     params(false, false, 15, 11)},
    {"OtherExtensionsAreSkipped",
     "x-webkit-deflate-frame, foo; bar=\"baz, qux\", permessage-deflate", true,
     "permessage-deflate", params(false, false, 15, 15)},
    {"FirstAcceptableOfferWins",
     "permessage-deflate; server_max_window_bits=10, "
     "permessage-deflate; server_max_window_bits=12",
     true, "permessage-deflate; server_max_window_bits=10",
     params(false, false, 10, 15)},
    {"EmptyListElementsAreSkipped", ", ,permessage-deflate,", true,
     "permessage-deflate", params(false, false, 15, 15)},
    // Declined offers (§7: unknown, duplicate or invalid parameters).
    {"UnknownParameterDeclines", "permessage-deflate; foo", false},
    {"UnknownParameterFallsBack",
     "permessage-deflate; foo=1, permessage-deflate; "
     "client_no_context_takeover",
     true, "permessage-deflate; client_no_context_takeover",
     params(false, true, 15, 15)},
    {"DuplicateParameterDeclines",
     "permessage-deflate; server_no_context_takeover; "
     "server_no_context_takeover",
     false},
    {"DuplicateWindowBitsDeclines",
     "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
     false},
    {"NoContextTakeoverWithValueDeclines",
     "permessage-deflate; server_no_context_takeover=1", false},
    {"ServerMaxWindowBitsWithoutValueDeclines",
     "permessage-deflate; server_max_window_bits", false},
    {"WindowBits7Declines", "permessage-deflate; client_max_window_bits=7",
     false},
    {"WindowBits16Declines", "permessage-deflate; server_max_window_bits=16",
     false},
    {"LeadingZeroDeclines", "permessage-deflate; server_max_window_bits=09",
     false},
    {"NonNumericDeclines", "permessage-deflate; client_max_window_bits=ten",
     false},
    {"NoOffer", "x-webkit-deflate-frame", false},
    // Syntax errors disable compression for the socket.
    {"DoubleSemicolon", "permessage-deflate;; client_max_window_bits", false},
    {"MissingValue", "permessage-deflate; server_max_window_bits=", false},
    {"UnterminatedQuote", "permessage-deflate; server_max_window_bits=\"10",
     false},
    {"SyntaxErrorAfterAGoodOffer", "permessage-deflate, per message", false},
    // Server policy.
    {"DisabledByConfig",
     "permessage-deflate",
     false,
     "",
     {},
     config_with([](DeflateConfig& c) { c.enabled = false; })},
    {"ForcedServerNoContextTakeover", "permessage-deflate", true,
     "permessage-deflate; server_no_context_takeover",
     params(true, false, 15, 15), config_with([](DeflateConfig& c) {
       c.server_no_context_takeover = true;
     })},
    {"ForcedClientNoContextTakeover", "permessage-deflate", true,
     "permessage-deflate; client_no_context_takeover",
     params(false, true, 15, 15), config_with([](DeflateConfig& c) {
       c.client_no_context_takeover = true;
     })},
    {"SmallerServerWindowIsUsedSilently", "permessage-deflate", true,
     "permessage-deflate", params(false, false, 11, 15),
     config_with([](DeflateConfig& c) { c.server_max_window_bits = 11; })},
    {"SmallerServerWindowUnderTheOffer",
     "permessage-deflate; server_max_window_bits=13", true,
     "permessage-deflate; server_max_window_bits=11",
     params(false, false, 11, 15),
     config_with([](DeflateConfig& c) { c.server_max_window_bits = 11; })},
    {"SmallerClientWindowWhenOfferAllowsIt",
     "permessage-deflate; client_max_window_bits", true,
     "permessage-deflate; client_max_window_bits=10",
     params(false, false, 15, 10),
     config_with([](DeflateConfig& c) { c.client_max_window_bits = 10; })},
    {"ClientWindowIsNotLimitedUnoffered", "permessage-deflate", true,
     "permessage-deflate", params(false, false, 15, 15),
     config_with([](DeflateConfig& c) { c.client_max_window_bits = 10; })},
};

class Negotiation : public ::testing::TestWithParam<NegotiationCase> {};

TEST_P(Negotiation, AgreesOnTheParameters) {
  const NegotiationCase& c = GetParam();
  const DeflateNegotiation n = negotiate_permessage_deflate(c.offer, c.config);
  ASSERT_EQ(n.accepted, c.accepted);
  if (!c.accepted) return;
  EXPECT_EQ(n.response(), c.response);
  EXPECT_EQ(n.params.server_no_context_takeover,
            c.params.server_no_context_takeover);
  EXPECT_EQ(n.params.client_no_context_takeover,
            c.params.client_no_context_takeover);
  EXPECT_EQ(n.params.server_max_window_bits, c.params.server_max_window_bits);
  EXPECT_EQ(n.params.client_max_window_bits, c.params.client_max_window_bits);
}

INSTANTIATE_TEST_SUITE_P(
    Table, Negotiation, ::testing::ValuesIn(kNegotiations),
    [](const ::testing::TestParamInfo<NegotiationCase>& i) {
      return std::string(i.param.name);
    });

TEST(Negotiation, OffersInSeveralFieldsFormOneList) {
  const pounce_header_t headers[] = {
      {POUNCE_STR("Sec-WebSocket-Extensions"),
       POUNCE_STR("permessage-deflate; server_max_window_bits=8")},
      {POUNCE_STR("Host"), POUNCE_STR("a")},
      {POUNCE_STR("sec-websocket-extensions"),
       POUNCE_STR("permessage-deflate; client_no_context_takeover")},
  };
  const DeflateNegotiation n = negotiate_permessage_deflate(headers, 3, {});
  ASSERT_TRUE(n.accepted);
  EXPECT_EQ(n.response(), "permessage-deflate; client_no_context_takeover");
}

// --- The codec ---------------------------------------------------------------

DeflateConfig compress_all() {
  DeflateConfig c;
  c.min_compress_size = 0;
  return c;
}

std::string compressed_frame_payload(PerMessageDeflate& pmd,
                                     std::string_view message) {
  ByteBuffer out;
  EXPECT_TRUE(append_message(out, Opcode::Text, message, &pmd));
  ServerFrame f;
  EXPECT_TRUE(parse_server_frame(out.view(), &f));
  EXPECT_TRUE(f.rsv1);
  return f.payload;
}

// RFC 7692 §7.2.3.1: "Hello" in one compressed, unmasked frame.
// The bench's client follows the 101 the way a browser would.
TEST(WsDeflateResponse, MirrorsTheServersAnswerOntoTheClient) {
  DeflateParams p;
  ASSERT_TRUE(client_params_from_response("permessage-deflate", &p));
  EXPECT_FALSE(p.server_no_context_takeover);
  EXPECT_FALSE(p.client_no_context_takeover);
  EXPECT_EQ(p.server_max_window_bits, 15);

  ASSERT_TRUE(client_params_from_response(
      "permessage-deflate; server_no_context_takeover; "
      "client_no_context_takeover; client_max_window_bits=12; "
      "server_max_window_bits=\"10\"",
      &p));
  // The server's deflater resets: our inflater does too, and the other way.
  EXPECT_TRUE(p.client_no_context_takeover);
  EXPECT_TRUE(p.server_no_context_takeover);
  // Our deflater follows the window the server allowed us.
  EXPECT_EQ(p.server_max_window_bits, 12);

  for (const char* bad :
       {"", "x-webkit-deflate-frame", "permessage-deflate; bogus",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; server_no_context_takeover; "
        "server_no_context_takeover",
        "permessage-deflate, permessage-deflate"}) {
    EXPECT_FALSE(client_params_from_response(bad, &p)) << bad;
  }
}

TEST(PerMessageDeflate, Rfc7692CompressedHelloFrame) {
  PerMessageDeflate pmd({}, compress_all());
  ByteBuffer out;
  ASSERT_TRUE(append_message(out, Opcode::Text, "Hello", &pmd));
  EXPECT_EQ(to_hex(std::string(out.view())), "c1 07 f2 48 cd c9 c9 07 00");
}

// §7.2.3.2: the second "Hello" reuses the window of the first.
TEST(PerMessageDeflate, Rfc7692SharedWindowSecondHello) {
  PerMessageDeflate pmd({}, compress_all());
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "Hello")),
            "f2 48 cd c9 c9 07 00");
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "Hello")), "f2 00 11 00 00");
}

TEST(PerMessageDeflate, NoContextTakeoverCompressesEachMessageAlone) {
  DeflateParams p;
  p.server_no_context_takeover = true;
  PerMessageDeflate pmd(p, compress_all());
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "Hello")),
            "f2 48 cd c9 c9 07 00");
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "Hello")),
            "f2 48 cd c9 c9 07 00");
  EXPECT_EQ(pmd.memory_usage(), 0u);  // freed after each message
}

// §7.2.3.6: an empty message compresses to one 0x00 byte.
TEST(PerMessageDeflate, EmptyMessageCompressesToOneZeroByte) {
  PerMessageDeflate pmd({}, compress_all());
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "")), "00");
  // Also after a message, with the context kept.
  compressed_frame_payload(pmd, "Hello");
  EXPECT_EQ(to_hex(compressed_frame_payload(pmd, "")), "00");
}

TEST(PerMessageDeflate, SmallMessagesAreSentUncompressed) {
  PerMessageDeflate pmd({}, {});  // min_compress_size 32
  ByteBuffer out;
  ASSERT_TRUE(append_message(out, Opcode::Text, "Hello", &pmd));
  EXPECT_EQ(to_hex(std::string(out.view())), "81 05 48 65 6c 6c 6f");
  EXPECT_EQ(pmd.memory_usage(), 0u);
}

// The receiving side, over masked client frames.
struct InflateCase {
  const char* name;
  std::vector<std::string> frames;  // payloads: first RSV1, then continuations
  std::string message;
};

void PrintTo(const InflateCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<InflateCase> kInflates = {
    {"Rfc7692Hello", {from_hex("f2 48 cd c9 c9 07 00")}, "Hello"},
    {"Rfc7692HelloInTwoFragments",
     {from_hex("f2 48 cd"), from_hex("c9 c9 07 00")},
     "Hello"},
    {"Rfc7692StoredBlock",
     {from_hex("00 05 00 fa ff 48 65 6c 6c 6f 00")},
     "Hello"},
    {"Rfc7692BfinalBlock", {from_hex("f3 48 cd c9 c9 07 00 00")}, "Hello"},
    {"Rfc7692TwoBlocks",
     {from_hex("f2 48 05 00 00 00 ff ff ca c9 c9 07 00")},
     "Hello"},
    {"Rfc7692EmptyMessage", {from_hex("00")}, ""},
    {"EmptyCompressedPayloadIsAnEmptyMessage", {""}, ""},
    {"EmptyFragmentsAroundData",
     {"", from_hex("f2 48 cd c9 c9 07 00"), ""},
     "Hello"},
};

class Inflates : public ::testing::TestWithParam<InflateCase> {};

std::string compressed_message(const std::vector<std::string>& payloads,
                               Opcode op = Opcode::Text) {
  std::string wire;
  for (size_t i = 0; i < payloads.size(); ++i) {
    const bool fin = i + 1 == payloads.size();
    wire += i == 0 ? client_frame(b0(op, fin, true), payloads[i])
                   : client_frame(b0(Opcode::Continuation, fin), payloads[i]);
  }
  return wire;
}

TEST_P(Inflates, ToTheirMessage) {
  const InflateCase& c = GetParam();
  const std::string wire = compressed_message(c.frames);
  for (size_t chunk : {0u, 1u}) {
    PerMessageDeflate pmd({}, {});
    MessageAssembler rx({}, &pmd);
    EXPECT_EQ(run(rx, wire, chunk), std::vector{text_msg(c.message)});
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Inflates, ::testing::ValuesIn(kInflates),
                         [](const ::testing::TestParamInfo<InflateCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(PerMessageDeflate, SharedWindowAcrossReceivedMessages) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  const std::string wire =
      compressed_message({from_hex("f2 48 cd c9 c9 07 00")}) +
      compressed_message({from_hex("f2 00 11 00 00")});
  EXPECT_EQ(run(rx, wire), (std::vector{text_msg("Hello"), text_msg("Hello")}));
}

TEST(PerMessageDeflate, ClientNoContextTakeoverResetsTheInflater) {
  DeflateParams p;
  p.client_no_context_takeover = true;
  PerMessageDeflate pmd(p, {});
  MessageAssembler rx({}, &pmd);
  // The second message refers back into the first: without the window it
  // is invalid ("distance too far back").
  const std::string wire =
      compressed_message({from_hex("f2 48 cd c9 c9 07 00")}) +
      compressed_message({from_hex("f2 00 11 00 00")});
  EXPECT_EQ(run(rx, wire),
            (std::vector{text_msg("Hello"), error_ev(cc::kInvalidPayload)}));
}

TEST(PerMessageDeflate, UncompressedMessagesMixWithCompressedOnes) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  ClientDeflater client;
  // One statement per message: the client's stream order matters.
  std::string wire = compressed_message({client.compress("first")});
  wire += text("plain");
  wire += compressed_message({client.compress("first again")});
  EXPECT_EQ(run(rx, wire), (std::vector{text_msg("first"), text_msg("plain"),
                                        text_msg("first again")}));
}

TEST(PerMessageDeflate, BfinalThenTakeoverKeepsTheWindow) {
  // A sender that ends each message with a final block and starts the next
  // as a new stream primed with the previous data.
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  ClientDeflater first;
  const std::string one = first.compress_final("a window to remember");
  z_stream z{};
  ASSERT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  const std::string dict = "a window to remember";
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(dict.data()),
                       static_cast<uInt>(dict.size()));
  std::string two(128, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(dict.data()));
  z.avail_in = static_cast<uInt>(dict.size());
  z.next_out = reinterpret_cast<Bytef*>(two.data());
  z.avail_out = static_cast<uInt>(two.size());
  ASSERT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  two.resize(two.size() - z.avail_out - 4);
  deflateEnd(&z);
  EXPECT_LT(two.size(), 10u);  // it really refers to the dictionary
  EXPECT_EQ(run(rx, compressed_message({one}) + compressed_message({two})),
            (std::vector{text_msg(dict), text_msg(dict)}));
}

struct RoundTrip {
  const char* name;
  bool server_nct, client_nct;
  uint8_t server_bits, client_bits;
};

void PrintTo(const RoundTrip& c, std::ostream* os) {
  *os << c.name;
}

class RoundTrips : public ::testing::TestWithParam<RoundTrip> {};

std::vector<std::string> sample_messages() {
  const std::string small =
      R"({"type":"update","id":12345,"payload":{"x":1,"y":2,"name":"pounce"}})";
  std::vector<std::string> m = {
      "Hello",
      "",
      small,
      small,  // repeated: a few bytes with takeover
      std::string(100000, 'a'),
  };
  std::string json;
  for (int i = 0; i < 2000; ++i) {
    json += R"({"seq":)" + std::to_string(i) + R"(,"data":"lorem ipsum"},)";
  }
  m.push_back(json);
  std::string noise(70000, '\0');
  uint32_t x = 1;
  for (auto& c : noise) {
    x = x * 1103515245 + 12345;
    c = static_cast<char>(x >> 16);
  }
  m.push_back(noise);
  return m;
}

TEST_P(RoundTrips, ServerToClientAndBack) {
  const RoundTrip& rt = GetParam();
  DeflateParams p{rt.server_nct, rt.client_nct, rt.server_bits, rt.client_bits};
  PerMessageDeflate server(p, compress_all());
  ClientInflater client_in(15);
  ClientDeflater client_out(rt.client_bits, !rt.client_nct);
  MessageAssembler rx({}, &server);
  const auto messages = sample_messages();
  std::vector<size_t> sizes;
  for (const std::string& m : messages) {
    // Server -> client.
    ByteBuffer out;
    ASSERT_TRUE(append_message(out, Opcode::Binary, m, &server));
    ServerFrame f;
    ASSERT_TRUE(parse_server_frame(out.view(), &f));
    EXPECT_TRUE(f.rsv1);
    std::string back;
    ASSERT_TRUE(client_in.decompress(f.payload, &back));
    EXPECT_EQ(back, m);
    sizes.push_back(f.payload.size());
    // Client -> server, in 1000-byte reads.
    EXPECT_EQ(
        run(rx, compressed_message({client_out.compress(m)}, Opcode::Binary),
            1000),
        std::vector{binary_msg(m)});
  }
  // The repeated message costs a few bytes with takeover only.
  if (rt.server_nct) {
    EXPECT_EQ(sizes[3], sizes[2]);
  } else {
    EXPECT_LT(sizes[3], sizes[2] / 4);
  }
  if (rt.server_nct && rt.client_nct) {
    EXPECT_EQ(server.memory_usage(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RoundTrips,
    ::testing::Values(RoundTrip{"ContextTakeover", false, false, 15, 15},
                      RoundTrip{"ServerNoContextTakeover", true, false, 15, 15},
                      RoundTrip{"ClientNoContextTakeover", false, true, 15, 15},
                      RoundTrip{"NoContextTakeover", true, true, 15, 15},
                      RoundTrip{"Windows12", false, false, 12, 12},
                      RoundTrip{"Windows9", false, false, 9, 9},
                      RoundTrip{"Windows10NoTakeover", true, true, 10, 10}),
    [](const ::testing::TestParamInfo<RoundTrip>& i) {
      return std::string(i.param.name);
    });

// --- Limits and bad data -----------------------------------------------------

TEST(PerMessageDeflate, InflatedSizeOfExactlyTheLimitIsAccepted) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({1000}, &pmd);
  ClientDeflater client;
  const std::string m(1000, 'x');
  EXPECT_EQ(run(rx, compressed_message({client.compress(m)}, Opcode::Binary)),
            std::vector{binary_msg(m)});
}

TEST(PerMessageDeflate, InflatedSizeOverTheLimitIs1009) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({1000}, &pmd);
  ClientDeflater client;
  const std::string wire = compressed_message(
      {client.compress(std::string(1001, 'x'))}, Opcode::Binary);
  EXPECT_LT(wire.size(), 100u);  // far under the limit on the wire
  EXPECT_EQ(run(rx, wire), std::vector{error_ev(cc::kMessageTooBig)});
}

TEST(PerMessageDeflate, LimitCountsAcrossCompressedFragments) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({1000}, &pmd);
  ClientDeflater client;
  const std::string c = client.compress(std::string(1500, 'x'));
  const std::string wire = compressed_message(
      {c.substr(0, c.size() / 2), c.substr(c.size() / 2)}, Opcode::Binary);
  EXPECT_EQ(run(rx, wire, 3), std::vector{error_ev(cc::kMessageTooBig)});
}

TEST(PerMessageDeflate, ZipBombStopsAtTheLimit) {
  // 64 MiB of zeros compress to ~64 KiB; the limit is 1 MiB. Inflating
  // stops at limit + 1 bytes: the buffer never holds more.
  ClientDeflater client(15, true, 9);
  const std::string bomb = client.compress(std::string(64 << 20, '\0'));
  EXPECT_LT(bomb.size(), 128u * 1024);
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({1 << 20}, &pmd);
  std::vector<Rec> events =
      run(rx, compressed_message({bomb.substr(0, 4000)}, Opcode::Binary), 0);
  EXPECT_EQ(events, std::vector{error_ev(cc::kMessageTooBig)});
  EXPECT_LE(rx.memory_usage(), (1u << 20) + 1);
}

TEST(PerMessageDeflate, InvalidUtf8InInflatedTextIs1007) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  ClientDeflater client;
  EXPECT_EQ(run(rx, compressed_message({client.compress("ok \xed\xa0\x80")})),
            std::vector{error_ev(cc::kInvalidPayload)});
}

TEST(PerMessageDeflate, InflatedUtf8FailsFastWithinTheMessage) {
  // The first fragment already inflates to invalid UTF-8: the error comes
  // before the message's second fragment exists.
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  ClientDeflater client;
  std::string message(51, 'a');
  message[0] = '\xff';
  const std::string c = client.compress(message);
  EXPECT_EQ(run(rx, client_frame(b0(Opcode::Text, false, true), c)),
            std::vector{error_ev(cc::kInvalidPayload)});
}

TEST(PerMessageDeflate, CorruptDeflateDataIs1007) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  // BTYPE 11 is reserved.
  EXPECT_EQ(run(rx, compressed_message({from_hex("ff ff ff")})),
            std::vector{error_ev(cc::kInvalidPayload)});
}

TEST(PerMessageDeflate, MessageCutInsideABlockIs1007) {
  // A fixed-Huffman block without its end: the stream would be out of step
  // for the next message.
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  EXPECT_EQ(run(rx, compressed_message({from_hex("f2 48 cd")})),
            std::vector{error_ev(cc::kInvalidPayload)});
}

TEST(PerMessageDeflate, Rsv1OnContinuationIs1002) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  const std::string wire = client_frame(b0(Opcode::Text, false, true), "") +
                           client_frame(0x80 | kRsv1, "");
  EXPECT_EQ(run(rx, wire), std::vector{error_ev(cc::kProtocolError)});
}

TEST(PerMessageDeflate, Rsv1OnControlFrameIs1002) {
  PerMessageDeflate pmd({}, {});
  MessageAssembler rx({}, &pmd);
  EXPECT_EQ(run(rx, client_frame(0x80 | kRsv1 | 0x9, "")),
            std::vector{error_ev(cc::kProtocolError)});
}

// --- Memory per socket
// ---------------------------------------------------------

struct MemoryRow {
  const char* name;
  DeflateParams params;
  int mem_level;
};

// Measured through the counting allocator after one compressed message each
// way (the state a busy socket keeps between messages), and at the peak.
TEST(PerMessageDeflate, ReportsMemoryPerSocket) {
  const MemoryRow rows[] = {
      {"takeover, 15-bit windows (default)", {false, false, 15, 15}, 0},
      {"takeover, server 12 / client 12", {false, false, 12, 12}, 0},
      {"takeover, server 10 / client 10", {false, false, 10, 10}, 0},
      {"takeover, server 12, memLevel 8", {false, false, 12, 15}, 8},
      {"server_no_context_takeover only", {true, false, 15, 15}, 0},
      {"client_no_context_takeover only", {false, true, 15, 15}, 0},
      {"no context takeover (both)", {true, true, 15, 15}, 0},
  };
  const std::string message(
      "{\"type\":\"tick\",\"symbol\":\"POUNCE\",\"price\":123.45,\"volume\":"
      "1000,\"exchange\":\"XPAR\",\"note\":\"a typical small JSON message\"}");
  std::printf("%-38s %12s %12s\n", "configuration", "idle bytes", "peak bytes");
  std::vector<size_t> idle;
  for (const MemoryRow& row : rows) {
    DeflateConfig cfg = compress_all();
    cfg.mem_level = row.mem_level;
    PerMessageDeflate pmd(row.params, cfg);
    MessageAssembler rx({}, &pmd);
    ClientDeflater client(row.params.client_max_window_bits,
                          !row.params.client_no_context_takeover);
    ByteBuffer out;
    ASSERT_TRUE(append_message(out, Opcode::Text, message, &pmd));
    ASSERT_EQ(run(rx, compressed_message({client.compress(message)})),
              std::vector{text_msg(message)});
    std::printf("%-38s %12zu %12zu\n", row.name, pmd.memory_usage(),
                pmd.peak_memory_usage());
    RecordProperty(row.name, std::to_string(pmd.memory_usage()));
    idle.push_back(pmd.memory_usage());
  }
  EXPECT_GT(idle[0], 250'000u);         // default windows
  EXPECT_LT(idle[1], idle[0] / 4);      // 12-bit windows
  EXPECT_LT(idle[2], idle[1]);          // 10-bit windows
  EXPECT_LT(idle[4], idle[0] / 4);      // only the inflater is kept
  EXPECT_GT(idle[5], idle[0] * 3 / 4);  // only the deflater is kept
  EXPECT_EQ(idle[6], 0u);               // nothing is kept
}

}  // namespace
}  // namespace pounce::ws::testing
