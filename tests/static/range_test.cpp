#include "static/range.h"

#include <gtest/gtest.h>

#include <string>

using namespace pounce::static_files;

TEST(Range, SingleRanges) {
  RangeSet r = parse_range("bytes=0-9", 100);
  ASSERT_EQ(r.outcome, RangeOutcome::Single);
  EXPECT_EQ(r.ranges[0].first, 0u);
  EXPECT_EQ(r.ranges[0].length, 10u);
  r = parse_range("bytes=90-", 100);
  ASSERT_EQ(r.outcome, RangeOutcome::Single);
  EXPECT_EQ(r.ranges[0].first, 90u);
  EXPECT_EQ(r.ranges[0].length, 10u);
  r = parse_range("bytes=-5", 100);
  ASSERT_EQ(r.outcome, RangeOutcome::Single);
  EXPECT_EQ(r.ranges[0].first, 95u);
  EXPECT_EQ(r.ranges[0].length, 5u);
  // Clamped to the end, and a suffix longer than the file is the file.
  r = parse_range("bytes=50-1000", 100);
  EXPECT_EQ(r.ranges[0].length, 50u);
  r = parse_range("bytes=-1000", 100);
  EXPECT_EQ(r.ranges[0].first, 0u);
  EXPECT_EQ(r.ranges[0].length, 100u);
  // Case-insensitive unit, whitespace around commas.
  EXPECT_EQ(parse_range("Bytes=0-0", 100).outcome, RangeOutcome::Single);
  EXPECT_EQ(parse_range("bytes= 0-0 ,", 100).outcome, RangeOutcome::Single);
}

TEST(Range, Unsatisfiable) {
  EXPECT_EQ(parse_range("bytes=-0", 100).outcome, RangeOutcome::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=100-", 100).outcome,
            RangeOutcome::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=99999999999999999999999-", 100).outcome,
            RangeOutcome::Unsatisfiable);
  EXPECT_EQ(parse_range("bytes=18446744073709551615-18446744073709551615", 100)
                .outcome,
            RangeOutcome::Unsatisfiable);
  // One satisfiable range among unsatisfiable ones is served.
  RangeSet r = parse_range("bytes=200-300,0-0", 100);
  ASSERT_EQ(r.outcome, RangeOutcome::Single);
  EXPECT_EQ(r.ranges[0].first, 0u);
}

TEST(Range, IgnoredFieldsServeTheWholeFile) {
  for (const char* f :
       {"", "bytes=", "bytes=5-2", "items=0-1", "bytes=a-b", "bytes=0-1x",
        "bytes=--1", "bytes 0-1", "bytes=1", "bytes=0-1;q"}) {
    EXPECT_EQ(parse_range(f, 100).outcome, RangeOutcome::Whole) << f;
  }
  // An empty file has no bytes to range over.
  EXPECT_EQ(parse_range("bytes=0-", 0).outcome, RangeOutcome::Whole);
}

TEST(Range, MultipleInTheOrderAskedFor) {
  RangeSet r = parse_range("bytes=50-59,0-9", 100);
  ASSERT_EQ(r.outcome, RangeOutcome::Multiple);
  ASSERT_EQ(r.count, 2u);
  EXPECT_EQ(r.ranges[0].first, 50u);
  EXPECT_EQ(r.ranges[1].first, 0u);
}

// Amplification: overlapping ranges, more than 16, or more bytes than the
// file are answered with the file itself, once.
TEST(Range, AmplificationServesTheWholeFile) {
  EXPECT_EQ(parse_range("bytes=0-50,25-75", 100).outcome, RangeOutcome::Whole);
  EXPECT_EQ(parse_range("bytes=0-0,0-0", 100).outcome, RangeOutcome::Whole);
  EXPECT_EQ(parse_range("bytes=-60,0-50", 100).outcome, RangeOutcome::Whole);
  std::string sixteen = "bytes=";
  for (int i = 0; i < 16; ++i)
    sixteen += std::to_string(i * 2) + "-" + std::to_string(i * 2) + ",";
  EXPECT_EQ(parse_range(sixteen, 100).outcome, RangeOutcome::Multiple);
  std::string thousand = "bytes=";
  for (int i = 0; i < 1000; ++i)
    thousand += std::to_string(i) + "-" + std::to_string(i) + ",";
  EXPECT_EQ(parse_range(thousand, 100000).outcome, RangeOutcome::Whole);
  // Adjacent ranges do not overlap.
  EXPECT_EQ(parse_range("bytes=0-9,10-19", 100).outcome,
            RangeOutcome::Multiple);
}

// The br weight the precompressed variants read (pipeline/accept_encoding.h).
#include "pipeline/accept_encoding.h"

TEST(AcceptEncodingBr, WeightOfBrForVariants) {
  using pounce::pipeline::AcceptEncoding;
  using pounce::pipeline::Coding;
  AcceptEncoding ae;
  ae.add("gzip;q=0.5, br");
  EXPECT_EQ(ae.weight_br(), 1000);
  EXPECT_EQ(ae.accepts(ae.weight_br()), 1000);
  EXPECT_EQ(ae.accepts(ae.weight_zstd()), 0);
  // Never chosen on the fly: br is not produced.
  EXPECT_EQ(ae.choose(), Coding::Gzip);
  AcceptEncoding star;
  star.add("*;q=0.3, BR;q=0");
  EXPECT_EQ(star.weight_br(), 0);
  EXPECT_EQ(star.accepts(star.weight_zstd()), 300);
}
