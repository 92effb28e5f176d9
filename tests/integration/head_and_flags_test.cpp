// HEAD answers with the header fields GET would (RFC 9110 §9.3.2), also
// when GET is compressed; a 304 carries its 200's ETag and Vary
// (§15.4.5) (issue 9 #10). Every number flag is range-checked at start-up
// (issue 9 #12): out of range, pounce-host exits 2 and names the flag.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  return s;
}

// Every header but Date (a second may tick between the two requests) and
// X-Request-ID (each request has its own), names lowercased, in order.
Headers comparable(const HttpResponse& r) {
  Headers out;
  for (const auto& [name, value] : r.headers) {
    const std::string n = lower(name);
    if (n != "date" && n != "x-request-id") out.emplace_back(n, value);
  }
  return out;
}

HttpResponse request(uint16_t port, const std::string& method,
                     const std::string& path, const std::string& extra) {
  RawClient c(port);
  EXPECT_TRUE(c.send(method + " " + path + " HTTP/1.1\r\nHost: x\r\n" + extra +
                     "\r\n"));
  auto r = c.read_response(method == "HEAD");
  EXPECT_TRUE(r) << method << " " << path;
  return r ? *r : HttpResponse{};
}

class HeadMatchesGet
    : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(HeadMatchesGet, SameHeaderFieldsAsACompressedGet) {
  const auto [path, coding] = GetParam();
  HostProcess h({"--plugin", test_plugin_path("conditional")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string ae = std::string("Accept-Encoding: ") + coding + "\r\n";
  HttpResponse get = request(h.port(), "GET", path, ae);
  HttpResponse head = request(h.port(), "HEAD", path, ae);
  ASSERT_EQ(get.status, 200);
  // The GET is compressed: the HEAD must say so too, with the same length
  // or framing, the weak ETag and the Vary.
  EXPECT_EQ(get.header("Content-Encoding"), coding);
  EXPECT_EQ(get.header("ETag"), "W/\"v1\"");
  EXPECT_EQ(comparable(head), comparable(get));
  EXPECT_EQ(head.status, get.status);
  EXPECT_TRUE(head.body.empty());
}

INSTANTIATE_TEST_SUITE_P(
    SyncAndStreamed, HeadMatchesGet,
    ::testing::Values(std::make_pair("/page", "gzip"),
                      std::make_pair("/page", "zstd"),
                      std::make_pair("/stream", "gzip"),
                      std::make_pair("/stream", "zstd")),
    [](const auto& info) {
      return std::string(info.param.first[1] == 'p' ? "Sync" : "Streamed") +
             (info.param.second[0] == 'g' ? "Gzip" : "Zstd");
    });

// Without compression both are identical as well (the control).
TEST(HeadMatchesGetPlain, SameHeaderFieldsWithoutAcceptEncoding) {
  HostProcess h({"--plugin", test_plugin_path("conditional")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* path : {"/page", "/stream"}) {
    HttpResponse get = request(h.port(), "GET", path, "");
    HttpResponse head = request(h.port(), "HEAD", path, "");
    EXPECT_EQ(get.header("Content-Length"), "8000") << path;
    EXPECT_EQ(comparable(head), comparable(get)) << path;
  }
}

// A 304 stands in for the 200: the same ETag (weak, as the compressed 200
// had it) and Vary, so that a cache can update the stored response.
TEST(NotModified, CarriesTheETagAndVaryOfItsCompressed200) {
  HostProcess h({"--plugin", test_plugin_path("conditional")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* path : {"/page", "/stream"}) {
    SCOPED_TRACE(path);
    HttpResponse ok =
        request(h.port(), "GET", path, "Accept-Encoding: gzip\r\n");
    ASSERT_EQ(ok.status, 200);
    HttpResponse nm = request(h.port(), "GET", path,
                              "Accept-Encoding: gzip\r\nIf-None-Match: " +
                                  ok.header("ETag").value_or("?") + "\r\n");
    ASSERT_EQ(nm.status, 304);
    EXPECT_EQ(nm.header("ETag"), ok.header("ETag"));
    EXPECT_EQ(nm.header("Vary"), ok.header("Vary"));
    EXPECT_EQ(nm.header("Vary"), "Accept-Encoding");
    EXPECT_FALSE(nm.header("Content-Encoding"));
    EXPECT_FALSE(nm.header("Content-Length"));
    // Without Accept-Encoding the 200 is identity, with its strong tag, and
    // so is the 304; the Vary stays.
    HttpResponse plain =
        request(h.port(), "GET", path, "If-None-Match: \"v1\"\r\n");
    ASSERT_EQ(plain.status, 304);
    EXPECT_EQ(plain.header("ETag"), "\"v1\"");
    EXPECT_EQ(plain.header("Vary"), "Accept-Encoding");
  }
}

// ---------------------------------------------------------------------------
// Start-up range checks: the exit status and the message.

CommandResult start_with(std::vector<std::string> args) {
  args.insert(args.begin(),
              {host_binary(), "--plugin", plugin_path("hello"), "--port", "0"});
  return run_command(args);
}

TEST(FlagRanges, HighWaterOfZeroOrOneRefusesToStart) {
  for (const char* v : {"0", "1"}) {
    CommandResult r = start_with({"--stream-high-water", v});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(std::string("--stream-high-water (config key "
                                     "stream_high_water): ") +
                         v + " is out of range; it must be 256 to 1073741824"),
              std::string::npos)
        << r.err;
  }
}

TEST(FlagRanges, OutOfRangeValuesRefuseToStart) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const Case cases[] = {
      {{"--header-timeout", "0"},
       "--header-timeout (config key header_timeout): 0 is out of range; it "
       "must be 0.001 to 86400 seconds"},
      {{"--max-headers", "0"},
       "--max-headers (config key max_headers): 0 is out of range; it must "
       "be 1 to 65535"},
      {{"--ws-compression-level", "10"},
       "--ws-compression-level (config key ws_compression_level): 10 is out "
       "of range; it must be 1 to 9"},
      {{"--max-body-size", "1073741825"},
       "--max-body-size (config key max_body_size): 1073741825 is out of "
       "range; it must be 0 to 1073741824"},
  };
  for (const Case& c : cases) {
    CommandResult r = start_with(c.args);
    EXPECT_EQ(r.status, 2) << c.args[0] << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
}

TEST(FlagRanges, ConfigFileKeysAreCheckedToo) {
  char path[] = "/tmp/pounce-flags-XXXXXX.json";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    std::ofstream f(path);
    f << "{\"stream_high_water\": 1}";
  }
  CommandResult r = start_with({"--config", path});
  unlink(path);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("(config key stream_high_water): 1 is out of range"),
            std::string::npos)
      << r.err;
}

TEST(FlagRanges, HelpListsTheWebSocketLimits) {
  CommandResult r = run_command({host_binary(), "--help"});
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.out.find("--ws-message-timeout"), std::string::npos);
  EXPECT_NE(r.out.find("--ws-buffer-budget"), std::string::npos);
}

TEST(FlagRanges, BoundsThemselvesStart) {
  HostProcess h({"--plugin", plugin_path("hello"), "--stream-high-water", "256",
                 "--max-headers", "1", "--ws-compression-level", "9"});
  EXPECT_TRUE(h.ok()) << h.stderr_text();
}

}  // namespace
