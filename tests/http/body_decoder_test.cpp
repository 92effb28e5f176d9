// The body decoder: Content-Length and chunked framing (RFC 9112 §6, §7.1),
// and the chunk rows of ARCHITECTURE.md §4. Every chunked case is decoded in
// one piece and byte by byte, with the same outcome.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "http_test_support.h"

namespace pounce::http::testing {
namespace {

using namespace std::string_literals;

std::vector<size_t> every_byte(size_t n) {
  std::vector<size_t> cuts;
  for (size_t i = 1; i < n; ++i) cuts.push_back(i);
  return cuts;
}

struct ChunkedCase {
  const char* name;
  std::string input;  // the bytes after the head
  DecodeStatus status;
  ErrorCode error = ErrorCode::None;
  std::string body = "";
  std::vector<std::pair<std::string, std::string>> trailers = {};
  BodyLimits limits{};
};

void PrintTo(const ChunkedCase& c, std::ostream* os) {
  *os << c.name;
}

constexpr BodyLimits kNoBodyLimit{.max_body_size = UINT64_MAX};

const std::vector<ChunkedCase> kChunked = {
    // Accepted.
    {"DecodesEmptyBody", "0\r\n\r\n", DecodeStatus::Done},
    {"DecodesChunks", "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
     DecodeStatus::Done, ErrorCode::None, "hello world"},
    {"DecodesHexSizesInAnyCase",
     "a\r\n0123456789\r\nA\r\nabcdefghij\r\n0\r\n\r\n", DecodeStatus::Done,
     ErrorCode::None, "0123456789abcdefghij"},
    {"DecodesSixteenHexDigits", "000000000000000a\r\n0123456789\r\n0\r\n\r\n",
     DecodeStatus::Done, ErrorCode::None, "0123456789"},
    {"DecodesExtensions",
     "3;name\r\nabc\r\n3 ;a=b ; c = d;e\r\ndef\r\n0;end=yes\r\n\r\n",
     DecodeStatus::Done, ErrorCode::None, "abcdef"},
    {"DecodesQuotedExtensionValues",
     "3;q=\"a \\\"quoted\\\" ;value\\\\\"\r\nabc\r\n0;e=\"\"\r\n\r\n",
     DecodeStatus::Done, ErrorCode::None, "abc"},
    {"DecodesBinaryChunkData", "4\r\n\r\n\0\xff\r\n0\r\n\r\n"s,
     DecodeStatus::Done, ErrorCode::None, "\r\n\0\xff"s},
    {"DecodesTrailers",
     "1\r\nx\r\n0\r\nX-Sum: 12 \r\nX-B:\r\n\r\n",
     DecodeStatus::Done,
     ErrorCode::None,
     "x",
     {{"X-Sum", "12"}, {"X-B", ""}}},
    {"AcceptsChunksAtExactlyMaxBodySize",
     "6\r\nhello!\r\n4\r\nabcd\r\n0\r\n\r\n",
     DecodeStatus::Done,
     ErrorCode::None,
     "hello!abcd",
     {},
     BodyLimits{.max_body_size = 10}},
    {"AcceptsChunkLineOfExactlyMaxChunkLine",
     "1;ab\r\nx\r\n0\r\n\r\n",
     DecodeStatus::Done,
     ErrorCode::None,
     "x",
     {},
     BodyLimits{.max_chunk_line = 6}},
    {"WaitsForMoreChunks", "5\r\nhello\r\n", DecodeStatus::NeedMore,
     ErrorCode::None, "hello"},
    {"WaitsForTheEndOfTrailers", "0\r\nX: 1\r\n", DecodeStatus::NeedMore},
    // Chunk size.
    {"RejectsNonHexChunkSize", "g\r\nx\r\n0\r\n\r\n", DecodeStatus::Error,
     ErrorCode::BadChunkSize},
    {"RejectsHexPrefixInChunkSize", "0x5\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsUnderscoreInChunkSize", "1_0\r\n", DecodeStatus::Error,
     ErrorCode::BadChunkSize},
    {"RejectsNegativeChunkSize", "-5\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsPlusSignedChunkSize", "+5\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsWhitespaceBeforeChunkSize", " 5\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsEmptyChunkSize", "\r\nhello\r\n0\r\n\r\n", DecodeStatus::Error,
     ErrorCode::BadChunkSize},
    {"RejectsExtensionWithoutChunkSize", ";a\r\n", DecodeStatus::Error,
     ErrorCode::BadChunkSize},
    {"RejectsSeventeenHexDigits", "00000000000000005\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsOverflowingChunkSize",
     "10000000000000000\r\n",
     DecodeStatus::Error,
     ErrorCode::BadChunkSize,
     "",
     {},
     kNoBodyLimit},
    {"RejectsBareLfAfterChunkSize", "5\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    {"RejectsBareCrAfterChunkSize", "5\rhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    // Chunk extensions.
    {"RejectsWhitespaceAfterChunkSize", "5 \r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsEmptyExtensionName", "5;\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsExtensionWithEmptyValue", "5;a=\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsWhitespaceInsideExtension", "5;a b\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsWhitespaceBeforeLineEnd", "5;a=b \r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsNonTokenExtensionValue", "5;a=b/c\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsUnterminatedQuotedExtension", "5;a=\"b\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsControlCharInExtension", "5;a=\x01\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsNulInQuotedExtension", "5;a=\"\0\"\r\nhello\r\n0\r\n\r\n"s,
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsBareLfAfterExtension", "5;a=b\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    {"RejectsChunkLineOverMaxChunkLine",
     "1;abc\r\nx\r\n0\r\n\r\n",
     DecodeStatus::Error,
     ErrorCode::BadChunkExtension,
     "",
     {},
     BodyLimits{.max_chunk_line = 6}},
    {"RejectsEndlessChunkExtension", "1;a=" + std::string(5000, 'b'),
     DecodeStatus::Error, ErrorCode::BadChunkExtension},
    // Chunk data.
    {"RejectsMissingCrlfAfterChunkData", "5\r\nhelloX\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkData, "hello"},
    {"RejectsBareLfAfterChunkData", "5\r\nhello\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkData, "hello"},
    {"RejectsCrWithoutLfAfterChunkData", "5\r\nhello\r0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkData, "hello"},
    {"RejectsChunkDataLongerThanItsSize", "3\r\nhello\r\n0\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadChunkData, "hel"},
    // Body size.
    {"RejectsChunkOverMaxBodySize",
     "b\r\nhello world\r\n0\r\n\r\n",
     DecodeStatus::Error,
     ErrorCode::BodyTooLarge,
     "",
     {},
     BodyLimits{.max_body_size = 10}},
    {"RejectsChunksSummingOverMaxBodySize",
     "6\r\nhello!\r\n5\r\nworld\r\n0\r\n\r\n",
     DecodeStatus::Error,
     ErrorCode::BodyTooLarge,
     "hello!",
     {},
     BodyLimits{.max_body_size = 10}},
    {"RejectsHugeChunkSizeBeforeItsData", "fffffff\r\n", DecodeStatus::Error,
     ErrorCode::BodyTooLarge},
    {"RejectsHugeChunkSizeWithAnExtension", "fffffff;a=b", DecodeStatus::Error,
     ErrorCode::BodyTooLarge},
    {"OverflowingChunkSizeIsMalformedNotLarge", "fffffffffffffffff",
     DecodeStatus::Error, ErrorCode::BadChunkSize},
    // Trailers.
    {"RejectsWhitespaceBeforeColonInTrailer", "0\r\nX : y\r\n\r\n",
     DecodeStatus::Error, ErrorCode::BadTrailer},
    {"RejectsObsFoldInTrailer", "0\r\nX: y\r\n z\r\n\r\n", DecodeStatus::Error,
     ErrorCode::BadTrailer},
    {"RejectsControlCharInTrailer", "0\r\nX: \x01\r\n\r\n", DecodeStatus::Error,
     ErrorCode::BadTrailer},
    {"RejectsBareLfEndingTrailers", "0\r\n\n", DecodeStatus::Error,
     ErrorCode::BadTrailer},
    {"RejectsTrailersOverMaxTrailerSize",
     "0\r\nX-Long: 12345678901234567890\r\n\r\n",
     DecodeStatus::Error,
     ErrorCode::TrailersTooLarge,
     "",
     {},
     BodyLimits{.max_trailer_size = 16}},
    {"RejectsEndlessTrailers", "0\r\nX: " + std::string(20000, 'y'),
     DecodeStatus::Error, ErrorCode::TrailersTooLarge},
    {"RejectsMoreThanMaxTrailers",
     "0\r\nA: 1\r\nB: 2\r\n\r\n",
     DecodeStatus::Error,
     ErrorCode::TrailersTooLarge,
     "",
     {},
     BodyLimits{.max_trailers = 1}},
};

class Chunked : public ::testing::TestWithParam<ChunkedCase> {};

TEST_P(Chunked, InOnePieceAndByteByByte) {
  const ChunkedCase& c = GetParam();
  const BodyFraming framing{BodyKind::Chunked, 0, c.limits};
  const BodyOutcome whole = decode_pieces(framing, c.input, {});
  EXPECT_EQ(whole.status, c.status) << whole;
  EXPECT_EQ(error_name(whole.error), error_name(c.error)) << whole;
  EXPECT_EQ(whole.body, c.body) << whole;
  EXPECT_EQ(whole.trailers, c.trailers) << whole;
  if (c.status == DecodeStatus::Done) {
    EXPECT_EQ(whole.consumed, c.input.size());
  }
  if (c.input.size() <= 256) {
    const std::vector<size_t> cuts = every_byte(c.input.size());
    EXPECT_EQ(decode_pieces(framing, c.input, cuts), whole);
    EXPECT_EQ(decode_pieces(framing, c.input, cuts, /*in_place=*/true), whole);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Chunked, ::testing::ValuesIn(kChunked),
                         [](const auto& info) { return info.param.name; });

TEST(ContentLengthBody, ConsumesExactlyTheLength) {
  const BodyOutcome o = decode_pieces({BodyKind::ContentLength, 5},
                                      "helloGET / HTTP/1.1\r\n", {});
  EXPECT_EQ(o.status, DecodeStatus::Done);
  EXPECT_EQ(o.body, "hello");
  EXPECT_EQ(o.consumed, 5u);
}

TEST(ContentLengthBody, ProducesPartialDataAtOnce) {
  BodyDecoder dec;
  dec.start_content_length(10);
  char out[4];
  const DecodeResult r = dec.decode("abcd", 4, out);
  EXPECT_EQ(r.status, DecodeStatus::NeedMore);
  EXPECT_EQ(r.consumed, 4u);
  EXPECT_EQ(r.produced, 4u);
  EXPECT_EQ(std::string(out, 4), "abcd");
  EXPECT_EQ(dec.body_bytes(), 4u);
  EXPECT_FALSE(dec.done());
}

TEST(ContentLengthBody, ZeroLengthIsDoneAtOnce) {
  BodyDecoder dec;
  dec.start_content_length(0);
  EXPECT_TRUE(dec.done());
  char out[1];
  const DecodeResult r = dec.decode("x", 1, out);
  EXPECT_EQ(r.status, DecodeStatus::Done);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(ContentLengthBody, SurvivesEveryByteSplit) {
  const std::string body(300, 'q');
  EXPECT_EQ(decode_pieces({BodyKind::ContentLength, 300}, body + "next",
                          every_byte(304)),
            decode_pieces({BodyKind::ContentLength, 300}, body + "next", {}));
}

TEST(BodyDecoder, ConsumesNothingAfterDone) {
  BodyDecoder dec;
  pounce_header_t trailers[4];
  dec.start_chunked(BodyLimits{}, trailers);
  const std::string in = "1\r\nx\r\n0\r\n\r\nGET";
  std::string out(in.size(), '\0');
  const DecodeResult first = dec.decode(in.data(), in.size(), out.data());
  EXPECT_EQ(first.status, DecodeStatus::Done);
  EXPECT_EQ(first.consumed, in.size() - 3);
  EXPECT_TRUE(dec.done());
  EXPECT_EQ(dec.body_bytes(), 1u);
  const DecodeResult again = dec.decode(in.data(), in.size(), out.data());
  EXPECT_EQ(again.status, DecodeStatus::Done);
  EXPECT_EQ(again.consumed, 0u);
  EXPECT_EQ(again.produced, 0u);
}

TEST(BodyDecoder, StaysFailedAfterAnError) {
  BodyDecoder dec;
  dec.start_chunked(BodyLimits{}, nullptr);
  char out[8];
  EXPECT_EQ(dec.decode("x\r\n", 3, out).error, ErrorCode::BadChunkSize);
  const DecodeResult again = dec.decode("0\r\n\r\n", 5, out);
  EXPECT_EQ(again.status, DecodeStatus::Error);
  EXPECT_EQ(again.error, ErrorCode::BadChunkSize);
  EXPECT_EQ(again.consumed, 0u);
}

TEST(BodyDecoder, KeepsAnIncompleteChunkLineUnconsumed) {
  BodyDecoder dec;
  dec.start_chunked(BodyLimits{}, nullptr);
  char out[16];
  const DecodeResult r = dec.decode("3\r\nabc\r\n1f;x", 12, out);
  EXPECT_EQ(r.status, DecodeStatus::NeedMore);
  EXPECT_EQ(r.consumed, 8u);
  EXPECT_EQ(r.produced, 3u);
}

TEST(BodyDecoder, CompactsInPlace) {
  std::string buf = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
  BodyDecoder dec;
  dec.start_chunked(BodyLimits{}, nullptr);
  const DecodeResult r = dec.decode(buf.data(), buf.size(), buf.data());
  EXPECT_EQ(r.status, DecodeStatus::Done);
  EXPECT_EQ(buf.substr(0, r.produced), "hello world");
}

}  // namespace
}  // namespace pounce::http::testing
