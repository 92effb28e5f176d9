// Graceful shutdown finishes what can finish (issue 11 §5): a finite SSE
// stream that ends before the --shutdown-timeout deadline runs to its last
// event; an endless one is ended at once, with a clean final chunk.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono;

namespace {

// Reads a chunked event stream to its final chunk; the events' ids in order.
// *clean is false when the stream was cut (no final chunk).
std::vector<std::string> read_event_ids(RawClient& c, bool* clean) {
  std::vector<std::string> ids;
  std::string text;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended, seconds(15))) text += *chunk;
  *clean = ended;
  for (size_t at = text.find("id: "); at != std::string::npos;
       at = text.find("id: ", at + 4)) {
    ids.push_back(text.substr(at + 4, text.find('\n', at) - at - 4));
  }
  return ids;
}

TEST(ShutdownStreams, FiniteStreamsThatFitTheDeadlineRunToTheirEnd) {
  HostProcess h({"--plugin", "/sse=" + plugin_path("sse"), "--async-threads",
                 "2", "--shutdown-timeout", "10"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  constexpr int kStreams = 20;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.push_back(std::make_unique<RawClient>(h.port()));
    ASSERT_TRUE(clients.back()->send(
        "GET /sse/events?count=4&interval_ms=250 HTTP/1.1\r\nHost: x\r\n\r\n"));
  }
  RawClient endless(h.port());
  ASSERT_TRUE(endless.send(
      "GET /sse/events?count=0&interval_ms=50 HTTP/1.1\r\nHost: x\r\n\r\n"));
  for (auto& c : clients) {
    auto head = c->read_head();
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200);
  }
  auto endless_head = endless.read_head();
  ASSERT_TRUE(endless_head);

  const auto sigterm_at = steady_clock::now();
  h.signal(SIGTERM);
  for (int i = 0; i < kStreams; ++i) {
    bool clean = false;
    auto ids = read_event_ids(*clients[i], &clean);
    EXPECT_TRUE(clean) << "stream " << i << " was cut";
    EXPECT_EQ(ids, (std::vector<std::string>{"0", "1", "2", "3"}))
        << "stream " << i;
  }
  bool endless_clean = false;
  read_event_ids(endless, &endless_clean);
  EXPECT_TRUE(endless_clean) << "the endless stream ends with a final chunk";
  EXPECT_EQ(h.wait_exit(seconds(20)), 0) << h.stderr_text();
  // The endless stream was ended at the drain, not held to the 10 s
  // deadline: the process left as soon as the finite streams were done.
  EXPECT_LT(steady_clock::now() - sigterm_at, seconds(8)) << h.stderr_text();
}

}  // namespace
