// Reading h2load's summary back into the bench's figures: the counts, the
// statuses that void a ratio, the application protocol, and the body size
// check that stands in for the body comparison h2load does not make.
#include "bench/h2_load.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

using namespace pounce::bench;

namespace {

// What nghttp2 1.52's h2load printed for 13-byte bodies (trimmed).
const char kHello[] =
    "starting benchmark...\n"
    "Application protocol: h2c\n"
    "\n"
    "finished in 1.00s, 63176.00 req/s, 2.41MB/s\n"
    "requests: 63176 total, 63208 started, 63176 done, 63176 succeeded, 0 "
    "failed, 0 errored, 0 timeout\n"
    "status codes: 63176 2xx, 0 3xx, 0 4xx, 0 5xx\n"
    "traffic: 2.41MB (2528363) total, 556.31KB (569663) headers (space "
    "savings 90.31%), 802.04KB (821288) data\n"
    "                     min         max         mean         sd        +/- "
    "sd\n"
    "time for request:       49us      6.10ms       474us       731us    "
    "93.99%\n"
    "time for connect:       72us       126us       103us        23us    "
    "75.00%\n";

std::string with(std::string text, const std::string& from,
                 const std::string& to) {
  size_t at = text.find(from);
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

}  // namespace

TEST(H2Load, ParsesTheSummary) {
  H2LoadOutput o = parse_h2load_output(kHello);
  ASSERT_TRUE(o.parsed);
  EXPECT_EQ(o.protocol, "h2c");
  EXPECT_DOUBLE_EQ(o.finished_s, 1.0);
  EXPECT_EQ(o.total, 63176u);
  EXPECT_EQ(o.started, 63208u);
  EXPECT_EQ(o.done, 63176u);
  EXPECT_EQ(o.succeeded, 63176u);
  EXPECT_EQ(o.status_2xx, 63176u);
  EXPECT_EQ(o.status_4xx, 0u);
  EXPECT_EQ(o.traffic_bytes, 2528363u);
  EXPECT_EQ(o.header_bytes, 569663u);
  EXPECT_EQ(o.data_bytes, 821288u);
  EXPECT_DOUBLE_EQ(o.request_min_us, 49);
  EXPECT_DOUBLE_EQ(o.request_max_us, 6100);
  EXPECT_DOUBLE_EQ(o.request_mean_us, 474);
}

TEST(H2Load, RightBodiesAreGood) {
  LoadResult r = load_result_of(parse_h2load_output(kHello), 1.0,
                                std::string("Hello, World!"));
  EXPECT_TRUE(r.connected);
  EXPECT_EQ(r.counters.completed, 63176u);
  EXPECT_EQ(r.counters.good(), 63176u);
  EXPECT_EQ(r.counters.socket_errors(), 0u);
  EXPECT_DOUBLE_EQ(r.per_second(), 63176);
}

// A wrong path must not win with fast 404s.
TEST(H2Load, NonSuccessStatusesAreWrongAnswers) {
  std::string text = with(
      with(kHello, "63176 succeeded, 0 failed", "0 succeeded, 63176 failed"),
      "63176 2xx, 0 3xx, 0 4xx", "0 2xx, 0 3xx, 63176 4xx");
  LoadResult r = load_result_of(parse_h2load_output(text), 1.0,
                                std::string("Hello, World!"));
  EXPECT_EQ(r.counters.non_2xx, 63176u);
  EXPECT_EQ(r.counters.good(), 0u);
  EXPECT_DOUBLE_EQ(r.per_second(), 0);
}

// A 2xx with another body (another file, a default page) shows in the
// size of the DATA h2load counted.
TEST(H2Load, BodiesOfTheWrongSizeAreWrongBodies) {
  LoadResult r = load_result_of(parse_h2load_output(kHello), 1.0,
                                std::string("Hello, World!!"));
  EXPECT_EQ(r.counters.wrong_body, 63176u);
  EXPECT_EQ(r.counters.good(), 0u);
  // Bodies of streams still in flight at the end (started - done) may be
  // counted too, and no more.
  std::string partial = with(kHello, "(821288) data", "(821301) data");
  EXPECT_EQ(load_result_of(parse_h2load_output(partial), 1.0,
                           std::string("Hello, World!"))
                .counters.wrong_body,
            0u);
  std::string beyond = with(kHello, "(821288) data", "(821288000) data");
  EXPECT_GT(load_result_of(parse_h2load_output(beyond), 1.0,
                           std::string("Hello, World!"))
                .counters.wrong_body,
            0u);
}

TEST(H2Load, ResetsTimeoutsAndHttp1FallbackAreErrors) {
  std::string reset =
      with(with(kHello, "63176 succeeded, 0 failed, 0 errored, 0 timeout",
                "63170 succeeded, 6 failed, 4 errored, 2 timeout"),
           "63176 2xx", "63170 2xx");
  LoadResult r = load_result_of(parse_h2load_output(reset), 1.0, std::nullopt);
  EXPECT_EQ(r.counters.read_errors, 8u);  // 6 without a status, 2 timeouts
  std::string h1 = with(kHello, "Application protocol: h2c",
                        "Application protocol: http/1.1");
  LoadResult f = load_result_of(parse_h2load_output(h1), 1.0, std::nullopt);
  EXPECT_GT(f.counters.protocol_errors, 0u);
  EXPECT_FALSE(f.connected);
  LoadResult none = load_result_of(parse_h2load_output("connect failed\n"), 1.0,
                                   std::nullopt);
  EXPECT_GT(none.counters.socket_errors(), 0u);
}

TEST(H2Load, CommandLineCarriesTheRequestAndThePin) {
  H2LoadConfig c;
  c.port = 8080;
  c.connections = 16;
  c.streams = 32;
  c.pin_cpu = 1;
  c.request =
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: "
      "application/octet-stream\r\nContent-Length: 3\r\n\r\nabc";
  std::vector<std::string> argv = h2load_argv(c, 1.5, "/tmp/body");
  std::vector<std::string> want = {"taskset",
                                   "-c",
                                   "1",
                                   "h2load",
                                   "-c",
                                   "16",
                                   "-m",
                                   "32",
                                   "-t",
                                   "1",
                                   "-D",
                                   "1500ms",
                                   "-d",
                                   "/tmp/body",
                                   "-H",
                                   "content-type: application/octet-stream",
                                   "http://127.0.0.1:8080/echo"};
  EXPECT_EQ(argv, want);
}
