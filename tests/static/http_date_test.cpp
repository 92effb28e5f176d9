#include "static/http_date.h"

#include <gtest/gtest.h>

#include <string>

using namespace pounce::static_files;

namespace {

std::string fmt(int64_t t) {
  char buf[kHttpDateLen];
  format_http_date(t, buf);
  return std::string(buf, kHttpDateLen);
}

}  // namespace

// RFC 9110 §5.6.7's example, in each of the three formats.
TEST(HttpDate, TheThreeFormatsOfTheRfcExample) {
  constexpr int64_t t = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  EXPECT_EQ(fmt(t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), t);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), t);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), t);
  EXPECT_EQ(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t"), t);
}

TEST(HttpDate, FormatRoundTripsAcrossYearsAndLeapDays) {
  for (int64_t t : {int64_t{0}, int64_t{951782400} /* 2000-02-29 */,
                    int64_t{1709164800} /* 2024-02-29 */,
                    int64_t{4102444799} /* 2099-12-31 23:59:59 */}) {
    EXPECT_EQ(parse_http_date(fmt(t)), t) << fmt(t);
  }
  EXPECT_EQ(fmt(0), "Thu, 01 Jan 1970 00:00:00 GMT");
}

TEST(HttpDate, RFC850TwoDigitYears) {
  EXPECT_EQ(parse_http_date("Thursday, 01-Jan-70 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Saturday, 01-Jan-00 00:00:00 GMT"), 946684800);
}

// Whatever is not exactly one of the formats is no date: the conditional
// that carries it is ignored.
TEST(HttpDate, MalformedDatesAreRejected) {
  for (const char* bad : {
           "",
           "yesterday",
           "Sun, 06 Nov 1994 08:49:37",           // no GMT
           "Sun, 06 Nov 1994 08:49:37 UTC",       // not GMT
           "sun, 06 Nov 1994 08:49:37 GMT",       // case
           "Sun, 6 Nov 1994 08:49:37 GMT",        // one digit
           "Sun, 06 Nov 94 08:49:37 GMT",         // 2-digit year
           "Mon, 06 Nov 1994 08:49:37 GMT",       // wrong weekday
           "Sun, 31 Nov 1994 08:49:37 GMT",       // no Nov 31
           "Tue, 29 Feb 2100 00:00:00 GMT",       // not a leap year
           "Sun, 06 Nov 1994 24:00:00 GMT",       // hour 24
           "Sun, 06 Nov 1994 08:49:37 GMT junk",  // trailing
           "Sun, 06 Nov 1994 08:49:37 GMT, Sun, 06 Nov 1994 08:49:37 GMT",
           "1994-11-06T08:49:37Z",
       }) {
    EXPECT_FALSE(parse_http_date(bad).has_value()) << bad;
  }
}
