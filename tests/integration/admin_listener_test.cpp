// The admin listener (--admin-listen, issue 14 §1): health, readiness and
// status answered by the host itself, readiness turning 503 at SIGTERM with
// --drain-delay, --health-check-path on the main listeners, and bad input
// to the admin port.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

std::vector<std::string> hello_with_admin(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--plugin", plugin_path("hello"),
                                   "--admin-listen", "http://127.0.0.1:0"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

json status_of(uint16_t admin) {
  auto r = get_response(admin, "/status");
  if (!r || r->status != 200) return json();
  return json::parse(r->body, nullptr, false);
}

}  // namespace

// ---------------------------------------------------------------------------
// The endpoints

TEST(AdminListener, AnswersHealthReadinessStatusAndMetrics) {
  HostProcess h(hello_with_admin({"--workers", "2"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0) << h.stderr_text();
  ASSERT_NE(admin, h.port());

  auto health = get_response(admin, "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "{\"status\":\"ok\"}\n");
  EXPECT_EQ(health->header("Content-Type"), "application/json");
  EXPECT_EQ(health->header("Cache-Control"), "no-store");

  auto ready = get_response(admin, "/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "{\"status\":\"ready\",\"generation\":1}\n");

  json s = status_of(admin);
  ASSERT_TRUE(s.is_object()) << h.stderr_text();
  EXPECT_EQ(s["status"], "ready");
  EXPECT_EQ(s["generation"], 1);
  EXPECT_EQ(s["workers"], 2);
  EXPECT_EQ(s["async_threads"], 1);
  EXPECT_EQ(s["supervised"], true);
  EXPECT_EQ(s["supervisor_restarts"], 0);
  EXPECT_EQ(s["pid"], h.serving_pid());
  EXPECT_TRUE(s["version"].is_string());
  EXPECT_GE(s["uptime_seconds"].get<double>(), 0.0);
  ASSERT_EQ(s["loops"].size(), 3u) << s.dump();
  EXPECT_EQ(s["loops"][0]["role"], "worker");
  EXPECT_EQ(s["loops"][1]["role"], "worker");
  EXPECT_EQ(s["loops"][1]["index"], 1);
  EXPECT_EQ(s["loops"][2]["role"], "async");
  EXPECT_EQ(s["loops"][2]["index"], 0);
  for (const json& l : s["loops"]) EXPECT_EQ(l["responding"], true);

  auto metrics = get_response(admin, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("Content-Type"),
            "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("\npounce_up 1\n"), std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("\npounce_generation 1\n"), std::string::npos);

  // HEAD: the same head, no body.
  RawClient c(admin);
  c.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("Content-Length"), "16");
  EXPECT_TRUE(head->body.empty());
}

TEST(AdminListener, WorksWithoutTheSupervisor) {
  // Unsupervised, the server opens the admin socket itself and prints its
  // startup line.
  HostProcess h(hello_with_admin({"--no-supervise"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0) << h.stderr_text();
  json s = status_of(admin);
  EXPECT_EQ(s["supervised"], false) << s.dump();
  EXPECT_EQ(s["pid"], h.pid());
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
}

TEST(AdminListener, IsServedByTheHostNeverByAPlugin) {
  // echo answers 200 at any path: whatever the admin port answers, and
  // whatever the main port answers at /healthz, tells who served it.
  HostProcess h({"--plugin", plugin_path("echo"), "--admin-listen",
                 "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_NE(admin, 0);
  auto unknown = get_response(admin, "/anything");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(unknown->header("X-Pounce-Error"), "NO_ROUTE");
  auto main_health = get_response(h.port(), "/healthz");
  ASSERT_TRUE(main_health);
  EXPECT_EQ(main_health->status, 200);
  EXPECT_EQ(main_health->body, "");  // echo's empty echo, not the host's
}

// ---------------------------------------------------------------------------
// Bad input (issue 14, "Bad input")

TEST(AdminListenerBadInput, UnknownPathIs404AndTheConnectionGoesOn) {
  HostProcess h(hello_with_admin());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(admin_port(h));
  c.send("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("X-Pounce-Error"), "NO_ROUTE");
  EXPECT_FALSE(r->header("Connection"));
  // The same connection serves the next request, as NO_ROUTE does on the
  // main listeners; a path is exact (no prefix match, no normalization).
  for (const char* path : {"/healthz/", "/healthzz", "/./healthz", "/"}) {
    c.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto again = c.read_response();
    ASSERT_TRUE(again) << path;
    EXPECT_EQ(again->status, 404) << path;
  }
  c.send("GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  auto ok = c.read_response();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(AdminListenerBadInput, HugeHeadIs431AndClosed) {
  HostProcess h(hello_with_admin({"--max-header-size", "1024"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  {
    // A complete head over --max-header-size.
    RawClient c(admin);
    c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
           std::string(4000, 'a') + "\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(r->header("X-Pounce-Error"), "HEADERS_TOO_LARGE");
    EXPECT_EQ(r->header("Connection"), "close");
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // A head that never ends: the host answers at the limit instead of
    // buffering what follows.
    RawClient c(admin);
    std::string endless = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    // 32 KiB: far past the limit, within what the lingering close reads
    // and discards, so that the 431 is not lost to a reset.
    const std::string line = "X-Filler: " + std::string(100, 'b') + "\r\n";
    while (endless.size() < 32 * 1024) endless += line;
    c.send(endless);
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(c.wait_closed());
  }
  {
    // Too many header fields.
    std::string many = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    for (int i = 0; i < 150; ++i) many += "A: b\r\n";
    auto r = one_request(admin, many + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_EQ(r->header("X-Pounce-Error"), "TOO_MANY_HEADERS");
  }
  // Still serving.
  auto ok = get_response(admin, "/healthz");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST(AdminListenerBadInput, MalformedHeadIs400) {
  HostProcess h(hello_with_admin());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  auto r = one_request(admin,
                       "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: "
                       "v\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(r->header("X-Pounce-Error"));
  auto smuggle =
      one_request(admin,
                  "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                  "Content-Length: 1\r\n\r\nx");
  ASSERT_TRUE(smuggle);
  EXPECT_EQ(smuggle->status, 400);
  EXPECT_EQ(smuggle->header("X-Pounce-Error"), "DUPLICATE_CONTENT_LENGTH");
}

TEST(AdminListenerBadInput, BodyIs413AndOtherMethodsAre405) {
  HostProcess h(hello_with_admin());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  auto body = one_request(
      admin,
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(body);
  EXPECT_EQ(body->status, 413);
  EXPECT_EQ(body->header("X-Pounce-Error"), "BODY_TOO_LARGE");
  auto chunked = one_request(admin,
                             "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
                             "0\r\n\r\n");
  ASSERT_TRUE(chunked);
  EXPECT_EQ(chunked->status, 413);
  auto del = one_request(admin, "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 405);
  EXPECT_EQ(del->header("Allow"), "GET, HEAD");
}

TEST(AdminListenerBadInput, TrickledHeadTimesOut) {
  HostProcess h(hello_with_admin({"--header-timeout", "1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(admin_port(h));
  c.send("GET /heal");
  auto r = c.read_response(false, 10s);
  ASSERT_TRUE(r) << "no 408 after --header-timeout";
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->header("X-Pounce-Error"), "HEADER_TIMEOUT");
  EXPECT_TRUE(c.wait_closed());
}

TEST(AdminListenerBadInput, OpenConnectionsAreBounded) {
  HostProcess h(hello_with_admin());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  // 64 idle connections, each answered once so that the host has
  // certainly accepted it.
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 64; ++i) {
    held.push_back(std::make_unique<RawClient>(admin));
    held.back()->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = held.back()->read_response();
    ASSERT_TRUE(r) << "connection " << i;
  }
  // One more is closed at once, before it can cost anything.
  RawClient extra(admin);
  EXPECT_TRUE(extra.wait_closed(5s));
  // Those held still work; once one leaves, a new one is served.
  held[0]->send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(held[0]->read_response());
  held.pop_back();
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    // The close of the one that left reaches the host asynchronously.
    auto r = get_response(admin, "/healthz");
    served = r && r->status == 200;
    if (!served) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served);
}

// ---------------------------------------------------------------------------
// Readiness: starting, ready, draining

TEST(Readiness, SaysStartingWhileAPluginInitsAndLivenessHolds) {
  OpsTempDir dir;
  for (const char* f : {"init-ready", "init-go", "handle-ready", "handle-go"})
    mkfifo(dir.file(f).c_str(), 0600);
  const std::string admin_sock = dir.file("admin.sock");
  std::vector<std::string> args = {
      "--plugin",        test_plugin_path("gate"),
      "--plugin-config", "/={\"gate\":\"" + dir.path() + "\",\"hold_init\":1}",
      "--admin-listen",  "unix:" + admin_sock,
      "--no-access-log"};
  std::unique_ptr<HostProcess> h;
  std::thread starter([&] { h = std::make_unique<HostProcess>(args); });
  // The plugin's init is held once it wrote its pid to init-ready. Opened
  // without blocking, and polled: a host that fails to start never opens
  // the fifo's other end.
  int ready =
      open(dir.file("init-ready").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ssize_t n = -1;
  if (ready >= 0) {
    pollfd p{ready, POLLIN, 0};
    char pid_text[32] = {};
    if (poll(&p, 1, 20000) > 0) n = read(ready, pid_text, sizeof pid_text);
    close(ready);
  }
  CurlResult live, readiness;
  if (n > 0) {
    live = curl_unix(admin_sock, "/healthz");
    readiness = curl_unix(admin_sock, "/readyz");
  }
  int go = open(dir.file("init-go").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (go >= 0) {
    (void)!write(go, "go\n", 3);
    close(go);
  }
  starter.join();
  ASSERT_GT(n, 0) << "the init was never held";
  EXPECT_EQ(live.status, 200) << live.stderr_text;
  EXPECT_EQ(readiness.status, 503) << readiness.stderr_text;
  EXPECT_EQ(readiness.body, "{\"status\":\"starting\"}\n");
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  CurlResult after = curl_unix(admin_sock, "/readyz");
  EXPECT_EQ(after.status, 200);
  EXPECT_EQ(after.body, "{\"status\":\"ready\",\"generation\":1}\n");
  EXPECT_NE(h->stderr_text().find("pounce-host: admin on unix:" + admin_sock),
            std::string::npos)
      << h->stderr_text();
}

TEST(Readiness, Turns503AtSigtermWhileDrainDelayKeepsServing) {
  HostProcess h(hello_with_admin({"--drain-delay", "5"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  ASSERT_EQ(get_response(admin, "/readyz")->status, 200);
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("readiness is now 503")) << h.stderr_text();
  auto draining = get_response(admin, "/readyz");
  ASSERT_TRUE(draining);
  EXPECT_EQ(draining->status, 503);
  EXPECT_EQ(draining->body, "{\"status\":\"draining\"}\n");
  // Liveness is unaffected, and new connections are still served normally
  // (keep-alive included) until the delay ends.
  EXPECT_EQ(get_response(admin, "/healthz")->status, 200);
  RawClient c(h.port());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->header("Connection")) << "the drain began early";
  EXPECT_FALSE(h.stderr_text().find("--drain-delay over") != std::string::npos)
      << "the 5 s delay was over before the first request";
  // Then the drain: the keep-alive connection is closed, and the process
  // exits 0.
  ASSERT_TRUE(h.wait_for_stderr("--drain-delay over: draining", 10s));
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(Readiness, SecondSigtermEndsTheDrainDelay) {
  HostProcess h(hello_with_admin({"--drain-delay", "600"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("readiness is now 503"));
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("second SIGTERM: draining now"))
      << h.stderr_text();
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(Readiness, HealthCheckPathAnswersOnTheMainListener) {
  // Without the flag the path is the plugin's (hello: 404).
  {
    HostProcess plain({"--plugin", plugin_path("hello")});
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(get_response(plain.port(), "/lb-check")->status, 404);
  }
  HostProcess h({"--plugin", plugin_path("hello"), "--health-check-path",
                 "/lb-check", "--drain-delay", "30"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto ready = get_response(h.port(), "/lb-check");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(ready->body, "{\"status\":\"ready\",\"generation\":1}\n");
  EXPECT_EQ(ready->header("Content-Type"), "application/json");
  // Matched on the normalized path, whatever the query.
  EXPECT_EQ(get_response(h.port(), "/x/../lb-check?probe=1")->status, 200);
  EXPECT_EQ(get_response(h.port(), "/lb-check/x")->status, 404);
  // HEAD, as some balancers probe.
  RawClient c(h.port());
  c.send("HEAD /lb-check HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.read_response(true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_TRUE(head->body.empty());

  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("readiness is now 503"));
  auto draining = get_response(h.port(), "/lb-check");
  ASSERT_TRUE(draining);
  EXPECT_EQ(draining->status, 503);
  EXPECT_EQ(draining->body, "{\"status\":\"draining\"}\n");
  EXPECT_EQ(get_response(h.port(), "/hello")->status, 200);
}

// ---------------------------------------------------------------------------
// /status: per-loop counts, gathered from the loops themselves

TEST(AdminStatus, CountsConnectionsAndStreamsPerLoop) {
  HostProcess h({"--plugin", plugin_path("hello"), "--plugin",
                 "/sse=" + plugin_path("sse"), "--workers", "2",
                 "--admin-listen", "http://127.0.0.1:0", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(h.port()));
    clients.back()->send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(clients.back()->read_response());
  }
  RawClient stream(h.port());
  stream.send(
      "GET /sse/events?count=0&interval_ms=1000 HTTP/1.1\r\nHost: "
      "x\r\n\r\n");
  ASSERT_TRUE(stream.read_head());

  json s = status_of(admin);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["connections"], 4) << s.dump();
  EXPECT_EQ(s["streams"], 1) << s.dump();
  EXPECT_EQ(s["websockets"], 0);
  uint64_t on_workers = 0;
  for (const json& l : s["loops"]) {
    if (l["role"] == "worker") on_workers += l["connections"].get<uint64_t>();
  }
  EXPECT_EQ(on_workers, 3u) << s.dump();
  EXPECT_EQ(s["loops"][2]["connections"], 1) << s.dump();
  EXPECT_EQ(s["loops"][2]["streams"], 1) << s.dump();

  auto metrics = get_response(admin, "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_NE(metrics->body.find(
                "pounce_async_streams_open{loop=\"async\",index=\"0\"} 1\n"),
            std::string::npos)
      << metrics->body;
}

TEST(AdminStatus, ReportsALoopStuckInAHandlerAsNotResponding) {
  HostProcess h({"--plugin", test_plugin_path("sleeper_sync"), "--workers", "1",
                 "--admin-listen", "http://127.0.0.1:0", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  RawClient c(h.port());
  c.send("GET /sleep?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("gen 1 sleep entered")) << h.stderr_text();
  // The worker cannot answer while its handler sleeps: /status comes back
  // after its gather timeout, with that loop marked, the others counted.
  json s = status_of(admin);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s["loops"][0]["responding"], false) << s.dump();
  EXPECT_EQ(s["loops"][1]["responding"], true) << s.dump();
  // /healthz does not depend on the loops.
  EXPECT_EQ(get_response(admin, "/healthz")->status, 200);
  ASSERT_TRUE(c.read_response());
  json after = status_of(admin);
  EXPECT_EQ(after["loops"][0]["responding"], true) << after.dump();
}

TEST(AdminStatus, ReportsRestartsBySupervisor) {
  HostOptions o;
  o.args = {"--plugin", test_plugin_path("crasher"), "--admin-listen",
            "http://127.0.0.1:0", "--no-access-log"};
  o.crash_expected = true;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t admin = admin_port(h);
  EXPECT_EQ(status_of(admin)["supervisor_restarts"], 0);
  one_request(h.port(), "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("is serving", 20s)) << h.stderr_text();
  // Served by the new process: it is ready.
  ASSERT_EQ(get_response(h.port(), "/ok")->body, "ok");
  // The admin socket is the supervisor's: the same port after the restart.
  json s = status_of(admin);
  EXPECT_EQ(s["supervisor_restarts"], 1) << s.dump();
  EXPECT_EQ(s["status"], "ready");
}
