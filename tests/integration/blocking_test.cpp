// Blocking mode (issue 11 §3, ARCHITECTURE.md §7): POUNCE_MODE_BLOCKING
// handlers run on the host's blocking pool (--blocking-threads), so that a
// handler that sleeps does not stall the other connections of its worker.
// The plugin is tests/plugins/sleeper.c; its "sleeper_sync" build is the same
// code in sync mode, which documents the stall the mode removes.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// The bound for the other requests' p99 holds for an optimized
// build; sanitizers slow every request several times over.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif
#if defined(NDEBUG)
constexpr bool kOptimized = !kSanitized;
#else
constexpr bool kOptimized = false;
#endif
constexpr auto kFastP99Bound = kOptimized ? 5ms : 50ms;

std::string get_request(const std::string& path,
                        const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + extra + "\r\n";
}

struct Latencies {
  std::vector<double> ms;
  double p99() {
    if (ms.empty()) return 0;
    std::sort(ms.begin(), ms.end());
    size_t i = (ms.size() * 99 + 99) / 100 - 1;
    return ms[std::min(i, ms.size() - 1)];
  }
};

// `rounds` rounds of 8 concurrent GET /sleep?ms=200 (one keep-alive
// connection each), while one more client sends GET / in a loop; returns
// the latencies of the GET / requests. *sleepers_ok counts the 200s.
Latencies load_with_sleepers(uint16_t port, int rounds, int* sleepers_ok) {
  std::atomic<bool> done{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> sleepers;
  for (int i = 0; i < 8; ++i) {
    sleepers.emplace_back([&] {
      RawClient c(port);
      for (int r = 0; r < rounds; ++r) {
        if (!c.send(get_request("/sleep?ms=200"))) return;
        auto res = c.read_response(false, 30s);
        if (res && res->status == 200 && res->body == "slept 200") ++ok;
      }
    });
  }
  Latencies lat;
  std::thread fast([&] {
    RawClient c(port);
    while (!done.load()) {
      auto start = Clock::now();
      if (!c.send(get_request("/"))) return;
      auto res = c.read_response(false, 30s);
      if (!res || res->status != 200) return;
      lat.ms.push_back(
          std::chrono::duration<double, std::milli>(Clock::now() - start)
              .count());
    }
  });
  for (auto& t : sleepers) t.join();
  done = true;
  fast.join();
  *sleepers_ok = ok.load();
  return lat;
}

TEST(BlockingMode, OtherRequestsStayFastWhileHandlersSleep) {
  HostProcess host({"--workers", "1", "--no-access-log", "--plugin",
                    test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  int sleepers_ok = 0;
  auto start = Clock::now();
  Latencies lat = load_with_sleepers(host.port(), 3, &sleepers_ok);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(sleepers_ok, 24);
  // 24 handlers of 200 ms ran 8 at a time (on 8 of the 16 default threads),
  // not one after the other (4.8 s).
  EXPECT_LT(elapsed, 3s);
  ASSERT_GE(lat.ms.size(), 20u);
  const double bound_ms =
      std::chrono::duration<double, std::milli>(kFastP99Bound).count();
  const double p99 = lat.p99();
  printf("GET / p99 %.3f ms over %zu requests (bound %.0f ms)\n", p99,
         lat.ms.size(), bound_ms);
  EXPECT_LT(p99, bound_ms) << lat.ms.size() << " requests";
}

TEST(BlockingMode, SyncModeStallsTheWorker) {
  // The same handlers in sync mode: each GET / waits behind a sleeper.
  HostProcess host({"--workers", "1", "--no-access-log", "--plugin",
                    test_plugin_path("sleeper_sync")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  int sleepers_ok = 0;
  Latencies lat = load_with_sleepers(host.port(), 1, &sleepers_ok);
  EXPECT_EQ(sleepers_ok, 8);
  // One GET / may have waited behind all 8 sleepers: one sample suffices.
  ASSERT_GE(lat.ms.size(), 1u);
  const double p99 = lat.p99();
  printf("sync mode: GET / p99 %.3f ms over %zu requests\n", p99,
         lat.ms.size());
  EXPECT_GE(p99, 150.0);
}

TEST(BlockingMode, PerRouteBlockingOnASyncPlugin) {
  // /slow-route is BLOCKING in the route table of the sync plugin.
  HostProcess host(
      {"--workers", "1", "--plugin", test_plugin_path("sleeper_sync")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient slow(host.port());
  ASSERT_TRUE(slow.send(get_request("/slow-route?ms=2000")));
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep entered"));
  auto start = Clock::now();
  auto fast = one_request(host.port(), get_request("/fast"));
  ASSERT_TRUE(fast);
  EXPECT_EQ(fast->body, "fast");
  EXPECT_LT(Clock::now() - start, 1000ms);  // sync: after the 2 s sleep
  auto res = slow.read_response(false, 10s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "slept 2000");
}

TEST(BlockingMode, FullQueueAnswers503WithRetryAfter) {
  HostProcess host({"--workers", "1", "--blocking-threads", "1",
                    "--blocking-queue", "1", "--plugin",
                    test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient a(host.port());
  ASSERT_TRUE(a.send(get_request("/sleep?ms=1500")));
  // The one thread has it: the next request waits in the queue, the one
  // after that finds the queue full.
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep entered"));
  RawClient b(host.port());
  RawClient c(host.port());
  ASSERT_TRUE(b.send(get_request("/sleep?ms=10")));
  ASSERT_TRUE(c.send(get_request("/sleep?ms=10")));
  auto rb = b.read_response(false, 10s);
  auto rc = c.read_response(false, 10s);
  ASSERT_TRUE(rb && rc);
  std::multiset<int> statuses{rb->status, rc->status};
  EXPECT_EQ(statuses, (std::multiset<int>{200, 503}));
  RawClient& refused = rb->status == 503 ? b : c;
  const HttpResponse& r503 = rb->status == 503 ? *rb : *rc;
  EXPECT_EQ(r503.header("X-Pounce-Error").value_or(""), "BLOCKING_QUEUE_FULL");
  EXPECT_EQ(r503.header("Retry-After").value_or(""), "1");
  auto ra = a.read_response(false, 10s);
  ASSERT_TRUE(ra);
  EXPECT_EQ(ra->body, "slept 1500");
  // The refused request was read whole: its connection goes on.
  ASSERT_TRUE(refused.send(get_request("/")));
  auto again = refused.read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
}

TEST(BlockingMode, PipelinedRequestsKeepTheirOrder) {
  HostProcess host({"--workers", "1", "--server-timing", "--plugin",
                    test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  std::string batch =
      get_request("/sleep?ms=100") + get_request("/fast") +
      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" +
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n" +
      get_request("/big", "Accept-Encoding: gzip\r\n") + get_request("/addr") +
      get_request("/");
  ASSERT_TRUE(c.send(batch));
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->body, "slept 100");
  EXPECT_TRUE(r1->header("Server-Timing").has_value());
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->body, "fast");
  auto r3 = c.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->body, "hello");
  auto r4 = c.read_response();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->body, "abcde");
  auto r5 = c.read_response();
  ASSERT_TRUE(r5);
  EXPECT_EQ(r5->status, 200);
  EXPECT_EQ(r5->header("Content-Encoding").value_or(""), "gzip");
  EXPECT_LT(r5->body.size(), 8192u);
  auto r6 = c.read_response();
  ASSERT_TRUE(r6);
  EXPECT_EQ(r6->body.rfind("127.0.0.1 127.0.0.1", 0), 0u) << r6->body;
  auto r7 = c.read_response();
  ASSERT_TRUE(r7);
  EXPECT_EQ(r7->body, "ok gen 1");
  // Keep-alive: the connection serves more after the batch.
  ASSERT_TRUE(c.send(get_request("/sleep?ms=1")));
  auto r8 = c.read_response();
  ASSERT_TRUE(r8);
  EXPECT_EQ(r8->body, "slept 1");
  EXPECT_FALSE(r8->header("Connection").has_value());
}

TEST(BlockingMode, ClientLeavingMidHandlerIsHarmless) {
  HostProcess host({"--workers", "1", "--plugin", test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  for (int i = 0; i < 4; ++i) {
    RawClient c(host.port());
    ASSERT_TRUE(c.send(get_request("/sleep?ms=200") + get_request("/")));
    if (i % 2) {
      linger l{1, 0};  // a reset rather than a FIN
      setsockopt(c.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
  }
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep returned", 10s, 4));
  auto res = one_request(host.port(), get_request("/"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok gen 1");
}

TEST(BlockingMode, RequestTimeoutDropsTheLateResult) {
  HostProcess host({"--workers", "1", "--request-timeout", "1", "--plugin",
                    test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.send(get_request("/sleep?ms=1800") + get_request("/")));
  auto res = c.read_response(false, 10s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 500);
  EXPECT_EQ(res->header("X-Pounce-Error").value_or(""), "RESPONSE_TIMEOUT");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(host.wait_for_stderr(
      "plugin sleeper: no response within --request-timeout"));
  // The handler returns to a connection that is gone: dropped, and the
  // worker goes on.
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep returned", 10s));
  auto next = one_request(host.port(), get_request("/sleep?ms=1"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "slept 1");
}

TEST(BlockingMode, ReloadRetiresTheGenerationAfterTheHandlerReturns) {
  HostProcess host({"--workers", "1", "--plugin", test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.send(get_request("/sleep?ms=1500")));
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep entered"));
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reloaded generation 2"));
  auto now = one_request(host.port(), get_request("/"));
  ASSERT_TRUE(now);
  EXPECT_EQ(now->body, "ok gen 2");
  auto res = c.read_response(false, 10s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "slept 1500");
  ASSERT_TRUE(host.wait_for_stderr("unloaded generation 1"));
  std::string err = host.stderr_text();
  size_t returned = err.find("gen 1 sleep returned");
  size_t shutdown = err.find("gen 1 shutdown");
  ASSERT_NE(returned, std::string::npos);
  ASSERT_NE(shutdown, std::string::npos);
  EXPECT_LT(returned, shutdown) << err;
}

TEST(BlockingMode, StuckHandlerDoesNotHangTheExit) {
  HostProcess host({"--workers", "1", "--no-supervise", "--shutdown-timeout",
                    "1", "--plugin", test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.send(get_request("/forever")));
  ASSERT_TRUE(host.wait_for_stderr("gen 1 forever entered"));
  // Other connections are still served.
  auto res = one_request(host.port(), get_request("/"));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "ok gen 1");
  auto start = Clock::now();
  host.signal(SIGTERM);
  int status = host.wait_exit(15s);
  EXPECT_NE(status, -1) << host.stderr_text();
  EXPECT_LT(Clock::now() - start, 8s);
  EXPECT_NE(host.stderr_text().find(
                "plugin sleeper: blocking handler still running at the "
                "shutdown deadline"),
            std::string::npos)
      << host.stderr_text();
}

}  // namespace

namespace {

TEST(BlockingMode, CppPluginInfoModeAndRoutes) {
  // pounce.hpp: PluginInfo::mode = BLOCKING, one route kept sync. The body
  // names the thread that ran handle().
  HostProcess host(
      {"--workers", "1", "--plugin", test_plugin_path("blocking_cpp")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  auto pooled = one_request(host.port(), get_request("/"));
  ASSERT_TRUE(pooled);
  EXPECT_EQ(pooled->body.rfind("pounce-block", 0), 0u) << pooled->body;
  auto inline_ = one_request(host.port(), get_request("/inline"));
  ASSERT_TRUE(inline_);
  EXPECT_EQ(inline_->body, "pounce-worker0");
}

}  // namespace

namespace {

TEST(BlockingMode, ShutdownWaitsForARunningHandler) {
  HostProcess host({"--workers", "1", "--no-supervise", "--plugin",
                    test_plugin_path("sleeper")});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  RawClient c(host.port());
  ASSERT_TRUE(c.send(get_request("/sleep?ms=800")));
  ASSERT_TRUE(host.wait_for_stderr("gen 1 sleep entered"));
  host.signal(SIGTERM);
  // Within --shutdown-timeout (10 s): the response comes, as the last one.
  auto res = c.read_response(false, 10s);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->body, "slept 800");
  EXPECT_EQ(res->header("Connection").value_or(""), "close");
  EXPECT_EQ(host.wait_exit(15s), 0);
  EXPECT_EQ(host.stderr_text().find("abandoning"), std::string::npos);
}

}  // namespace
