// The load generator's response parser, fed canned bytes whole and in every
// split: a response may arrive cut anywhere.
#include "bench/response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using pounce::bench::BodySink;
using pounce::bench::ResponseParser;

namespace {

struct Collect : BodySink {
  std::string body;
  void on_body(std::string_view b) override { body.append(b); }
};

struct Parsed {
  std::vector<int> statuses;
  std::vector<std::string> bodies;
  std::vector<bool> keep_alive;
  bool error = false;
};

// Feeds `bytes` in pieces of at most `piece` bytes.
Parsed parse(const std::string& bytes, size_t piece) {
  Parsed out;
  ResponseParser p;
  Collect sink;
  for (size_t at = 0; at < bytes.size() && !out.error;) {
    size_t n = std::min(piece, bytes.size() - at);
    const char* data = bytes.data() + at;
    at += n;
    while (n > 0) {
      auto step = p.feed(data, n, &sink);
      if (step.error) {
        out.error = true;
        break;
      }
      data += step.consumed;
      n -= step.consumed;
      if (step.complete) {
        out.statuses.push_back(p.status());
        out.bodies.push_back(sink.body);
        out.keep_alive.push_back(p.keep_alive());
        sink.body.clear();
      }
    }
  }
  return out;
}

const std::string kHello =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n"
    "\r\nHello, World!";

}  // namespace

TEST(ResponseParser, ContentLengthInEverySplit) {
  for (size_t piece = 1; piece <= kHello.size(); ++piece) {
    Parsed r = parse(kHello, piece);
    ASSERT_FALSE(r.error) << piece;
    ASSERT_EQ(r.statuses, std::vector<int>{200}) << piece;
    EXPECT_EQ(r.bodies[0], "Hello, World!") << piece;
    EXPECT_TRUE(r.keep_alive[0]);
  }
}

TEST(ResponseParser, PipelinedResponsesInOneRead) {
  std::string three =
      kHello + kHello + "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  for (size_t piece : {size_t{1}, size_t{7}, three.size()}) {
    Parsed r = parse(three, piece);
    ASSERT_FALSE(r.error);
    EXPECT_EQ(r.statuses, (std::vector<int>{200, 200, 404})) << piece;
  }
}

TEST(ResponseParser, ChunkedWithExtensionsAndTrailers) {
  const std::string bytes =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nHello\r\n"
      "8\r\n, World!\r\n"
      "0\r\nX-Trailer: yes\r\n\r\n" +
      kHello;
  for (size_t piece = 1; piece <= bytes.size(); ++piece) {
    Parsed r = parse(bytes, piece);
    ASSERT_FALSE(r.error) << piece;
    ASSERT_EQ(r.statuses, (std::vector<int>{200, 200})) << piece;
    EXPECT_EQ(r.bodies[0], "Hello, World!") << piece;
  }
}

TEST(ResponseParser, ChunkedUpperCaseHexAndCodingList) {
  Parsed r = parse(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"
      "A\r\n0123456789\r\n0\r\n\r\n",
      3);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.bodies, std::vector<std::string>{"0123456789"});
}

TEST(ResponseParser, InterimResponseIsNotCounted) {
  Parsed r = parse("HTTP/1.1 100 Continue\r\n\r\n" + kHello, 5);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.statuses, std::vector<int>{200});
}

TEST(ResponseParser, NoBodyStatusesIgnoreContentLength) {
  Parsed r = parse(
      "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\n\r\n" +
          kHello,
      4);
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.statuses, (std::vector<int>{204, 304, 200}));
}

TEST(ResponseParser, ConnectionCloseAndHttp10) {
  Parsed r = parse(
      "HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", 64);
  EXPECT_EQ(r.keep_alive, std::vector<bool>{false});
  r = parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 64);
  EXPECT_EQ(r.keep_alive, std::vector<bool>{false});
  r = parse(
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
      64);
  EXPECT_EQ(r.keep_alive, std::vector<bool>{true});
}

TEST(ResponseParser, BodyUntilEof) {
  ResponseParser p;
  Collect sink;
  std::string bytes = "HTTP/1.1 200 OK\r\n\r\nsome bytes";
  auto step = p.feed(bytes.data(), bytes.size(), &sink);
  EXPECT_FALSE(step.complete);
  EXPECT_FALSE(step.error);
  EXPECT_TRUE(p.finish_eof());
  EXPECT_EQ(sink.body, "some bytes");
  EXPECT_FALSE(p.keep_alive());
}

TEST(ResponseParser, EofInsideALengthIsNotACompleteResponse) {
  ResponseParser p;
  std::string bytes = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  p.feed(bytes.data(), bytes.size());
  EXPECT_FALSE(p.finish_eof());
}

struct BadCase {
  const char* name;
  std::string bytes;
};

TEST(ResponseParser, RejectsMalformedResponses) {
  const BadCase cases[] = {
      {"not http", "FTP/1.1 200 OK\r\n\r\n"},
      {"bad status", "HTTP/1.1 2x0 OK\r\n\r\n"},
      {"bad length", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n"},
      {"conflicting lengths",
       "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"},
      {"no colon", "HTTP/1.1 200 OK\r\nBroken\r\n\r\n"},
      {"bad chunk size",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"missing CRLF after chunk",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX"},
      {"chunk size overflow",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
       "ffffffffffffffffff\r\n"},
  };
  for (const BadCase& c : cases) {
    EXPECT_TRUE(parse(c.bytes, 1).error) << c.name;
    EXPECT_TRUE(parse(c.bytes, 4096).error) << c.name;
  }
}

TEST(ResponseParser, RejectsAnEndlessHead) {
  std::string head =
      "HTTP/1.1 200 OK\r\n" + std::string(ResponseParser::kMaxHead, 'a');
  EXPECT_TRUE(parse(head, 1000).error);
}
