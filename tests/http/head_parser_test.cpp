// The request-head parser against the protocol rules of ARCHITECTURE.md §4.
// Every case runs through the scalar and the SIMD entry point.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "http_test_support.h"

namespace pounce::http::testing {
namespace {

using namespace std::string_literals;

// A request head of exactly `size` bytes: a padding field fills the gap.
std::string head_of_size(size_t size, bool finished = true) {
  const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
  const std::string end = finished ? "\r\n\r\n" : "";
  return start + std::string(size - start.size() - end.size(), 'p') + end;
}

std::string head_with_fields(int n) {
  std::string s = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 1; i < n; ++i) s += "X-" + std::to_string(i) + ": v\r\n";
  return s + "\r\n";
}

// --- Rejections -----------------------------------------------------------

struct RejectCase {
  const char* name;
  std::string input;
  ErrorCode error;
  HeadLimits limits{};
};

void PrintTo(const RejectCase& c, std::ostream* os) {
  *os << c.name;
}

const std::string kHost = "Host: a\r\n";

const std::vector<RejectCase> kRejects = {
    // Request line.
    {"RejectsEmptyMethod", " / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsInvalidMethodCharacter", "G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadMethod},
    {"RejectsSlashInMethod", "GET/ / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadMethod},
    {"RejectsNulInMethod", "GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n"s,
     ErrorCode::BadMethod},
    {"RejectsNonAsciiMethod", "G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadMethod},
    {"RejectsTabAfterMethod", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsTwoSpacesAfterMethod", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsTwoSpacesBeforeVersion", "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsSpaceAfterVersion", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsMethodOnlyLine", "GET\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsMissingVersion", "GET /\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsMissingTarget", "GET HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsLowercaseVersion", "GET / http/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsVersionWithoutMinor", "GET / HTTP/1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsTwoDigitMajor", "GET / HTTP/10.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsTwoDigitMinor", "GET / HTTP/1.10\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsNonDigitVersion", "GET / HTTP/x.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadRequestLine},
    {"RejectsHttp20", "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
     ErrorCode::VersionNotSupported},
    {"RejectsHttp99", "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
     ErrorCode::VersionNotSupported},
    {"RejectsHttp09", "GET / HTTP/0.9\r\n\r\n", ErrorCode::VersionNotSupported},
    // Request target.
    {"RejectsNulInTarget", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s,
     ErrorCode::BadTarget},
    {"RejectsCrInTarget", "GET /a\rb HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsLfInTarget", "GET /a\nb HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsControlCharInTarget", "GET /a\x01z HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsEscInTarget", "GET /a\x1bz HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsTabInTarget", "GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsDelInTarget", "GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsNonAsciiTarget", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsNulDeepInLongTarget",
     "GET /" + std::string(70, 'a') + "\0"s + std::string(40, 'b') +
         " HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsAuthorityForm",
     "CONNECT example.com:443 HTTP/1.1\r\n" + kHost + "\r\n",
     ErrorCode::BadTarget},
    {"RejectsRelativeTarget", "GET a/b HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsAsteriskFormForGet", "GET * HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    {"RejectsAbsoluteFormWithoutAuthority",
     "GET http:///a HTTP/1.1\r\nHost: a\r\n\r\n", ErrorCode::BadTarget},
    {"RejectsAbsoluteFormWithUserinfo",
     "GET http://u:p@a/ HTTP/1.1\r\nHost: a\r\n\r\n", ErrorCode::BadTarget},
    {"RejectsUnknownScheme", "GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadTarget},
    // Line endings.
    {"RejectsBareLfLeadingLine", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareCrLeadingLine", "\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareLfAfterRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareCrAfterRequestLine", "GET / HTTP/1.1\rHost: a\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareLfAfterField", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareCrAfterField", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareCrInsideValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareLfEndingHead", "GET / HTTP/1.1\r\nHost: a\r\n\n",
     ErrorCode::BadLineEnding},
    {"RejectsBareCrEndingHead", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n",
     ErrorCode::BadLineEnding},
    {"RejectsLfLfEndingHead", "GET / HTTP/1.1\nHost: a\n\n",
     ErrorCode::BadLineEnding},
    // Field names.
    {"RejectsWhitespaceBeforeColon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
     ErrorCode::WhitespaceBeforeColon},
    {"RejectsTabBeforeColon", "GET / HTTP/1.1\r\nHost: a\r\nX\t: y\r\n\r\n",
     ErrorCode::WhitespaceBeforeColon},
    {"RejectsSpaceInsideFieldName",
     "GET / HTTP/1.1\r\nHost: a\r\nX Y: z\r\n\r\n", ErrorCode::BadHeaderName},
    {"RejectsEmptyFieldName", "GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n",
     ErrorCode::BadHeaderName},
    {"RejectsFieldLineWithoutColon", "GET / HTTP/1.1\r\nHost: a\r\nX-Y\r\n\r\n",
     ErrorCode::BadHeaderName},
    {"RejectsNulInFieldName", "GET / HTTP/1.1\r\nHost: a\r\nX\0Y: z\r\n\r\n"s,
     ErrorCode::BadHeaderName},
    {"RejectsInvalidFieldNameCharacter",
     "GET / HTTP/1.1\r\nHost: a\r\nX(Y): z\r\n\r\n", ErrorCode::BadHeaderName},
    {"RejectsSlashInFieldName", "GET / HTTP/1.1\r\nHost: a\r\nX/Y: z\r\n\r\n",
     ErrorCode::BadHeaderName},
    {"RejectsNonAsciiFieldName",
     "GET / HTTP/1.1\r\nHost: a\r\nX\xc3\xa9: z\r\n\r\n",
     ErrorCode::BadHeaderName},
    // Field values.
    {"RejectsNulInFieldValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s,
     ErrorCode::BadHeaderValue},
    {"RejectsControlCharInFieldValue",
     "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsVerticalTabInFieldValue",
     "GET / HTTP/1.1\r\nHost: a\r\nX: a\x0bz\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsEscInFieldValue",
     "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[0m\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsDelInFieldValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsControlCharDeepInLongValue",
     "GET / HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(100, 'c') + "\x02" +
         std::string(50, 'c') + "\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsObsFold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n  b\r\n\r\n",
     ErrorCode::ObsFold},
    {"RejectsObsFoldWithTab",
     "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", ErrorCode::ObsFold},
    {"RejectsObsFoldAfterRequestLine", "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
     ErrorCode::ObsFold},
    // Host.
    {"RejectsMissingHostInHttp11", "GET / HTTP/1.1\r\n\r\n",
     ErrorCode::MissingHost},
    {"RejectsMissingHostInHttp1x", "GET / HTTP/1.7\r\nX: y\r\n\r\n",
     ErrorCode::MissingHost},
    {"RejectsDuplicateHost", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
     ErrorCode::DuplicateHost},
    {"RejectsDuplicateHostAnyCase",
     "GET / HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n", ErrorCode::DuplicateHost},
    {"RejectsDuplicateHostInHttp10",
     "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", ErrorCode::DuplicateHost},
    {"RejectsHostWithPath", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
     ErrorCode::BadHeaderValue},
    {"RejectsHostWithUserinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
     ErrorCode::BadHeaderValue},
    // Content-Length.
    {"RejectsDuplicateContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: "
     "5\r\n\r\nhello",
     ErrorCode::DuplicateContentLength},
    {"RejectsDifferingContentLengths",
     "POST / HTTP/1.1\r\nHost: a\r\ncontent-length: 5\r\nCONTENT-LENGTH: "
     "6\r\n\r\nhello!",
     ErrorCode::DuplicateContentLength},
    {"RejectsContentLengthList",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello",
     ErrorCode::InvalidContentLength},
    {"RejectsNegativeContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -5\r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsPlusSignedContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello",
     ErrorCode::InvalidContentLength},
    {"RejectsNonNumericContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsHexContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello",
     ErrorCode::InvalidContentLength},
    {"RejectsEmptyContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsSpaceInsideContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsFractionalContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5.0\r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsOverflowingContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
     "18446744073709551616\r\n\r\n",
     ErrorCode::InvalidContentLength},
    {"RejectsAbsurdlyLongContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::string(40, '0') +
         "1\r\n\r\n",
     ErrorCode::InvalidContentLength},
    // Transfer-Encoding.
    {"RejectsContentLengthThenTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: "
     "chunked\r\n\r\n",
     ErrorCode::ClTeConflict},
    {"RejectsTransferEncodingThenContentLength",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Content-Length: 5\r\n\r\n",
     ErrorCode::ClTeConflict},
    {"RejectsTransferEncodingInHttp10",
     "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
     ErrorCode::TransferEncodingInHttp10},
    {"RejectsUnknownTransferCoding",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
     ErrorCode::UnsupportedTransferCoding},
    {"RejectsUnknownCodingBeforeChunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
     ErrorCode::UnsupportedTransferCoding},
    {"RejectsIdentityTransferCoding",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
     ErrorCode::UnsupportedTransferCoding},
    {"RejectsChunkedNotLast",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsChunkedNotLastAcrossFields",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: gzip\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsChunkedTwice",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, "
     "Chunked\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsChunkedTwiceAcrossFields",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
     "Transfer-Encoding: chunked\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsEmptyTransferEncoding",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsTransferEncodingTrailingComma",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsTransferEncodingEmptyElement",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsTransferEncodingWithSpaceInToken",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun ked\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsQuotedTransferCoding",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsParametersOnChunked",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;q=1\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    {"RejectsMalformedCodingParameter",
     "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;=1, "
     "chunked\r\n\r\n",
     ErrorCode::BadTransferEncoding},
    // Limits.
    {"RejectsHeadOverMaxHeadSize", head_of_size(16385),
     ErrorCode::HeadersTooLarge},
    {"RejectsUnfinishedHeadOverMaxHeadSize", head_of_size(16385, false),
     ErrorCode::HeadersTooLarge},
    {"RejectsHeadOverConfiguredSize", head_of_size(101),
     ErrorCode::HeadersTooLarge, HeadLimits{.max_head_size = 100}},
    {"RejectsTooManyLeadingEmptyLines",
     [] {
       std::string s;
       for (int i = 0; i < 8193; ++i) s += "\r\n";
       return s;
     }(),
     ErrorCode::HeadersTooLarge},
    {"RejectsMoreThanMaxHeaders", head_with_fields(101),
     ErrorCode::TooManyHeaders},
    {"RejectsMoreThanConfiguredHeaders", head_with_fields(4),
     ErrorCode::TooManyHeaders, HeadLimits{.max_headers = 3}},
};

class HeadRejects
    : public ::testing::TestWithParam<std::tuple<RejectCase, EntryPoint>> {};

TEST_P(HeadRejects, WithItsCode) {
  const auto& [c, entry] = GetParam();
  const HeadOutcome o = parse_head(entry.fn, c.input, c.limits);
  EXPECT_EQ(o.status, ParseStatus::Error) << o;
  EXPECT_EQ(error_name(o.error), error_name(c.error)) << o;
}

// --- Accepted heads -------------------------------------------------------

struct AcceptCase {
  const char* name;
  std::string input;
  std::string method = "GET";
  std::string target = "/";
  std::string path = "/";
  std::string query = "";
  int version_minor = 1;
  BodyKind body_kind = BodyKind::None;
  uint64_t content_length = 0;
  bool keep_alive = true;
  bool upgrade_websocket = false;
  bool expect_continue = false;
  std::string host = "a";
  // Checked when set.
  std::optional<std::vector<std::pair<std::string, std::string>>> headers = {};
  std::optional<size_t> head_size = {};  // default: the whole input
  HeadLimits limits{};
};

void PrintTo(const AcceptCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<AcceptCase> kAccepts = {
    {.name = "AcceptsMinimalGet",
     .input = "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
     .headers = {{{"Host", "a"}}}},
    {.name = "AcceptsLeadingEmptyLines",
     .input = "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"},
    {.name = "LeadingEmptyLinesDoNotCountAgainstTheLimit",
     .input = "\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
     .limits = {.max_head_size = 27}},
    {.name = "ServesHttp1xAs11",
     .input = "GET / HTTP/1.9\r\nHost: a\r\n\r\n",
     .version_minor = 1},
    {.name = "AcceptsHttp10WithoutHost",
     .input = "GET /x HTTP/1.0\r\n\r\n",
     .target = "/x",
     .path = "/x",
     .version_minor = 0,
     .keep_alive = false,
     .host = ""},
    {.name = "KeepsHttp10AliveOnKeepAliveToken",
     .input = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
     .version_minor = 0,
     .keep_alive = true,
     .host = ""},
    {.name = "ClosesHttp10OnKeepAliveAndClose",
     .input = "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: "
              "close\r\n\r\n",
     .version_minor = 0,
     .keep_alive = false,
     .host = ""},
    {.name = "ClosesHttp11OnConnectionClose",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
     .keep_alive = false},
    {.name = "MatchesConnectionTokensCaseInsensitively",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive , CLOSE "
              "\r\n\r\n",
     .keep_alive = false},
    {.name = "IgnoresEmptyConnectionElements",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, close,\r\n\r\n",
     .keep_alive = false},
    {.name = "DoesNotMatchConnectionTokenPrefixes",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nConnection: closed, "
              "xclose\r\n\r\n",
     .keep_alive = true},
    {.name = "DetectsWebSocketUpgrade",
     .input = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n\r\n",
     .target = "/ws",
     .path = "/ws",
     .upgrade_websocket = true},
    {.name = "DetectsWebSocketInUpgradeList",
     .input = "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, WebSocket\r\n"
              "Connection: keep-alive, upgrade\r\n\r\n",
     .target = "/ws",
     .path = "/ws",
     .upgrade_websocket = true},
    {.name = "CombinesConnectionFields",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n"
              "Upgrade: websocket\r\nconnection: upgrade\r\n\r\n",
     .upgrade_websocket = true},
    {.name = "IgnoresH2cUpgrade",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\n"
              "Connection: Upgrade, HTTP2-Settings\r\n\r\n",
     .upgrade_websocket = false},
    // A handshake attempt all the same: the handshake refuses it (400).
    {.name = "WebSocketUpgradeWithoutConnectionUpgrade",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
     .upgrade_websocket = true},
    {.name = "DetectsExpectContinue",
     .input = "PUT /f HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n"
              "Content-Length: 3\r\n\r\n",
     .method = "PUT",
     .target = "/f",
     .path = "/f",
     .body_kind = BodyKind::ContentLength,
     .content_length = 3,
     .expect_continue = true},
    {.name = "IgnoresOtherExpectations",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n",
     .expect_continue = false},
    {.name = "SplitsQueryFromPath",
     .input = "GET /a/b?x=1&y=?2 HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "/a/b?x=1&y=?2",
     .path = "/a/b",
     .query = "x=1&y=?2"},
    {.name = "KeepsEmptyQuery",
     .input = "GET /a? HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "/a?",
     .path = "/a"},
    {.name = "AcceptsAbsoluteForm",
     .input = "GET http://example.com/p/q?r HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "http://example.com/p/q?r",
     .path = "/p/q",
     .query = "r"},
    {.name = "AcceptsAbsoluteFormWithUpperCaseHttpsScheme",
     .input = "GET HTTPS://example.com:8443/p HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "HTTPS://example.com:8443/p",
     .path = "/p"},
    {.name = "GivesRootPathToAbsoluteFormWithoutPath",
     .input = "GET http://example.com HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "http://example.com",
     .path = "/"},
    {.name = "GivesRootPathToAbsoluteFormWithOnlyQuery",
     .input = "GET http://example.com?x=1 HTTP/1.1\r\nHost: a\r\n\r\n",
     .target = "http://example.com?x=1",
     .path = "/",
     .query = "x=1"},
    {.name = "AcceptsAsteriskFormForOptions",
     .input = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "OPTIONS",
     .target = "*",
     .path = "*"},
    {.name = "AcceptsAnyTokenMethod",
     .input = "M-SEARCH!#$%&'*+.^_`|~09 / HTTP/1.1\r\nHost: a\r\n\r\n",
     .method = "M-SEARCH!#$%&'*+.^_`|~09"},
    {.name = "AcceptsContentLength",
     .input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 42\r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::ContentLength,
     .content_length = 42},
    {.name = "AcceptsContentLengthWithLeadingZeros",
     .input = "POST / HTTP/1.1\r\nHost: a\r\ncontent-LENGTH:  0007 \r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::ContentLength,
     .content_length = 7},
    {.name = "AcceptsMaximalContentLength",
     .input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: "
              "18446744073709551615\r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::ContentLength,
     .content_length = 18446744073709551615ull},
    {.name = "AcceptsContentLengthZero",
     .input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::ContentLength,
     .content_length = 0},
    {.name = "AcceptsChunked",
     .input =
         "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::Chunked},
    {.name = "AcceptsChunkedInAnyCaseWithOws",
     .input = "POST / HTTP/1.1\r\nHost: a\r\nTRANSFER-ENCODING:\t ChUnKeD "
              "\t\r\n\r\n",
     .method = "POST",
     .body_kind = BodyKind::Chunked},
    {.name = "TrimsOwsAroundFieldValues",
     .input = "GET / HTTP/1.1\r\nHost:a\r\nX-A: \t one two \t\r\nX-B:\r\n"
              "X-C:   \r\n\r\n",
     .headers =
         {{{"Host", "a"}, {"X-A", "one two"}, {"X-B", ""}, {"X-C", ""}}}},
    {.name = "KeepsFieldNamesAsSent",
     .input = "GET / HTTP/1.1\r\nhOsT: a\r\nX-MiXeD-case: V\r\n\r\n",
     .headers = {{{"hOsT", "a"}, {"X-MiXeD-case", "V"}}}},
    {.name = "AcceptsObsTextAndTabsInValues",
     .input = "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\t\xff!\r\n\r\n",
     .headers = {{{"Host", "a"}, {"X", "caf\xc3\xa9\t\xff!"}}}},
    {.name = "AcceptsEmptyHost",
     .input = "GET / HTTP/1.1\r\nHost:\r\n\r\n",
     .host = ""},
    {.name = "AcceptsIpv6HostWithPort",
     .input = "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
     .host = "[::1]:8080"},
    {.name = "ReportsHeadSizeWithoutBody",
     .input = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody",
     .method = "POST",
     .body_kind = BodyKind::ContentLength,
     .content_length = 4,
     .head_size = 47},
    {.name = "AcceptsHeadOfExactlyMaxHeadSize", .input = head_of_size(16384)},
    {.name = "AcceptsExactlyMaxHeaders", .input = head_with_fields(100)},
};

class HeadAccepts
    : public ::testing::TestWithParam<std::tuple<AcceptCase, EntryPoint>> {};

TEST_P(HeadAccepts, WithItsFacts) {
  const auto& [c, entry] = GetParam();
  const HeadOutcome o = parse_head(entry.fn, c.input, c.limits);
  ASSERT_EQ(o.status, ParseStatus::Complete) << o;
  EXPECT_EQ(o.method.text, c.method);
  EXPECT_EQ(o.target.text, c.target);
  EXPECT_EQ(o.path.text, c.path);
  EXPECT_EQ(o.query.text, c.query);
  EXPECT_EQ(o.version_minor, c.version_minor);
  EXPECT_EQ(o.body_kind, c.body_kind);
  EXPECT_EQ(o.content_length, c.content_length);
  EXPECT_EQ(o.keep_alive, c.keep_alive);
  EXPECT_EQ(o.upgrade_websocket, c.upgrade_websocket);
  EXPECT_EQ(o.expect_continue, c.expect_continue);
  EXPECT_EQ(o.host.text, c.host);
  EXPECT_EQ(o.head_size, c.head_size.value_or(c.input.size()));
  if (c.headers) {
    std::vector<std::pair<std::string, std::string>> got;
    for (const auto& [name, value] : o.headers) {
      got.emplace_back(name.text, value.text);
    }
    EXPECT_EQ(got, *c.headers);
  }
  // Views point into the caller's buffer (except the static "/" of an
  // absolute-form target without a path).
  EXPECT_GE(o.method.offset, 0);
  EXPECT_GE(o.target.offset, 0);
  for (const auto& [name, value] : o.headers) {
    EXPECT_GE(name.offset, 0);
    EXPECT_GE(value.offset, 0);
  }
}

// --- Incomplete heads -----------------------------------------------------

struct IncompleteCase {
  const char* name;
  std::string input;
};

void PrintTo(const IncompleteCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<IncompleteCase> kIncompletes = {
    {"WaitsOnEmptyInput", ""},
    {"WaitsOnPartialTarget", "GET /hel"},
    {"WaitsOnPartialVersion", "GET /hello HTTP/1."},
    {"WaitsOnCrAfterVersion", "GET / HTTP/1.1\r"},
    {"WaitsOnPartialFieldName", "GET / HTTP/1.1\r\nHo"},
    {"WaitsOnPartialFieldValue", "GET / HTTP/1.1\r\nHost: exam"},
    {"WaitsOnWhitespaceAfterFieldName", "GET / HTTP/1.1\r\nHost  "},
    {"WaitsForEmptyLine", "GET / HTTP/1.1\r\nHost: a\r\n"},
    {"WaitsForLfOfEmptyLine", "GET / HTTP/1.1\r\nHost: a\r\n\r"},
    {"WaitsAfterLeadingEmptyLines", "\r\n\r\n\r"},
    {"WaitsOnHeadOfExactlyMaxHeadSize", head_of_size(16384, false)},
};

class HeadIncomplete
    : public ::testing::TestWithParam<std::tuple<IncompleteCase, EntryPoint>> {
};

TEST_P(HeadIncomplete, IsNotAnError) {
  const auto& [c, entry] = GetParam();
  const HeadOutcome o = parse_head(entry.fn, c.input);
  EXPECT_EQ(o.status, ParseStatus::Incomplete) << o;
}

template <class Case>
std::string case_name(
    const ::testing::TestParamInfo<std::tuple<Case, EntryPoint>>& info) {
  return std::string(std::get<0>(info.param).name) + "_" +
         std::get<1>(info.param).name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, HeadRejects,
    ::testing::Combine(::testing::ValuesIn(kRejects),
                       ::testing::ValuesIn(entry_points())),
    case_name<RejectCase>);
INSTANTIATE_TEST_SUITE_P(
    Table, HeadAccepts,
    ::testing::Combine(::testing::ValuesIn(kAccepts),
                       ::testing::ValuesIn(entry_points())),
    case_name<AcceptCase>);
INSTANTIATE_TEST_SUITE_P(
    Table, HeadIncomplete,
    ::testing::Combine(::testing::ValuesIn(kIncompletes),
                       ::testing::ValuesIn(entry_points())),
    case_name<IncompleteCase>);

// --- Scalar and SIMD agree ------------------------------------------------

// Every entry point gives the scalar parser's outcome for `input`.
void expect_all_agree(std::string_view input, const HeadLimits& limits,
                      const std::string& what) {
  const HeadOutcome scalar =
      parse_head(parse_request_head_scalar, input, limits);
  for (const EntryPoint& e : entry_points()) {
    ASSERT_EQ(parse_head(e.fn, input, limits), scalar)
        << e.name << ", " << what;
  }
}

// Every input of the tables above and of the corpus, every prefix of it, and
// every single-byte mutation of it to a byte the parser treats specially.
TEST(HeadScalarVsSimd, AgreeOnEveryTableInputPrefixAndMutation) {
  std::vector<std::pair<std::string, HeadLimits>> inputs;
  for (const auto& c : kRejects) inputs.emplace_back(c.input, c.limits);
  for (const auto& c : kAccepts) inputs.emplace_back(c.input, c.limits);
  for (const auto& c : kIncompletes) inputs.emplace_back(c.input, HeadLimits{});
  for (const auto& c : valid_corpus()) {
    inputs.emplace_back(c.bytes, HeadLimits{});
  }
  static constexpr char kSpecial[] = {'\0',   '\t',   '\n',   '\r',  ' ', '"',
                                      ',',    ':',    ';',    '?',   '/', 'A',
                                      '\x1f', '\x7f', '\x80', '\xff'};
  size_t checked = 0;
  for (const auto& [input, limits] : inputs) {
    if (input.size() > 4096) {
      expect_all_agree(input, limits, "whole input");
      continue;
    }
    for (size_t n = 0; n <= input.size(); ++n) {
      expect_all_agree(std::string_view(input).substr(0, n), limits,
                       "prefix of " + std::to_string(n) + " bytes");
      ++checked;
    }
    for (size_t i = 0; i < input.size(); ++i) {
      std::string mutated = input;
      for (char c : kSpecial) {
        mutated[i] = c;
        expect_all_agree(mutated, limits,
                         "byte " + std::to_string(i) + " set to " +
                             std::to_string(static_cast<int>(c)));
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 10000u);
}

// The best path this CPU runs, asked of the CPU here rather than of the
// dispatcher under test: a dispatcher stuck on scalar (or on a path the CPU
// lacks) must fail.
std::string_view best_path_the_cpu_reports() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return "avx2";
  if (__builtin_cpu_supports("sse4.2")) return "sse4.2";
#endif
  return "scalar";
}

TEST(HeadParser, ReportsActiveScanner) {
  EXPECT_EQ(active_scanner_name(), best_path_the_cpu_reports());
}

TEST(HeadParser, DefaultEntryPointMatchesSimd) {
  for (const auto& c : valid_corpus()) {
    EXPECT_EQ(parse_head(parse_request_head, c.bytes),
              parse_head(parse_request_head_simd, c.bytes))
        << c.name;
  }
}

// --- Field blocks (trailers) ----------------------------------------------

struct BlockResult {
  ParseResult r;
  size_t count = 0;
  size_t consumed = 0;
};

BlockResult parse_block(std::string_view s, size_t max_size = 1024,
                        size_t max_fields = 8) {
  std::vector<pounce_header_t> storage(max_fields + 1);
  BlockResult b{};
  b.r = parse_field_block(s.data(), s.size(), max_size, max_fields,
                          ErrorCode::TrailersTooLarge, storage.data(), &b.count,
                          &b.consumed);
  return b;
}

TEST(FieldBlock, AcceptsEmptyBlock) {
  const BlockResult b = parse_block("\r\nGET");
  EXPECT_EQ(b.r.status, ParseStatus::Complete);
  EXPECT_EQ(b.count, 0u);
  EXPECT_EQ(b.consumed, 2u);
}

TEST(FieldBlock, AcceptsFields) {
  const BlockResult b = parse_block("A: 1\r\nB:2 \r\n\r\nrest");
  EXPECT_EQ(b.r.status, ParseStatus::Complete);
  EXPECT_EQ(b.count, 2u);
  EXPECT_EQ(b.consumed, 14u);
}

TEST(FieldBlock, WaitsForTheEmptyLine) {
  EXPECT_EQ(parse_block("A: 1\r\n").r.status, ParseStatus::Incomplete);
  EXPECT_EQ(parse_block("").r.status, ParseStatus::Incomplete);
}

TEST(FieldBlock, AppliesFieldRules) {
  EXPECT_EQ(parse_block("A : 1\r\n\r\n").r.error,
            ErrorCode::WhitespaceBeforeColon);
  EXPECT_EQ(parse_block("A: 1\r\n 2\r\n\r\n").r.error, ErrorCode::ObsFold);
  EXPECT_EQ(parse_block("A: 1\n\r\n").r.error, ErrorCode::BadLineEnding);
  EXPECT_EQ(parse_block("A: \x01\r\n\r\n").r.error, ErrorCode::BadHeaderValue);
}

TEST(FieldBlock, ReportsItsTooLargeErrorForSizeAndCount) {
  EXPECT_EQ(parse_block("A: 1234567890\r\n\r\n", 10).r.error,
            ErrorCode::TrailersTooLarge);
  EXPECT_EQ(parse_block("A: 1234567890", 10).r.error,
            ErrorCode::TrailersTooLarge);
  EXPECT_EQ(parse_block("A: 1\r\nB: 2\r\n\r\n", 1024, 1).r.error,
            ErrorCode::TrailersTooLarge);
  EXPECT_EQ(parse_block("A: 1\r\n\r\n", 8).r.status, ParseStatus::Complete);
}

}  // namespace
}  // namespace pounce::http::testing
