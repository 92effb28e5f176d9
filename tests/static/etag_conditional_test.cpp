#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "static/conditional.h"
#include "static/etag.h"
#include "static/http_date.h"

using namespace pounce::static_files;

namespace {

constexpr std::string_view kTag = "\"1a-2b-3c\"";
constexpr int64_t kModified = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr const char* kAtModified = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr const char* kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr const char* kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";

struct Req {
  std::vector<pounce_header_t> headers;
  Req& add(const char* name, const char* value) {
    headers.push_back({{name, strlen(name)}, {value, strlen(value)}});
    return *this;
  }
  RequestFields fields() const {
    RequestFields f;
    f.gather(headers.data(), headers.size());
    return f;
  }
  Precondition eval() const {
    return evaluate_preconditions(fields(), kTag, kModified);
  }
};

}  // namespace

TEST(Etag, MadeFromInodeSizeAndNanosecondMtime) {
  struct stat st {};
  st.st_ino = 0xabc;
  st.st_size = 4096;
  st.st_mtim.tv_sec = 1;
  st.st_mtim.tv_nsec = 5;
  char buf[kMaxEtagLen];
  const size_t n = make_etag(st, buf);
  EXPECT_EQ(std::string(buf, n), "\"abc-1000-3b9aca05\"");
  st.st_mtim.tv_nsec = 6;  // a rewrite within the same second
  EXPECT_NE(std::string(buf, make_etag(st, buf)), "\"abc-1000-3b9aca05\"");
}

TEST(Etag, ListMatchingWeakAndStrong) {
  EXPECT_EQ(match_etag_list("\"1a-2b-3c\"", kTag, false), EtagMatch::Match);
  EXPECT_EQ(match_etag_list("W/\"1a-2b-3c\"", kTag, true), EtagMatch::Match);
  EXPECT_EQ(match_etag_list("W/\"1a-2b-3c\"", kTag, false), EtagMatch::None);
  EXPECT_EQ(match_etag_list("\"x\", \"1a-2b-3c\"", kTag, false),
            EtagMatch::Match);
  EXPECT_EQ(match_etag_list(" * ", kTag, false), EtagMatch::Match);
  EXPECT_EQ(match_etag_list("\"x\",,\"y\"", kTag, true), EtagMatch::None);
  for (const char* bad : {"1a-2b-3c", "\"1a", "\"a\" \"b\"", "w/\"1a-2b-3c\"",
                          "", ",", "*, \"a\"", "\"a\"junk"}) {
    EXPECT_EQ(match_etag_list(bad, kTag, true), EtagMatch::Malformed) << bad;
  }
  EXPECT_TRUE(strong_match(" \"1a-2b-3c\" ", kTag));
  EXPECT_FALSE(strong_match("W/\"1a-2b-3c\"", kTag));
  EXPECT_FALSE(strong_match("\"1a-2b-3c\", \"x\"", kTag));
}

TEST(Preconditions, NoneProceeds) {
  EXPECT_EQ(Req().eval(), Precondition::Proceed);
}

TEST(Preconditions, IfMatch) {
  EXPECT_EQ(Req().add("If-Match", "\"1a-2b-3c\"").eval(),
            Precondition::Proceed);
  EXPECT_EQ(Req().add("if-match", "*").eval(), Precondition::Proceed);
  EXPECT_EQ(Req().add("If-Match", "\"other\"").eval(),
            Precondition::PreconditionFailed);
  // Strong comparison: a weak tag never matches.
  EXPECT_EQ(Req().add("If-Match", "W/\"1a-2b-3c\"").eval(),
            Precondition::PreconditionFailed);
  // A list we cannot read cannot be shown to match: 412.
  EXPECT_EQ(Req().add("If-Match", "1a-2b-3c").eval(),
            Precondition::PreconditionFailed);
  // Several lines are one list.
  EXPECT_EQ(
      Req().add("If-Match", "\"x\"").add("If-Match", "\"1a-2b-3c\"").eval(),
      Precondition::Proceed);
}

TEST(Preconditions, IfUnmodifiedSince) {
  EXPECT_EQ(Req().add("If-Unmodified-Since", kAtModified).eval(),
            Precondition::Proceed);
  EXPECT_EQ(Req().add("If-Unmodified-Since", kBefore).eval(),
            Precondition::PreconditionFailed);
  // A malformed date is ignored (RFC 9110 §13.1.4).
  EXPECT_EQ(Req().add("If-Unmodified-Since", "garbage").eval(),
            Precondition::Proceed);
  // If-Match present: If-Unmodified-Since is not evaluated (§13.2.2 step 2).
  EXPECT_EQ(
      Req().add("If-Match", "*").add("If-Unmodified-Since", kBefore).eval(),
      Precondition::Proceed);
}

TEST(Preconditions, IfNoneMatch) {
  EXPECT_EQ(Req().add("If-None-Match", "\"1a-2b-3c\"").eval(),
            Precondition::NotModified);
  // Weak comparison.
  EXPECT_EQ(Req().add("If-None-Match", "W/\"1a-2b-3c\"").eval(),
            Precondition::NotModified);
  EXPECT_EQ(Req().add("If-None-Match", "*").eval(), Precondition::NotModified);
  EXPECT_EQ(Req().add("If-None-Match", "\"a\", \"b\"").eval(),
            Precondition::Proceed);
  // Malformed: matches nothing, so the full response.
  EXPECT_EQ(Req().add("If-None-Match", "1a-2b-3c").eval(),
            Precondition::Proceed);
  // If-None-Match present: If-Modified-Since is ignored (step 3-4).
  EXPECT_EQ(Req()
                .add("If-None-Match", "\"a\"")
                .add("If-Modified-Since", kAfter)
                .eval(),
            Precondition::Proceed);
}

TEST(Preconditions, IfModifiedSince) {
  EXPECT_EQ(Req().add("If-Modified-Since", kAtModified).eval(),
            Precondition::NotModified);
  EXPECT_EQ(Req().add("If-Modified-Since", kAfter).eval(),
            Precondition::NotModified);
  EXPECT_EQ(Req().add("If-Modified-Since", kBefore).eval(),
            Precondition::Proceed);
  EXPECT_EQ(Req().add("If-Modified-Since", "Sun, 06 Nov 1994").eval(),
            Precondition::Proceed);
  // Twice: not a single date, ignored.
  EXPECT_EQ(Req()
                .add("If-Modified-Since", kAfter)
                .add("If-Modified-Since", kAfter)
                .eval(),
            Precondition::Proceed);
  // The obsolete formats count too.
  EXPECT_EQ(Req().add("If-Modified-Since", "Sun Nov  6 08:49:37 1994").eval(),
            Precondition::NotModified);
}

// §13.2.2: 412 is decided before 304.
TEST(Preconditions, OrderOfEvaluation) {
  EXPECT_EQ(Req()
                .add("If-None-Match", "\"1a-2b-3c\"")
                .add("If-Match", "\"other\"")
                .eval(),
            Precondition::PreconditionFailed);
  EXPECT_EQ(Req()
                .add("If-Modified-Since", kAfter)
                .add("If-Unmodified-Since", kBefore)
                .eval(),
            Precondition::PreconditionFailed);
}

TEST(IfRange, EtagOrExactDate) {
  auto allows = [](const char* value) {
    Req r;
    r.add("Range", "bytes=0-1");
    if (value) r.add("If-Range", value);
    return if_range_allows(r.fields(), kTag, kModified);
  };
  EXPECT_TRUE(allows(nullptr));
  EXPECT_TRUE(allows("\"1a-2b-3c\""));
  EXPECT_FALSE(allows("W/\"1a-2b-3c\""));  // weak: never
  EXPECT_FALSE(allows("\"other\""));
  EXPECT_TRUE(allows(kAtModified));
  EXPECT_FALSE(allows(kAfter));  // exact match only
  EXPECT_FALSE(allows("not a date"));
}
