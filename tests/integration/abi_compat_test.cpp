// ABI compatibility across minors (docs/abi.md): a plugin built against the
// frozen 1.0 header (tests/abi/v1.0) loads and serves on today's host.
#include <gtest/gtest.h>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

TEST(AbiCompat, HelloBuiltAgainstTheFrozen1_0HeaderServes) {
  HostProcess h({"--plugin", test_plugin_path("hello_v1_0")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  ASSERT_TRUE(
      c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /json HTTP/1.1\r\nHost: x\r\n\r\n"
             "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto hello = c.read_response();
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "Hello, World!");
  auto json = c.read_response();
  ASSERT_TRUE(json);
  EXPECT_EQ(json->status, 200);
  EXPECT_EQ(json->header("Content-Type"), "application/json");
  EXPECT_EQ(json->body, R"({"message":"Hello, World!"})");
  auto missing = c.read_response();
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

}  // namespace
