#include "static/mime_types.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using namespace pounce::static_files;

TEST(MimeTypes, BuiltinTableWithoutTheFile) {
  MimeTypes t("/nonexistent/mime.types");
  EXPECT_EQ(t.from_file(), 0u);
  EXPECT_EQ(t.for_name("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(t.for_name("a/b/STYLE.CSS"), "text/css; charset=utf-8");
  EXPECT_EQ(t.for_name("app.mjs"), "text/javascript; charset=utf-8");
  EXPECT_EQ(t.for_name("d.json"), "application/json; charset=utf-8");
  EXPECT_EQ(t.for_name("i.svg"), "image/svg+xml; charset=utf-8");
  EXPECT_EQ(t.for_name("i.png"), "image/png");
  EXPECT_EQ(t.for_name("f.woff2"), "font/woff2");
  EXPECT_EQ(t.for_name("m.wasm"), "application/wasm");
  EXPECT_EQ(t.for_name("noext"), "application/octet-stream");
  EXPECT_EQ(t.for_name("x.unknownext"), "application/octet-stream");
  EXPECT_EQ(t.for_name("dir.d/noext"), "application/octet-stream");
  EXPECT_EQ(t.for_name("trailing."), "application/octet-stream");
}

TEST(MimeTypes, FileEntriesWinAndCommentsAreSkipped) {
  char path[] = "/tmp/pounce-mime-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text =
      "# comment\n"
      "text/x-custom\tcust  cst\n"
      "application/x-thing thing # trailing comment\n"
      "image/png png\n"
      "bogus-without-slash ext\n";
  ASSERT_EQ(write(fd, text.data(), text.size()),
            static_cast<ssize_t>(text.size()));
  close(fd);
  MimeTypes t(path);
  unlink(path);
  EXPECT_EQ(t.from_file(), 4u);
  EXPECT_EQ(t.for_name("a.cust"), "text/x-custom; charset=utf-8");
  EXPECT_EQ(t.for_name("a.CST"), "text/x-custom; charset=utf-8");
  EXPECT_EQ(t.for_name("a.thing"), "application/x-thing");
  EXPECT_EQ(t.for_name("a.ext"), "application/octet-stream");
  EXPECT_EQ(t.for_name("a.html"), "text/html; charset=utf-8");  // built in
}

// Debian's media-types package installs /etc/mime.types; the host reads it.
TEST(MimeTypes, SystemFile) {
  if (access("/etc/mime.types", R_OK) != 0) {
    GTEST_SKIP() << "/etc/mime.types is missing (Debian package media-types)";
  }
  const MimeTypes& t = MimeTypes::global();
  EXPECT_GT(t.from_file(), 100u);
  EXPECT_EQ(t.for_name("a.pdf"), "application/pdf");
  EXPECT_EQ(t.for_name("a.txt"), "text/plain; charset=utf-8");
}
