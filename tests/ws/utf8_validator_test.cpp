// The incremental UTF-8 validator against RFC 3629 §4, including where it
// fails: at the first byte that cannot continue a valid sequence.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ws/utf8_validator.h"

namespace pounce::ws {
namespace {

using namespace std::string_literals;

struct Utf8Case {
  const char* name;
  std::string input;
  // The index of the byte at which feeding fails, or -1 when every byte
  // is accepted. `complete`: no sequence is left open at the end.
  int fails_at;
  bool complete;
};

void PrintTo(const Utf8Case& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<Utf8Case> kCases = {
    {"Empty", "", -1, true},
    {"Ascii", "Hello, World!", -1, true},
    {"AsciiWithNul", "a\0b"s, -1, true},
    {"LongAscii", std::string(1000, 'a'), -1, true},
    {"U0080", "\xc2\x80", -1, true},
    {"U07FF", "\xdf\xbf", -1, true},
    {"U0800", "\xe0\xa0\x80", -1, true},
    {"UD7FF", "\xed\x9f\xbf", -1, true},
    {"UE000", "\xee\x80\x80", -1, true},
    {"UFFFF", "\xef\xbf\xbf", -1, true},
    {"U10000", "\xf0\x90\x80\x80", -1, true},
    {"U10FFFF", "\xf4\x8f\xbf\xbf", -1, true},
    {"MixedAfterLongAscii", std::string(40, 'a') + "\xce\xba\xe1\xbd\xb9", -1,
     true},
    {"Rfc3629Example", "\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4", -1, true},
    // Open at the end: not an error until the text must end.
    {"TruncatedTwoByte", "a\xc2", -1, false},
    {"TruncatedThreeByte", "\xe2\x82", -1, false},
    {"TruncatedFourByte", "\xf0\x9f\x98", -1, false},
    // Stray and impossible bytes.
    {"StrayContinuation", "a\x80", 1, false},
    {"StrayContinuationBF", "\xbf", 0, false},
    {"LeadC0", "\xc0\x80", 0, false},
    {"LeadC1", "\xc1\xbf", 0, false},
    {"LeadF5", "\xf5\x80\x80\x80", 0, false},
    {"LeadFF", "\xff", 0, false},
    {"LeadFE", "\xfe", 0, false},
    // Overlongs, caught at the first continuation byte.
    {"OverlongThreeByteNul", "\xe0\x80\x80", 1, false},
    {"OverlongThreeByteMax", "\xe0\x9f\xbf", 1, false},
    {"OverlongFourByte", "\xf0\x8f\xbf\xbf", 1, false},
    // Surrogates (U+D800..U+DFFF).
    {"SurrogateD800", "\xed\xa0\x80", 1, false},
    {"SurrogateDFFF", "\xed\xbf\xbf", 1, false},
    {"SurrogatePair", "\xed\xa0\xbd\xed\xb2\xa9", 1, false},
    // Above U+10FFFF.
    {"U110000", "\xf4\x90\x80\x80", 1, false},
    {"F7Lead", "\xf7\xbf\xbf\xbf", 0, false},
    // A lead byte where a continuation must be.
    {"MissingContinuation", "\xe2\x28\xa1", 1, false},
    {"NewLeadInsideSequence", "\xf0\x9f\xc3\xa9", 2, false},
    {"AsciiInsideSequence",
     "\xc3"
     "a",
     1, false},
    // Autobahn 6.3.1: valid up to the byte after "κόσμε".
    {"AutobahnInvalidAfterValid",
     "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69"
     "\x74\x65\x64",
     12, false},
};

class Utf8 : public ::testing::TestWithParam<Utf8Case> {};

// Whole input at once: the verdict.
TEST_P(Utf8, WholeInputVerdict) {
  const Utf8Case& c = GetParam();
  Utf8Validator v;
  EXPECT_EQ(v.feed(c.input), c.fails_at < 0);
  EXPECT_EQ(v.complete(), c.complete);
  EXPECT_EQ(is_valid_utf8(c.input), c.fails_at < 0 && c.complete);
}

// Byte by byte: it fails exactly at the first invalid byte, and stays
// failed afterwards.
TEST_P(Utf8, FailsAtTheFirstInvalidByte) {
  const Utf8Case& c = GetParam();
  Utf8Validator v;
  int failed_at = -1;
  for (size_t i = 0; i < c.input.size(); ++i) {
    if (!v.feed(std::string_view(c.input).substr(i, 1))) {
      failed_at = static_cast<int>(i);
      break;
    }
  }
  EXPECT_EQ(failed_at, c.fails_at);
  if (failed_at >= 0) {
    EXPECT_FALSE(v.feed("a"));
    EXPECT_TRUE(v.failed());
  }
  EXPECT_EQ(v.complete(), c.complete);
}

// Every split into two pieces gives the whole-input verdict.
TEST_P(Utf8, AnySplitGivesTheSameVerdict) {
  const Utf8Case& c = GetParam();
  for (size_t cut = 0; cut <= c.input.size(); ++cut) {
    Utf8Validator v;
    const std::string_view s(c.input);
    const bool ok = v.feed(s.substr(0, cut)) && v.feed(s.substr(cut));
    EXPECT_EQ(ok, c.fails_at < 0) << "cut at " << cut;
    EXPECT_EQ(v.complete(), c.complete) << "cut at " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, Utf8, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Utf8Case>& info) {
                           return std::string(info.param.name);
                         });

TEST(Utf8Validator, ResetClearsAFailure) {
  Utf8Validator v;
  EXPECT_FALSE(v.feed("\xff"));
  v.reset();
  EXPECT_TRUE(v.feed("ok"));
  EXPECT_TRUE(v.complete());
}

// Every code point, encoded by hand, is accepted; every surrogate refused.
TEST(Utf8Validator, AcceptsEveryScalarValueAndNoSurrogate) {
  auto encode = [](uint32_t cp) {
    std::string s;
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | cp >> 6);
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | cp >> 12);
      s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | cp >> 18);
      s += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
      s += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
    return s;
  };
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
    ASSERT_EQ(is_valid_utf8(encode(cp)), !surrogate) << std::hex << cp;
  }
}

}  // namespace
}  // namespace pounce::ws
