// Accept-Encoding negotiation (RFC 9110 §12.5.3, ARCHITECTURE.md §5).
#include "pipeline/accept_encoding.h"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

namespace pounce::pipeline {
namespace {

struct NegotiationCase {
  const char* name;
  std::vector<std::string_view> lines;  // one entry per Accept-Encoding line
  Coding expected;
  CodingSet available = kAllCodings;
};

void PrintTo(const NegotiationCase& c, std::ostream* os) {
  *os << c.name;
}

constexpr Coding kId = Coding::Identity;
constexpr Coding kGzip = Coding::Gzip;
constexpr Coding kZstd = Coding::Zstd;
constexpr CodingSet kNoZstd = kAllCodings & ~coding_bit(Coding::Zstd);

const std::vector<NegotiationCase> kNegotiation = {
    // Basics.
    {"AbsentHeaderIsIdentity", {}, kId},
    {"EmptyValueIsIdentity", {""}, kId},
    {"OnlyWhitespaceIsIdentity", {"  \t "}, kId},
    {"OnlyCommasIsIdentity", {" , ,, "}, kId},
    {"Gzip", {"gzip"}, kGzip},
    {"Zstd", {"zstd"}, kZstd},
    {"PrefersZstdOverGzipAtEqualWeight", {"gzip, zstd"}, kZstd},
    {"PrefersZstdWhateverTheOrder", {"zstd, gzip"}, kZstd},
    {"BrowserDefault", {"gzip, deflate, br, zstd"}, kZstd},
    {"BrowserWithoutZstd", {"gzip, deflate, br"}, kGzip},
    {"UnknownCodingsOnlyIsIdentity", {"br, deflate, compress"}, kId},
    {"IdentityOnly", {"identity"}, kId},
    // Case and aliases.
    {"CodingIsCaseInsensitive", {"GZIP"}, kGzip},
    {"MixedCaseZstd", {"ZsTd"}, kZstd},
    {"XGzipIsGzip", {"x-gzip"}, kGzip},
    {"UpperCaseXGzipIsGzip", {"X-GZIP"}, kGzip},
    {"XGzipRefusalRefusesGzip", {"gzip, x-gzip;q=0"}, kId},
    {"UpperCaseQParameter", {"zstd;Q=0, gzip"}, kGzip},
    // Weights.
    {"ZeroWeightExcludesZstd", {"zstd;q=0, gzip"}, kGzip},
    {"ZeroWeightWithDecimalsExcludes", {"zstd;q=0.000, gzip"}, kGzip},
    {"HigherWeightWins", {"gzip;q=0.5, zstd;q=0.4"}, kGzip},
    {"HigherWeightWinsByOneThousandth", {"zstd;q=0.998, gzip;q=0.999"}, kGzip},
    {"TieGoesToZstd", {"gzip;q=0.5, zstd;q=0.5"}, kZstd},
    {"TieAtOneGoesToZstd", {"gzip;q=1.000, zstd;q=1"}, kZstd},
    {"TieWithIdentityGoesToCoding", {"identity;q=0.5, gzip;q=0.5"}, kGzip},
    {"IdentityPreferredWhenWeightedHigher", {"identity, gzip;q=0.5"}, kId},
    {"UnnamedIdentityNeverPreferred", {"gzip;q=0.001"}, kGzip},
    {"AllCodingsRefusedIsIdentity", {"gzip;q=0, zstd;q=0"}, kId},
    {"TrailingDotQValue", {"gzip;q=1., zstd;q=0."}, kGzip},
    // Wildcard.
    {"StarAcceptsZstd", {"*"}, kZstd},
    {"StarWithWeightAcceptsZstd", {"*;q=0.3"}, kZstd},
    {"StarZeroIsIdentity", {"*;q=0"}, kId},
    {"StarZeroKeepsNamedCoding", {"gzip, *;q=0"}, kGzip},
    {"StarDoesNotOverrideNamedRefusal", {"zstd;q=0, *"}, kGzip},
    {"StarLowerThanNamedGzip", {"*;q=0.2, gzip;q=0.8"}, kGzip},
    {"StarHigherThanNamedGzip", {"*;q=0.9, gzip;q=0.8"}, kZstd},
    {"StarGivesIdentityItsWeight", {"*;q=0.5, identity"}, kId},
    {"StarWithNamedIdentityZero", {"identity;q=0, *"}, kZstd},
    // Identity refusals: we never answer 406.
    {"IdentityRefusedAloneStillIdentity", {"identity;q=0"}, kId},
    {"IdentityRefusedWithGzip", {"identity;q=0, gzip"}, kGzip},
    {"EverythingRefusedStillIdentity", {"*;q=0, identity;q=0"}, kId},
    // Malformed weights refuse their coding.
    {"QAboveOneRefuses", {"zstd;q=1.5, gzip"}, kGzip},
    {"OnePointOneRefuses", {"zstd;q=1.001, gzip"}, kGzip},
    {"FourDecimalsRefuses", {"zstd;q=0.1234, gzip"}, kGzip},
    {"LeadingDotRefuses", {"zstd;q=.5, gzip"}, kGzip},
    {"EmptyQRefuses", {"zstd;q=, gzip"}, kGzip},
    {"NegativeQRefuses", {"zstd;q=-1, gzip"}, kGzip},
    {"LetterQRefuses", {"zstd;q=abc, gzip"}, kGzip},
    {"QuotedQRefuses", {"zstd;q=\"1\", gzip"}, kGzip},
    {"SpaceAroundEqualsRefuses", {"zstd;q = 1, gzip"}, kGzip},
    {"BareSemicolonRefuses", {"zstd;, gzip"}, kGzip},
    {"JunkAfterCodingRefuses", {"zstd foo, gzip"}, kGzip},
    {"MalformedStarRefusesUnnamed", {"*;q=2, gzip"}, kGzip},
    {"MalformedOnlyCodingIsIdentity", {"gzip;q=x"}, kId},
    {"ElementWithoutCodingIsIgnored", {";q=1, gzip"}, kGzip},
    {"CommaInQuotedParameterStaysInElement", {"zstd;x=\"a,gzip\", br"}, kZstd},
    {"UnterminatedQuoteRefuses", {"gzip, zstd;x=\"abc"}, kGzip},
    // Other parameters are skipped.
    {"UnknownParameterIgnored", {"zstd;level=5, gzip;q=0.5"}, kZstd},
    {"UnknownParameterBeforeQ", {"zstd;x=1;q=0.1, gzip;q=0.5"}, kGzip},
    // Duplicates: the lowest weight sticks.
    {"DuplicateRefusalSticks", {"zstd, gzip, zstd;q=0"}, kGzip},
    {"DuplicateLowerWeightSticks", {"zstd;q=1, gzip;q=0.5, zstd;q=0.1"}, kGzip},
    // Whitespace.
    {"SpacesAroundSemicolon", {"zstd ; q=0 , gzip"}, kGzip},
    {"TabsAroundElements", {"\tgzip\t,\tzstd;q=0\t"}, kGzip},
    {"NoSpaceAfterComma", {"zstd;q=0,gzip"}, kGzip},
    {"EmptyElements", {",,gzip,,"}, kGzip},
    {"LeadingAndTrailingSpaces", {"   zstd   "}, kZstd},
    // Several header lines are one list.
    {"SeveralLinesCombine", {"gzip", "zstd"}, kZstd},
    {"RefusalOnSecondLine", {"zstd, gzip", "zstd;q=0"}, kGzip},
    {"EmptyFirstLineThenGzip", {"", "gzip"}, kGzip},
    {"StarOnOtherLine", {"zstd;q=0", "*"}, kGzip},
    // The server's own limits.
    {"ZstdUnavailableFallsBackToGzip", {"zstd, gzip"}, kGzip, kNoZstd},
    {"ZstdUnavailableOnlyZstdIsIdentity", {"zstd"}, kId, kNoZstd},
    {"StarWithZstdUnavailableIsGzip", {"*"}, kGzip, kNoZstd},
    {"NothingAvailableIsIdentity",
     {"gzip, zstd"},
     kId,
     coding_bit(Coding::Identity)},
};

class Negotiation : public ::testing::TestWithParam<NegotiationCase> {};

TEST_P(Negotiation, Table) {
  const NegotiationCase& c = GetParam();
  EXPECT_EQ(negotiate_encoding(c.lines, c.available), c.expected);

  // The same through the header array the head parser fills, with other
  // fields around and the name in another case.
  std::vector<pounce_header_t> headers;
  headers.push_back({POUNCE_STR("Host"), POUNCE_STR("example.com")});
  for (std::string_view v : c.lines) {
    headers.push_back({POUNCE_STR("accept-Encoding"), {v.data(), v.size()}});
    headers.push_back({POUNCE_STR("Accept"), POUNCE_STR("gzip")});
  }
  EXPECT_EQ(negotiate_encoding(headers.data(), headers.size(), c.available),
            c.expected);
}

INSTANTIATE_TEST_SUITE_P(Table, Negotiation, ::testing::ValuesIn(kNegotiation),
                         [](const auto& info) { return info.param.name; });

struct QValueCase {
  const char* name;
  std::string_view text;
  int thousandths;  // -1: malformed
};

void PrintTo(const QValueCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<QValueCase> kQValues = {
    {"Zero", "0", 0},
    {"ZeroDot", "0.", 0},
    {"OneDecimal", "0.5", 500},
    {"TwoDecimals", "0.25", 250},
    {"ThreeDecimals", "0.125", 125},
    {"SmallestPositive", "0.001", 1},
    {"One", "1", 1000},
    {"OneDot", "1.", 1000},
    {"OnePointZeroZeroZero", "1.000", 1000},
    {"Empty", "", -1},
    {"Two", "2", -1},
    {"OneAndABit", "1.001", -1},
    {"FourDecimals", "0.0000", -1},
    {"LeadingDot", ".5", -1},
    {"LeadingZeroTwice", "00.5", -1},
    {"Comma", "0,5", -1},
    {"Sign", "+1", -1},
    {"Exponent", "1e0", -1},
    {"TrailingLetter", "0.5a", -1},
};

class QValue : public ::testing::TestWithParam<QValueCase> {};

TEST_P(QValue, Table) {
  EXPECT_EQ(parse_qvalue(GetParam().text), GetParam().thousandths);
}

INSTANTIATE_TEST_SUITE_P(Table, QValue, ::testing::ValuesIn(kQValues),
                         [](const auto& info) { return info.param.name; });

TEST(AcceptEncoding, RecordsWeightsInThousandths) {
  AcceptEncoding ae;
  ae.add("gzip;q=0.5, identity;q=0.25, *;q=0.1");
  EXPECT_TRUE(ae.present());
  EXPECT_EQ(ae.weight_gzip(), 500);
  EXPECT_EQ(ae.weight_identity(), 250);
  EXPECT_EQ(ae.weight_any(), 100);
  EXPECT_EQ(ae.weight_zstd(), AcceptEncoding::kUnlisted);
}

TEST(AcceptEncoding, NotPresentUntilAdded) {
  AcceptEncoding ae;
  EXPECT_FALSE(ae.present());
  EXPECT_EQ(ae.choose(), Coding::Identity);
  ae.add("");
  EXPECT_TRUE(ae.present());
}

TEST(AcceptEncoding, NamesTheContentEncodingTokens) {
  EXPECT_EQ(coding_name(Coding::Zstd), "zstd");
  EXPECT_EQ(coding_name(Coding::Gzip), "gzip");
  EXPECT_EQ(coding_name(Coding::Identity), "identity");
}

TEST(AcceptEncoding, IgnoresOtherHeadersThatStartAlike) {
  const pounce_header_t headers[] = {
      {POUNCE_STR("Accept-Encodings"), POUNCE_STR("zstd")},
      {POUNCE_STR("Accept-Encodin"), POUNCE_STR("zstd")},
      {POUNCE_STR("Accept-Encoding"), POUNCE_STR("gzip")},
  };
  EXPECT_EQ(negotiate_encoding(headers, 3), Coding::Gzip);
}

}  // namespace
}  // namespace pounce::pipeline
