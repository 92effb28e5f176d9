// The sse workload's client, fed the sse plugin's wire format as canned
// bytes (ARCHITECTURE.md §3: `id: i\ndata: {"seq":i,"t":ns}\n\n`, chunked).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/sse_client.h"
#include "bench/sse_parser.h"

using pounce::bench::sse_stamp_ns;
using pounce::bench::SseEvent;
using pounce::bench::SseParser;
using pounce::bench::SseStreamReader;

namespace {

struct Seen {
  std::vector<std::string> ids;
  std::vector<std::string> data;
};

Seen parse_in_pieces(const std::string& bytes, size_t piece) {
  Seen seen;
  SseParser p([&](const SseEvent& e) {
    seen.ids.emplace_back(e.id);
    seen.data.emplace_back(e.data);
  });
  for (size_t at = 0; at < bytes.size(); at += piece) {
    EXPECT_TRUE(p.feed(std::string_view(bytes).substr(at, piece)));
  }
  return seen;
}

std::string chunk(const std::string& payload) {
  char size[16];
  snprintf(size, sizeof size, "%zx", payload.size());
  return std::string(size) + "\r\n" + payload + "\r\n";
}

std::string event(int i, uint64_t t) {
  return "id: " + std::to_string(i) + "\ndata: {\"seq\":" + std::to_string(i) +
         ",\"t\":" + std::to_string(t) + "}\n\n";
}

const std::string kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
    "Transfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST(SseParser, EventsInEverySplit) {
  const std::string bytes = event(1, 100) + event(2, 200) + ": ping\n\n" +
                            "id: 3\r\ndata: a\r\ndata: b\r\n\r\n";
  for (size_t piece = 1; piece <= bytes.size(); ++piece) {
    Seen s = parse_in_pieces(bytes, piece);
    ASSERT_EQ(s.ids, (std::vector<std::string>{"1", "2", "3"})) << piece;
    EXPECT_EQ(s.data[0], "{\"seq\":1,\"t\":100}");
    EXPECT_EQ(s.data[2], "a\nb");
  }
}

TEST(SseParser, BareCrEndsLinesToo) {
  Seen s = parse_in_pieces("data: x\r\rdata: y\n\n", 1);
  EXPECT_EQ(s.data, (std::vector<std::string>{"x", "y"}));
}

TEST(SseParser, BlankLinesWithoutDataDispatchNothing) {
  Seen s = parse_in_pieces("\n\nid: 7\n\nretry: 5\n\n", 3);
  EXPECT_TRUE(s.data.empty());
}

TEST(SseParser, RejectsAnEndlessLine) {
  SseParser p([](const SseEvent&) {});
  std::string line(SseParser::kMaxLine + 1, 'a');
  EXPECT_FALSE(p.feed(line));
}

TEST(SseStamp, ReadsTheStampWhereverItIs) {
  EXPECT_EQ(sse_stamp_ns("{\"seq\":1,\"t\":123456789}"), 123456789u);
  EXPECT_EQ(sse_stamp_ns("{\"t\" : 42, \"seq\":1}"), 42u);
  EXPECT_FALSE(sse_stamp_ns("{\"seq\":1}"));
  EXPECT_FALSE(sse_stamp_ns("{\"t\":\"x\"}"));
  EXPECT_FALSE(sse_stamp_ns("{\"t\":99999999999999999999999}"));
}

TEST(SseStreamReader, CountsEventsAndLatencyAcrossChunksAndSplits) {
  // Events split across chunk boundaries, as a streaming server may send.
  std::string body = event(1, 1000) + event(2, 2000) + event(3, 3000);
  std::string wire = kStreamHead + chunk(body.substr(0, 10)) +
                     chunk(body.substr(10, 25)) + chunk(body.substr(35));
  for (size_t piece = 1; piece <= wire.size(); piece += 3) {
    SseStreamReader r;
    uint64_t events = 0;
    std::vector<uint64_t> latencies;
    for (size_t at = 0; at < wire.size(); at += piece) {
      size_t n = std::min(piece, wire.size() - at);
      ASSERT_TRUE(r.feed(wire.data() + at, n, 10'000)) << piece;
      events += r.take_events();
      latencies.insert(latencies.end(), r.latencies().begin(),
                       r.latencies().end());
      r.clear_latencies();
    }
    EXPECT_EQ(events, 3u) << piece;
    EXPECT_EQ(latencies, (std::vector<uint64_t>{9000, 8000, 7000})) << piece;
    EXPECT_FALSE(r.response_complete());
  }
}

TEST(SseStreamReader, AFiniteStreamCompletes) {
  std::string wire = kStreamHead + chunk(event(1, 5)) + "0\r\n\r\n";
  SseStreamReader r;
  ASSERT_TRUE(r.feed(wire.data(), wire.size(), 10));
  EXPECT_TRUE(r.response_complete());
  EXPECT_EQ(r.take_events(), 1u);
  EXPECT_EQ(r.status(), 200);
}

TEST(SseStreamReader, UnstampedEventsCountButHaveNoLatency) {
  std::string wire = kStreamHead + chunk("id: 1\ndata: {\"seq\":1}\n\n");
  SseStreamReader r;
  ASSERT_TRUE(r.feed(wire.data(), wire.size(), 10));
  EXPECT_EQ(r.take_events(), 1u);
  EXPECT_TRUE(r.latencies().empty());
  EXPECT_EQ(r.unstamped(), 1u);
}

TEST(SseStreamReader, AnErrorPageIsNotParsedAsEvents) {
  std::string wire =
      "HTTP/1.1 404 Not Found\r\nContent-Length: 16\r\n\r\ndata: not this\n\n";
  SseStreamReader r;
  ASSERT_TRUE(r.feed(wire.data(), wire.size(), 10));
  EXPECT_TRUE(r.response_complete());
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.take_events(), 0u);
}

TEST(SseStreamReader, BrokenFramingIsAnError) {
  std::string wire = kStreamHead + "zz\r\n";
  SseStreamReader r;
  EXPECT_FALSE(r.feed(wire.data(), wire.size(), 10));
}

// Events that are not the sse plugin's: out of sequence, an id that is not
// the seq, data that is not {"seq":i,...}, or no stamp. Each is counted.
TEST(SseStreamReader, CountsEventsThatAreNotThePluginsFormat) {
  std::string body = event(5, 1) + event(6, 1) + event(8, 1) +
                     "id: 9\ndata: {\"seq\":10,\"t\":1}\n\n" +
                     "id: 10\ndata: hello\n\n" +
                     "id: 11\ndata: {\"seq\":11}\n\n" + event(12, 1);
  std::string wire = kStreamHead + chunk(body);
  SseStreamReader r;
  ASSERT_TRUE(r.feed(wire.data(), wire.size(), 10));
  EXPECT_EQ(r.take_events(), 7u);
  // 8 skips 7; 9 says seq 10; 10 is not JSON; 11 has no stamp.
  EXPECT_EQ(r.take_wrong(), 4u);
}

TEST(SseStreamReader, ThePluginsStreamHasNoWrongEvent) {
  std::string wire =
      kStreamHead + chunk(event(0, 1) + event(1, 2)) + chunk(event(2, 3));
  SseStreamReader r;
  ASSERT_TRUE(r.feed(wire.data(), wire.size(), 10));
  EXPECT_EQ(r.take_events(), 3u);
  EXPECT_EQ(r.take_wrong(), 0u);
}
