// When compression is skipped, and the weak ETag of a compressed response
// (ARCHITECTURE.md §4, §5).
#include "pipeline/content_type_rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pounce::pipeline {
namespace {

struct TypeCase {
  const char* name;
  std::string_view content_type;
  bool compressible;
};

void PrintTo(const TypeCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<TypeCase> kTypes = {
    // Text and structured data: compressed.
    {"Html", "text/html", true},
    {"HtmlWithCharset", "text/html; charset=utf-8", true},
    {"UpperCaseHtml", "TEXT/HTML;Charset=UTF-8", true},
    {"PlainText", "text/plain", true},
    {"Css", "text/css", true},
    {"EventStream", "text/event-stream", true},
    {"Json", "application/json", true},
    {"ProblemJson", "application/problem+json", true},
    {"JavaScript", "application/javascript", true},
    {"Xml", "application/xml", true},
    {"Wasm", "application/wasm", true},
    {"NdJson", "application/x-ndjson", true},
    {"Svg", "image/svg+xml", true},
    {"SvgUpperCase", "Image/SVG+XML; charset=utf-8", true},
    {"TrueTypeFont", "font/ttf", true},
    {"MultipartFormData", "multipart/form-data; boundary=x", true},
    {"UnknownTextType", "text/x-whatever", true},
    {"LeadingWhitespace", "  text/html", true},
    {"WhitespaceBeforeParameters", "text/html ; charset=utf-8", true},
    // Already compressed: skipped.
    {"Png", "image/png", false},
    {"Jpeg", "image/jpeg", false},
    {"Webp", "IMAGE/WEBP", false},
    {"SvgLookalike", "image/svg", false},
    {"Mp4", "video/mp4", false},
    {"Mp3", "audio/mpeg", false},
    {"Zip", "application/zip", false},
    {"Gzip", "application/gzip", false},
    {"XGzip", "application/x-gzip", false},
    {"Zstd", "application/zstd", false},
    {"Bzip2", "application/x-bzip2", false},
    {"Xz", "application/x-xz", false},
    {"SevenZip", "application/x-7z-compressed", false},
    {"Rar", "application/x-rar-compressed", false},
    {"VndRar", "application/vnd.rar", false},
    {"Brotli", "application/x-brotli", false},
    {"Pdf", "application/pdf", false},
    {"PdfWithParameter", "application/PDF; version=1.7", false},
    {"Woff", "font/woff", false},
    {"Woff2", "font/woff2", false},
    {"LegacyWoff2", "application/font-woff2", false},
    {"Jar", "application/java-archive", false},
    {"Docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
     false},
    {"Odt", "application/vnd.oasis.opendocument.text", false},
    {"EpubZipSuffix", "application/epub+zip", false},
    {"GzipSuffix", "application/tlsrpt+gzip", false},
    {"Ogg", "application/ogg", false},
    {"ByteRanges", "multipart/byteranges; boundary=x", false},
    // Unknown bytes: skipped (see content_type_rules.cpp).
    {"OctetStream", "application/octet-stream", false},
    {"NoContentType", "", false},
    {"OnlyParameters", "; charset=utf-8", false},
    {"NoSubtype", "text/", false},
    {"NoSlash", "html", false},
    {"NoType", "/html", false},
};

class ContentType : public ::testing::TestWithParam<TypeCase> {};

TEST_P(ContentType, Table) {
  EXPECT_EQ(is_compressible_type(GetParam().content_type),
            GetParam().compressible);
}

INSTANTIATE_TEST_SUITE_P(Table, ContentType, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return info.param.name; });

constexpr uint64_t kMinSize = 500;
constexpr uint64_t kUnknown = ResponseFacts::kUnknownLength;

struct DecisionCase {
  const char* name;
  ResponseFacts facts;
  CompressDecision expected;
  bool vary;
};

void PrintTo(const DecisionCase& c, std::ostream* os) {
  *os << c.name;
}

ResponseFacts html(uint64_t length) {
  ResponseFacts r;
  r.content_type = "text/html";
  r.content_length = length;
  return r;
}

ResponseFacts with_status(ResponseFacts r, int status) {
  r.status = status;
  return r;
}

ResponseFacts encoded(ResponseFacts r) {
  r.has_content_encoding = true;
  return r;
}

ResponseFacts typed(ResponseFacts r, std::string_view type) {
  r.content_type = type;
  return r;
}

const std::vector<DecisionCase> kDecisions = {
    {"CompressesLargeHtml", html(10000), CompressDecision::Compress, true},
    {"CompressesAtExactlyMinSize", html(500), CompressDecision::Compress, true},
    {"SkipsJustBelowMinSize", html(499), CompressDecision::SkipSmall, false},
    {"SkipsEmptyBody", html(0), CompressDecision::SkipSmall, false},
    {"CompressesStreamOfUnknownLength", html(kUnknown),
     CompressDecision::Compress, true},
    {"CompressesNotFound", with_status(html(10000), 404),
     CompressDecision::Compress, true},
    {"CompressesServerError", with_status(html(10000), 500),
     CompressDecision::Compress, true},
    {"SkipsContinue", with_status(html(10000), 100),
     CompressDecision::SkipStatus, false},
    {"SkipsSwitchingProtocols", with_status(html(kUnknown), 101),
     CompressDecision::SkipStatus, false},
    {"SkipsNoContent", with_status(html(10000), 204),
     CompressDecision::SkipStatus, false},
    {"SkipsResetContent", with_status(html(10000), 205),
     CompressDecision::SkipStatus, false},
    {"SkipsPartialContent", with_status(html(10000), 206),
     CompressDecision::SkipStatus, false},
    // A 304 is decided as its 200, of unknown length (RFC 9110 §15.4.5).
    {"NotModifiedMirrorsACompressed200", with_status(html(10000), 304),
     CompressDecision::NotModified, true},
    {"NotModifiedOfUnknownSizeMirrorsACompressed200",
     with_status(html(10), 304), CompressDecision::NotModified, true},
    {"NotModifiedWithoutContentTypeIsNotCompressed",
     with_status(typed(html(10000), ""), 304),
     CompressDecision::SkipContentType, false},
    {"NotModifiedOfPngIsNotCompressed",
     with_status(typed(html(10000), "image/png"), 304),
     CompressDecision::SkipContentType, false},
    {"NotModifiedAlreadyEncodedIsNotCompressed",
     with_status(encoded(html(10000)), 304), CompressDecision::SkipEncoded,
     false},
    {"SkipsExistingContentEncoding", encoded(html(10000)),
     CompressDecision::SkipEncoded, false},
    {"SkipsPng", typed(html(10000), "image/png"),
     CompressDecision::SkipContentType, false},
    {"SkipsOctetStream", typed(html(10000), "application/octet-stream"),
     CompressDecision::SkipContentType, false},
    {"SkipsMissingContentType", typed(html(10000), ""),
     CompressDecision::SkipContentType, false},
};

class Decision : public ::testing::TestWithParam<DecisionCase> {};

TEST_P(Decision, Table) {
  const DecisionCase& c = GetParam();
  const CompressDecision d = decide_compression(c.facts, kMinSize);
  EXPECT_EQ(d, c.expected);
  EXPECT_EQ(varies_on_accept_encoding(d), c.vary);
}

INSTANTIATE_TEST_SUITE_P(Table, Decision, ::testing::ValuesIn(kDecisions),
                         [](const auto& info) { return info.param.name; });

TEST(Decision, MinSizeZeroCompressesEmptyBodies) {
  EXPECT_EQ(decide_compression(html(0), 0), CompressDecision::Compress);
}

struct EtagCase {
  const char* name;
  std::string_view etag;
  std::string_view weak;
};

void PrintTo(const EtagCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<EtagCase> kEtags = {
    {"StrongBecomesWeak", "\"abc\"", "W/\"abc\""},
    {"EmptyStrongBecomesWeak", "\"\"", "W/\"\""},
    {"WeakStaysWeak", "W/\"abc\"", "W/\"abc\""},
    // The weak indicator is case-sensitive (RFC 9110 §8.8.3).
    {"LowerCaseWIsNotWeak", "w/\"abc\"", "W/w/\"abc\""},
    {"UnquotedGetsPrefixToo", "abc", "W/abc"},
};

class WeakEtag : public ::testing::TestWithParam<EtagCase> {};

TEST_P(WeakEtag, Table) {
  ByteBuffer out;
  out.append("ETag: ");
  append_weak_etag(GetParam().etag, out);
  EXPECT_EQ(out.view(), "ETag: " + std::string(GetParam().weak));
  EXPECT_TRUE(is_weak_etag(GetParam().weak));
}

INSTANTIATE_TEST_SUITE_P(Table, WeakEtag, ::testing::ValuesIn(kEtags),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace pounce::pipeline
