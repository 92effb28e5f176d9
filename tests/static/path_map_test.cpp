#include "static/path_map.h"

#include <gtest/gtest.h>

using namespace pounce::static_files;

namespace {

bool maps(std::string_view p, std::string* rel = nullptr,
          bool* slash = nullptr) {
  MappedPath m;
  if (!map_path(p, &m)) return false;
  if (rel) *rel = m.rel;
  if (slash) *slash = m.trailing_slash;
  return true;
}

}  // namespace

TEST(PathMap, OrdinaryPaths) {
  std::string rel;
  bool slash = true;
  ASSERT_TRUE(maps("", &rel, &slash));
  EXPECT_EQ(rel, "");
  EXPECT_FALSE(slash);
  ASSERT_TRUE(maps("/", &rel, &slash));
  EXPECT_EQ(rel, "");
  EXPECT_TRUE(slash);
  ASSERT_TRUE(maps("/a/b.txt", &rel, &slash));
  EXPECT_EQ(rel, "a/b.txt");
  EXPECT_FALSE(slash);
  ASSERT_TRUE(maps("/dir/", &rel, &slash));
  EXPECT_EQ(rel, "dir");
  EXPECT_TRUE(slash);
  // Escapes the normalizer kept are decoded: a space, UTF-8.
  ASSERT_TRUE(maps("/a%20b/%C3%A9", &rel));
  EXPECT_EQ(rel, "a b/\xc3\xa9");
}

TEST(PathMap, RefusedSegments) {
  for (const char* p : {
           "/.env",
           "/a/.git/config",
           "/.",
           "/..",
           "/%2e%2e",
           "/%2E",
           "/a%2fb",
           "/a%2Fb",  // an encoded '/'
           "/a%5cb",
           "/a\\b",   // backslash
           "/a%00b",  // NUL
           "/a%0ab",
           "/a%7fb",           // controls
           "/%c0%ae%c0%ae/x",  // overlong '.'
           "/%c0%af",          // overlong '/'
           "/%ed%a0%80",       // a surrogate
           "/%ff",
           "/%e2%82",  // invalid, truncated
           "/a//b",    // empty segment
           "/a%",
           "/a%4",
           "/a%zz",  // broken escapes
           "relative",
       }) {
    EXPECT_FALSE(maps(p)) << p;
  }
}
