// Path normalization for routing (ARCHITECTURE.md §3, RFC 3986 §5.2.4 and
// §6.2.2).
#include "http/path_normalize.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace pounce::http {
namespace {

using namespace std::string_literals;

struct PathCase {
  const char* name;
  std::string input;
  PathStatus status;
  std::string output = "";
};

void PrintTo(const PathCase& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<PathCase> kPaths = {
    {"KeepsRoot", "/", PathStatus::Ok, "/"},
    {"KeepsPlainPath", "/api/v1/items", PathStatus::Ok, "/api/v1/items"},
    {"RemovesDotSegments", "/a/./b/../c", PathStatus::Ok, "/a/c"},
    {"RemovesLeadingDotSegment", "/./a", PathStatus::Ok, "/a"},
    {"KeepsSlashOfTrailingDot", "/a/.", PathStatus::Ok, "/a/"},
    {"KeepsSlashOfTrailingDotDot", "/a/b/..", PathStatus::Ok, "/a/"},
    {"ClimbsToRoot", "/a/..", PathStatus::Ok, "/"},
    {"ClimbsSeveralSegments", "/a/b/c/../../d", PathStatus::Ok, "/a/d"},
    {"KeepsEmptySegments", "/a//b/", PathStatus::Ok, "/a//b/"},
    {"RemovesAnEmptySegmentWithDotDot", "/a//../b", PathStatus::Ok, "/a/b"},
    {"KeepsDotsInsideSegments", "/a/.b/c../...", PathStatus::Ok,
     "/a/.b/c../..."},
    {"DecodesUnreservedCharacters", "/%7Euser/%41%62%2D%5f%2E%30",
     PathStatus::Ok, "/~user/Ab-_.0"},
    {"KeepsEncodedSlash", "/a%2fb", PathStatus::Ok, "/a%2Fb"},
    {"UpperCasesKeptEscapes", "/%c3%a9/%3f%20", PathStatus::Ok,
     "/%C3%A9/%3F%20"},
    {"DecodesEncodedDotSegments", "/a/%2e/b/%2E%2e/c", PathStatus::Ok, "/a/c"},
    {"DecodesMixedDotDot", "/a/b/.%2e", PathStatus::Ok, "/a/"},
    {"KeepsOtherCharacters", "/a:b@c!$&'()*+,;=", PathStatus::Ok,
     "/a:b@c!$&'()*+,;="},
    {"RejectsDotDotAtRoot", "/..", PathStatus::EscapesRoot},
    {"RejectsClimbingAboveRoot", "/a/../..", PathStatus::EscapesRoot},
    {"RejectsEncodedClimbingAboveRoot", "/%2e%2e/", PathStatus::EscapesRoot},
    {"RejectsClimbingAboveRootLater", "/a/b/../../../etc/passwd",
     PathStatus::EscapesRoot},
    {"RejectsEncodedNul", "/a%00b", PathStatus::BadEncoding},
    {"RejectsTruncatedEscape", "/a%4", PathStatus::BadEncoding},
    {"RejectsLonePercent", "/a%", PathStatus::BadEncoding},
    {"RejectsNonHexEscape", "/a%zz", PathStatus::BadEncoding},
    {"RejectsEscapeWithSign", "/a%+1", PathStatus::BadEncoding},
    {"RejectsEmptyPath", "", PathStatus::NotAbsolute},
    {"RejectsRelativePath", "a/b", PathStatus::NotAbsolute},
    {"RejectsAsterisk", "*", PathStatus::NotAbsolute},
};

class NormalizePath : public ::testing::TestWithParam<PathCase> {};

TEST_P(NormalizePath, Table) {
  const PathCase& c = GetParam();
  // An exact-size output buffer: the contract is room for path.size() bytes.
  auto out = std::make_unique<char[]>(c.input.size());
  auto in = std::make_unique<char[]>(c.input.size());
  std::copy(c.input.begin(), c.input.end(), in.get());
  size_t len = 0;
  const PathStatus status = normalize_path(
      std::string_view(in.get(), c.input.size()), out.get(), &len);
  ASSERT_EQ(status, c.status);
  if (status == PathStatus::Ok) {
    EXPECT_EQ(std::string(out.get(), len), c.output);
  }
}

INSTANTIATE_TEST_SUITE_P(Table, NormalizePath, ::testing::ValuesIn(kPaths),
                         [](const auto& info) { return info.param.name; });

TEST(NormalizePath, IsIdempotent) {
  for (const PathCase& c : kPaths) {
    if (c.status != PathStatus::Ok) continue;
    std::string out(c.output.size(), '\0');
    size_t len = 0;
    ASSERT_EQ(normalize_path(c.output, out.data(), &len), PathStatus::Ok);
    EXPECT_EQ(out.substr(0, len), c.output) << c.name;
  }
}

}  // namespace
}  // namespace pounce::http
