// The opening handshake (RFC 6455 §4.2) from raw request bytes, through the
// host's head parser, to the 101 response.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/head_parser.h"
#include "ws/handshake.h"

namespace pounce::ws {
namespace {

using http::ErrorCode;

// Parses `request` (which must be a complete, valid HTTP head) and runs the
// handshake over it. The request text must outlive the result's views.
struct Parsed {
  explicit Parsed(std::string text, const DeflateConfig& config = {})
      : request(std::move(text)) {
    http::RequestHead head;
    const http::ParseResult r = http::parse_request_head(
        request.data(), request.size(), http::HeadLimits{}, storage, &head);
    parsed = r.status == http::ParseStatus::Complete;
    if (parsed) hs = validate_handshake(head, config);
  }
  std::string request;
  pounce_header_t storage[100];
  bool parsed = false;
  Handshake hs;
};

const std::string kKey = "dGhlIHNhbXBsZSBub25jZQ==";

std::string upgrade_request(const std::string& fields,
                            const std::string& method = "GET",
                            const std::string& version = "HTTP/1.1") {
  return method + " /chat " + version + "\r\nHost: server.example.com\r\n" +
         fields + "\r\n";
}

const std::string kGoodFields =
    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: " +
    kKey + "\r\nSec-WebSocket-Version: 13\r\n";

struct HandshakeCase {
  const char* name;
  std::string request;
  ErrorCode error;
};

void PrintTo(const HandshakeCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<HandshakeCase> kCases = {
    {"Rfc6455Example",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Origin: http://example.com\r\n"
                     "Sec-WebSocket-Protocol: chat, superchat\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::None},
    {"FirefoxConnectionTokenList",
     upgrade_request("Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::None},
    {"TokensAreCaseInsensitive",
     upgrade_request("Upgrade: WebSocket\r\nConnection: UPGRADE\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::None},
    {"UpgradeTokenListWithOthers",
     upgrade_request("Upgrade: h2c, websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::None},
    {"ConnectionSplitOverTwoFields",
     upgrade_request("Upgrade: websocket\r\nConnection: keep-alive\r\n"
                     "Connection: upgrade\r\nSec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::None},
    {"HeaderNamesAreCaseInsensitive",
     upgrade_request("upgrade: websocket\r\nCONNECTION: Upgrade\r\n"
                     "sec-websocket-key: " +
                     kKey + "\r\nSEC-WEBSOCKET-VERSION: 13\r\n"),
     ErrorCode::None},
    {"LaterHttpMinorVersion", upgrade_request(kGoodFields, "GET", "HTTP/1.2"),
     ErrorCode::None},
    // 400.
    {"PostIsRefused", upgrade_request(kGoodFields, "POST"),
     ErrorCode::BadWebSocketHandshake},
    {"LowercaseGetIsRefused", upgrade_request(kGoodFields, "get"),
     ErrorCode::BadWebSocketHandshake},
    {"Http10IsRefused", upgrade_request(kGoodFields, "GET", "HTTP/1.0"),
     ErrorCode::BadWebSocketHandshake},
    {"MissingUpgrade",
     upgrade_request("Connection: Upgrade\r\nSec-WebSocket-Key: " + kKey +
                     "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"UpgradeWithoutWebsocketToken",
     upgrade_request("Upgrade: h2c\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"UpgradeTokenPrefixIsNotTheToken",
     upgrade_request("Upgrade: websockets\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"MissingConnection",
     upgrade_request("Upgrade: websocket\r\nSec-WebSocket-Key: " + kKey +
                     "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"ConnectionWithoutUpgradeToken",
     upgrade_request("Upgrade: websocket\r\nConnection: keep-alive\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"ConnectionUpgradeAsSubstringOnly",
     upgrade_request("Upgrade: websocket\r\nConnection: upgraded\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"MissingKey",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"KeyOf15Bytes",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"KeyOf17Bytes",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZTE=\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"KeyNotBase64",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25*ZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"KeyWithoutPadding",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ\r\n"
                     "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"EmptyKey",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: \r\nSec-WebSocket-Version: 13\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"TwoKeys",
     upgrade_request(kGoodFields + "Sec-WebSocket-Key: " + kKey + "\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"SubprotocolNotAToken",
     upgrade_request(kGoodFields + "Sec-WebSocket-Protocol: chat, a/b\r\n"),
     ErrorCode::BadWebSocketHandshake},
    {"SubprotocolWithInnerSpace",
     upgrade_request(kGoodFields + "Sec-WebSocket-Protocol: my chat\r\n"),
     ErrorCode::BadWebSocketHandshake},
    // 426 (§4.2.2).
    {"MissingVersion",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\n"),
     ErrorCode::WebSocketVersion},
    {"Version8",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 8\r\n"),
     ErrorCode::WebSocketVersion},
    {"Version14",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 14\r\n"),
     ErrorCode::WebSocketVersion},
    {"VersionList",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " +
                     kKey + "\r\nSec-WebSocket-Version: 13, 8\r\n"),
     ErrorCode::WebSocketVersion},
    {"TwoVersionFields",
     upgrade_request(kGoodFields + "Sec-WebSocket-Version: 13\r\n"),
     ErrorCode::WebSocketVersion},
    {"VersionCheckedBeforeKey",
     upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Version: 7\r\n"),
     ErrorCode::WebSocketVersion},
};

class Handshakes : public ::testing::TestWithParam<HandshakeCase> {};

TEST_P(Handshakes, AreAcceptedOrRefusedWithTheirCode) {
  const HandshakeCase& c = GetParam();
  Parsed p(c.request);
  ASSERT_TRUE(p.parsed);
  EXPECT_EQ(p.hs.error, c.error) << p.hs.detail;
  if (c.error == ErrorCode::None) {
    EXPECT_EQ(p.hs.accept(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Handshakes, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<HandshakeCase>& i) {
                           return std::string(i.param.name);
                         });

TEST(Handshake, ErrorCodesMapTo400And426) {
  EXPECT_EQ(http::error_status(ErrorCode::BadWebSocketHandshake), 400);
  EXPECT_EQ(http::error_status(ErrorCode::WebSocketVersion), 426);
  EXPECT_EQ(kVersionRejectHeaders,
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
}

TEST(Handshake, AcceptOfTheRfc6455SampleKey) {
  char out[29];
  ASSERT_TRUE(compute_accept("dGhlIHNhbXBsZSBub25jZQ==", out));
  EXPECT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, AcceptOfAnotherKey) {
  // From RFC 6455 §1.3's algorithm, cross-checked with Python:
  // base64(sha1(b"x3JJHMbDL1EzLkh9GBhXDw==" + GUID)).
  char out[29];
  ASSERT_TRUE(compute_accept("x3JJHMbDL1EzLkh9GBhXDw==", out));
  EXPECT_STREQ(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

TEST(Handshake, OfferedSubprotocolsAreViewsInOfferOrder) {
  Parsed p(upgrade_request(kGoodFields +
                           "Sec-WebSocket-Protocol: chat, , superchat\r\n"
                           "Sec-WebSocket-Protocol: v2.json\r\n"));
  ASSERT_TRUE(p.hs.ok()) << p.hs.detail;
  ASSERT_EQ(p.hs.protocol_count, 3u);
  auto view = [&](size_t i) {
    return std::string_view(p.hs.protocols[i].data, p.hs.protocols[i].len);
  };
  EXPECT_EQ(view(0), "chat");
  EXPECT_EQ(view(1), "superchat");
  EXPECT_EQ(view(2), "v2.json");
  // Views of the request bytes, not copies.
  EXPECT_GE(p.hs.protocols[0].data, p.request.data());
  EXPECT_LT(p.hs.protocols[0].data, p.request.data() + p.request.size());
}

TEST(Handshake, NoSubprotocolsWhenNoneOffered) {
  Parsed p(upgrade_request(kGoodFields));
  ASSERT_TRUE(p.hs.ok());
  EXPECT_EQ(p.hs.protocol_count, 0u);
}

TEST(Handshake, TooManySubprotocolsAreRefused) {
  std::string list;
  for (size_t i = 0; i <= kMaxOfferedProtocols; ++i) {
    list += (i ? ", p" : "p") + std::to_string(i);
  }
  Parsed p(upgrade_request(kGoodFields + "Sec-WebSocket-Protocol: " + list +
                           "\r\n"));
  EXPECT_EQ(p.hs.error, ErrorCode::BadWebSocketHandshake);
}

TEST(Handshake, Response101WithProtocolAndExtension) {
  Parsed p(upgrade_request(kGoodFields +
                           "Sec-WebSocket-Protocol: chat, superchat\r\n"
                           "Sec-WebSocket-Extensions: permessage-deflate; "
                           "client_max_window_bits\r\n"));
  ASSERT_TRUE(p.hs.ok());
  ByteBuffer out;
  ASSERT_TRUE(append_101_response(out, p.hs, 1, "Server: pounce\r\n"));
  EXPECT_EQ(out.view(),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: superchat\r\n"
            "Sec-WebSocket-Extensions: permessage-deflate\r\n"
            "Server: pounce\r\n"
            "\r\n");
}

TEST(Handshake, Response101WithoutProtocolOrExtension) {
  Parsed p(upgrade_request(kGoodFields + "Sec-WebSocket-Protocol: chat\r\n"));
  ByteBuffer out;
  ASSERT_TRUE(append_101_header_lines(out, p.hs, -1));
  EXPECT_EQ(out.view(),
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
}

TEST(Handshake, ChosenProtocolMustBeOneOffered) {
  Parsed p(upgrade_request(kGoodFields + "Sec-WebSocket-Protocol: chat\r\n"));
  ByteBuffer out;
  EXPECT_FALSE(append_101_response(out, p.hs, 1));
  EXPECT_FALSE(append_101_response(out, p.hs, -2));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(append_101_response(out, p.hs, 0));
}

TEST(Handshake, NoResponseForARefusedHandshake) {
  Parsed p(upgrade_request("Upgrade: websocket\r\nConnection: Upgrade\r\n"));
  ASSERT_FALSE(p.hs.ok());
  ByteBuffer out;
  EXPECT_FALSE(append_101_response(out, p.hs, -1));
}

TEST(Handshake, CompressionCanBeDisabled) {
  DeflateConfig off;
  off.enabled = false;
  Parsed p(upgrade_request(kGoodFields +
                           "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
           off);
  ASSERT_TRUE(p.hs.ok());
  EXPECT_FALSE(p.hs.deflate.accepted);
}

TEST(Handshake, ExtensionOffersAcrossSeveralFields) {
  Parsed p(
      upgrade_request(kGoodFields +
                      "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"
                      "Sec-WebSocket-Extensions: permessage-deflate; "
                      "server_no_context_takeover\r\n"));
  ASSERT_TRUE(p.hs.ok());
  ASSERT_TRUE(p.hs.deflate.accepted);
  EXPECT_EQ(p.hs.deflate.response(),
            "permessage-deflate; server_no_context_takeover");
}

TEST(Handshake, BadExtensionHeaderOpensWithoutCompression) {
  Parsed p(upgrade_request(
      kGoodFields + "Sec-WebSocket-Extensions: permessage-deflate;;\r\n"));
  ASSERT_TRUE(p.hs.ok());
  EXPECT_FALSE(p.hs.deflate.accepted);
}

}  // namespace
}  // namespace pounce::ws
