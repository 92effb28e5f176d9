// The fragmentation property: a valid request split anywhere parses exactly
// as in one piece. Prefixes of the head are Incomplete (never an error),
// the complete head gives the same views, and the body decoder fed the
// pieces (keeping its unconsumed tail) gives the same body and trailers.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http_test_support.h"

namespace pounce::http::testing {
namespace {

class Fragmentation
    : public ::testing::TestWithParam<std::tuple<CorpusEntry, EntryPoint>> {
 protected:
  const CorpusEntry& entry() const { return std::get<0>(GetParam()); }
  HeadParseFn parse() const { return std::get<1>(GetParam()).fn; }
};

TEST_P(Fragmentation, HeadPrefixesAreIncompleteAndTheHeadIsStable) {
  const std::string& bytes = entry().bytes;
  const HeadOutcome whole = parse_head(parse(), bytes);
  ASSERT_EQ(whole.status, ParseStatus::Complete) << whole;
  for (size_t n = 0; n < whole.head_size; ++n) {
    const HeadOutcome o =
        parse_head(parse(), std::string_view(bytes).substr(0, n));
    ASSERT_EQ(o.status, ParseStatus::Incomplete)
        << "prefix of " << n << " bytes: " << o;
  }
  for (size_t n = whole.head_size; n <= bytes.size(); ++n) {
    ASSERT_EQ(parse_head(parse(), std::string_view(bytes).substr(0, n)), whole)
        << "prefix of " << n << " bytes";
  }
}

TEST_P(Fragmentation, BodyDecodesTheSameInAnyPieces) {
  const CorpusEntry& e = entry();
  const HeadOutcome head = parse_head(parse(), e.bytes);
  ASSERT_EQ(head.status, ParseStatus::Complete) << head;
  const BodyFraming framing{head.body_kind, head.content_length, {}};
  const std::string_view rest =
      std::string_view(e.bytes).substr(head.head_size);

  const BodyOutcome whole = decode_pieces(framing, rest, {});
  EXPECT_EQ(whole.status, DecodeStatus::Done) << whole;
  EXPECT_EQ(whole.body, e.body);
  EXPECT_EQ(whole.trailers, e.trailers);
  EXPECT_EQ(whole.consumed, rest.size() - e.trailing);

  for (bool in_place : {false, true}) {
    // Two pieces, cut at every position.
    for (size_t i = 0; i <= rest.size(); ++i) {
      ASSERT_EQ(decode_pieces(framing, rest, {i}, in_place), whole)
          << "cut at " << i << (in_place ? " in place" : "");
    }
    // One byte at a time.
    std::vector<size_t> every;
    for (size_t i = 1; i < rest.size(); ++i) every.push_back(i);
    ASSERT_EQ(decode_pieces(framing, rest, every, in_place), whole)
        << "byte by byte" << (in_place ? " in place" : "");
    // Three pieces, cut at every pair of positions, for small bodies.
    if (rest.size() <= 160) {
      for (size_t i = 0; i <= rest.size(); ++i) {
        for (size_t j = i; j <= rest.size(); ++j) {
          ASSERT_EQ(decode_pieces(framing, rest, {i, j}, in_place), whole)
              << "cuts at " << i << " and " << j;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, Fragmentation,
    ::testing::Combine(::testing::ValuesIn(valid_corpus()),
                       ::testing::ValuesIn(entry_points())),
    [](const auto& info) {
      return std::string(std::get<0>(info.param).name) + "_" +
             std::get<1>(info.param).name;
    });

TEST(Corpus, IsLargeAndVaried) {
  size_t with_body = 0, chunked_with_trailers = 0;
  for (const CorpusEntry& e : valid_corpus()) {
    if (!e.body.empty()) ++with_body;
    if (!e.trailers.empty()) ++chunked_with_trailers;
  }
  EXPECT_GE(valid_corpus().size(), 20u);
  EXPECT_GE(with_body, 8u);
  EXPECT_GE(chunked_with_trailers, 2u);
}

TEST(Corpus, HoldsTheBrowserRequestOf703Bytes) {
  EXPECT_EQ(kBrowserRequest703.size(), 703u);
}

}  // namespace
}  // namespace pounce::http::testing
