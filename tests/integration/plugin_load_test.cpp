// The plugin loader: ABI refusals, an older minor, init failures, and the
// response rules the host enforces on plugins.
#include <gtest/gtest.h>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

TEST(PluginLoad, WrongMajorIsRefusedClearly) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        test_plugin_path("abi_major2")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("plugin ABI 2.0, host ABI 1.1"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("refusing"), std::string::npos) << r.err;
}

TEST(PluginLoad, NewerMinorIsRefusedClearly) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        test_plugin_path("abi_newer_minor")});
  EXPECT_NE(r.status, 0);
  // The record's minor is the oldest host minor the plugin needs: 1.2 here,
  // and this host is 1.1. Both are named.
  EXPECT_NE(r.err.find("plugin ABI 1.2, host ABI 1.1"), std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("needs a newer host: ABI 1.2 or later"),
            std::string::npos)
      << r.err;
}

TEST(PluginLoad, NotAPluginIsRefused) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        "/usr/lib/x86_64-linux-gnu/libz.so.1"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("is not a Pounce plugin"), std::string::npos) << r.err;
}

TEST(PluginLoad, MissingFileIsRefused) {
  auto r = run_command(
      {host_binary(), "--port", "0", "--plugin", "/nonexistent/libnope.so"});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("cannot open /nonexistent/libnope.so"),
            std::string::npos)
      << r.err;
}

TEST(PluginLoad, InitFailureStopsTheStart) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        test_plugin_path("init_fail")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("init failed: deliberate init failure"),
            std::string::npos)
      << r.err;
}

TEST(PluginLoad, OlderMinorWithSmallerDescriptorLoadsAndServes) {
  HostProcess h({"--plugin", test_plugin_path("old_minor")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "old minor ok");
  EXPECT_NE(h.stderr_text().find("mounted old-minor 0.9 at /"),
            std::string::npos);
}

TEST(PluginLoad, OneSharedObjectMountedTwiceIsTwoInstances) {
  HostProcess h({"--plugin", "/a=" + test_plugin_path("inspect"), "--plugin",
                 "/b=" + test_plugin_path("inspect"), "--plugin-config",
                 "/b={\"n\":2}"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto a = one_request(h.port(), "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  auto b = one_request(h.port(), "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(a && b);
  EXPECT_NE(a->body.find("config={}\n"), std::string::npos) << a->body;
  EXPECT_NE(b->body.find("config={\"n\":2}\n"), std::string::npos) << b->body;
}

// ---------------------------------------------------------------------------
// Response rules: a plugin cannot split a response or take the framing.

class FaultyPlugin : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess({"--plugin", test_plugin_path("faulty"), "--plugin",
                             "/cpp=" + test_plugin_path("throwing")});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  static HostProcess* host_;
};

HostProcess* FaultyPlugin::host_ = nullptr;

// The X-Pounce-Error code of each fault (docs/errors.md, "Plugin faults").
std::string fault_code(const std::string& path) {
  if (path == "/crlf" || path == "/nul" || path == "/badname") {
    return "INVALID_RESPONSE_HEADER";
  }
  if (path == "/framing" || path == "/te" || path == "/connection") {
    return "FRAMING_HEADER_SET";
  }
  return "PLUGIN_ERROR";
}

TEST_P(FaultyPlugin, Answers500AndKeepsServing) {
  ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  RawClient c(host_->port());
  c.send(std::string("GET ") + GetParam() + " HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_FALSE(r->header("Set-Cookie")) << "the response was split";
  EXPECT_FALSE(r->header("X-Split"));
  EXPECT_EQ(r->header("X-Pounce-Error"), fault_code(GetParam()));
  // Every error ends the connection (ARCHITECTURE.md §4).
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed());
  // The worker keeps serving.
  auto ok = one_request(host_->port(), "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "fine");
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultyPlugin,
                         ::testing::Values("/crlf", "/nul", "/badname",
                                           "/framing", "/te", "/connection",
                                           "/error", "/status", "/cpp/throw"),
                         [](const ::testing::TestParamInfo<const char*>& i) {
                           std::string n = i.param + 1;
                           for (char& c : n) {
                             if (c == '/') c = '_';
                           }
                           return n;
                         });

TEST(PluginRules, FaultsNameThePluginInTheLog) {
  HostProcess h({"--plugin", test_plugin_path("faulty")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  one_request(h.port(), "GET /crlf HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(h.wait_for_stderr("plugin faulty: control character in value"));
  one_request(h.port(), "GET /framing HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(
      h.wait_for_stderr("plugin faulty: a framing header the host owns"));
  auto r = one_request(h.port(), "GET /framing HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Pounce-Error"), "FRAMING_HEADER_SET");
}

}  // namespace
