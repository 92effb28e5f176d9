// The built-in plugins served end to end, checked with curl.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host_process.h"
#include "raw_client.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    host_ = new HostProcess({"--plugin", plugin_path("hello"), "--plugin",
                             "/echo=" + plugin_path("echo"), "--plugin",
                             "/inspect=" + test_plugin_path("inspect"),
                             "--plugin-config", "/inspect={\"k\": [1, 2]}"});
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(host_->ok()) << host_->stderr_text(); }
  static CommandResult curl(std::vector<std::string> args) {
    args.insert(args.begin(), {"curl", "-sS", "--max-time", "10"});
    return run_command(args);
  }
  static HostProcess* host_;
};

HostProcess* ServeTest::host_ = nullptr;

TEST_F(ServeTest, HelloAtRoot) {
  auto r = curl({host_->url("/")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, World!");
}

TEST_F(ServeTest, HelloAtHello) {
  auto r = curl({"-i", host_->url("/hello")});
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK\r\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Content-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("Content-Length: 13\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("Server: pounce\r\n"), std::string::npos);
  EXPECT_NE(r.out.find("\r\nDate: "), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.size() - 13), "Hello, World!");
}

TEST_F(ServeTest, JsonIsSerialized) {
  auto r = curl({"-i", host_->url("/json")});
  EXPECT_NE(r.out.find("Content-Type: application/json\r\n"),
            std::string::npos);
  EXPECT_NE(r.out.find("\r\n\r\n{\"message\":\"Hello, World!\"}"),
            std::string::npos)
      << r.out;
}

TEST_F(ServeTest, UnknownHelloPathIs404) {
  auto r = curl({"-o", "/dev/null", "-w", "%{http_code}", host_->url("/nope")});
  EXPECT_EQ(r.out, "404");
}

TEST_F(ServeTest, HeadKeepsContentLengthWithoutBody) {
  auto r = curl({"-I", host_->url("/hello")});
  EXPECT_NE(r.out.find("Content-Length: 13\r\n"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("Hello"), std::string::npos);
}

TEST_F(ServeTest, EchoReturnsTheBodyAndItsType) {
  auto r = curl({"-i", "-X", "POST", "-H", "Content-Type: text/x-test",
                 "--data-binary", "some bytes\n\x01", host_->url("/echo/any")});
  EXPECT_NE(r.out.find("Content-Type: text/x-test\r\n"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.substr(r.out.size() - 12), "some bytes\n\x01");
}

TEST_F(ServeTest, EchoDefaultsToOctetStream) {
  RawClient c(host_->port());
  ASSERT_TRUE(
      c.send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
             "\r\nabc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Content-Type"), "application/octet-stream");
  EXPECT_EQ(r->body, "abc");
}

TEST_F(ServeTest, EchoOfALargeChunkedUpload) {
  std::string body(300 * 1000, 'x');
  for (size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + i % 26);
  RawClient c(host_->port());
  std::string req =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (size_t off = 0; off < body.size(); off += 7000) {
    size_t n = std::min<size_t>(7000, body.size() - off);
    char size[32];
    snprintf(size, sizeof size, "%zx;ext=1\r\n", n);
    req += size + body.substr(off, n) + "\r\n";
  }
  req += "0\r\nX-Trailer: t\r\n\r\n";
  ASSERT_TRUE(c.send(req));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

TEST_F(ServeTest, MountPrefixAndPathInfo) {
  auto r = curl({host_->url("/inspect/a/b?x=1&y=2")});
  EXPECT_NE(r.out.find("mount_prefix=/inspect\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("path_info=/a/b\n"), std::string::npos);
  EXPECT_NE(r.out.find("path=/inspect/a/b\n"), std::string::npos);
  EXPECT_NE(r.out.find("query=x=1&y=2\n"), std::string::npos);
  EXPECT_NE(r.out.find("remote=127.0.0.1\n"), std::string::npos);
}

TEST_F(ServeTest, PluginConfigReachesInit) {
  auto r = curl({host_->url("/inspect")});
  EXPECT_NE(r.out.find("config={\"k\": [1, 2]}\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("init_prefix=/inspect\n"), std::string::npos);
  EXPECT_NE(r.out.find("path_info=\n"), std::string::npos);
}

TEST_F(ServeTest, PrefixesMatchOnSegmentBoundaries) {
  // /inspectx is not under /inspect: it goes to hello at /, which 404s.
  auto r =
      curl({"-o", "/dev/null", "-w", "%{http_code}", host_->url("/inspectx")});
  EXPECT_EQ(r.out, "404");
  auto r2 = curl({host_->url("/inspect/")});
  EXPECT_NE(r2.out.find("path_info=/\n"), std::string::npos) << r2.out;
}

TEST_F(ServeTest, RoutesOnTheNormalizedPath) {
  // %69 is 'i' (unreserved, decoded); /x/../ collapses.
  auto r =
      one_request(host_->port(),
                  "GET /x/../%69nspect/./a/%7Eb HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("path=/inspect/a/~b\n"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("target=/x/../%69nspect/./a/%7Eb\n"),
            std::string::npos);
}

TEST_F(ServeTest, ReservedEscapesStayEncoded) {
  auto r = one_request(host_->port(),
                       "GET /inspect/a%2fb HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("path=/inspect/a%2Fb\n"), std::string::npos)
      << r->body;
}

TEST_F(ServeTest, AbsoluteFormTargetRoutesOnItsPath) {
  auto r = one_request(host_->port(),
                       "GET http://example.com/inspect/z?q HTTP/1.1\r\n"
                       "Host: example.com\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("path_info=/z\n"), std::string::npos) << r->body;
}

TEST_F(ServeTest, AccessLogHasOneLinePerRequest) {
  auto r = curl({host_->url("/hello?access-log-probe")});
  ASSERT_TRUE(host_->wait_for_stdout(
      "\"GET /hello?access-log-probe HTTP/1.1\" 200 13 "));
  std::string log = host_->stdout_text();
  size_t at = log.find("\"GET /hello?access-log-probe HTTP/1.1\"");
  size_t bol = log.rfind('\n', at);
  std::string line = log.substr(bol + 1, log.find('\n', at) - bol - 1);
  EXPECT_EQ(line.rfind("127.0.0.1 - - [", 0), 0u) << line;
}

// Serve one request, shut down (which flushes the log), and see what the
// access log wrote: something with it on, nothing with --no-access-log.
TEST(ServeCli, NoAccessLogWritesNothingToStdout) {
  for (bool on : {true, false}) {
    std::vector<std::string> args = {"--plugin", plugin_path("hello")};
    if (!on) args.push_back("--no-access-log");
    HostProcess h(args);
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    auto r = one_request(h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    h.signal(SIGTERM);
    EXPECT_EQ(h.wait_exit(), 0);
    if (on) {
      EXPECT_NE(h.stdout_text().find("\"GET /hello HTTP/1.1\" 200 13"),
                std::string::npos)
          << h.stdout_text();
    } else {
      EXPECT_EQ(h.stdout_text(), "");
    }
  }
}

TEST(ServeCli, HelpListsEveryFlag) {
  auto r = run_command({host_binary(), "--help"});
  EXPECT_EQ(r.status, 0);
  for (const char* flag : {"--plugin",
                           "--plugin-config",
                           "--config",
                           "--host",
                           "--port",
                           "--workers",
                           "--async-threads",
                           "--accept-mode",
                           "--cpu-affinity",
                           "--backlog",
                           "--max-connections",
                           "--keep-alive-timeout",
                           "--header-timeout",
                           "--request-timeout",
                           "--write-timeout",
                           "--shutdown-timeout",
                           "--reload-timeout",
                           "--max-header-size",
                           "--max-headers",
                           "--max-body-size",
                           "--stream-high-water",
                           "--stream-max-buffer",
                           "--compression",
                           "--no-compression",
                           "--compression-min-size",
                           "--server-timing",
                           "--ws-max-message-size",
                           "--ws-ping-interval",
                           "--ws-compression",
                           "--no-ws-compression",
                           "--ws-compression-level",
                           "--access-log",
                           "--no-access-log",
                           "--log-level"}) {
    EXPECT_NE(r.out.find(flag), std::string::npos) << flag;
  }
}

// --help only proves a flag is named; the tests below prove that each of
// these three changes what the server does.

// A client that sends a request and never reads the answer: the server's
// writes stop making progress, and it gives up after --write-timeout (0.5 s
// here), not after the 30 s default.
TEST(ServeCli, WriteTimeoutDropsAClientThatStopsReading) {
  HostProcess h({"--plugin", "/echo=" + plugin_path("echo"), "--max-body-size",
                 "33554432", "--write-timeout", "0.5"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // 16 MiB echoed back: far more than the socket buffers of both sides hold
  // (tcp_wmem's 4 MiB maximum plus an unread receive window).
  const size_t size = 16u << 20;
  RawClient c(h.port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                     std::to_string(size) + "\r\n\r\n"));
  ASSERT_TRUE(c.send(std::string(size - 1, 'w')));
  // The server starts writing only after the last body byte arrived, so its
  // last write progress is after this point.
  auto sent = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.send("w"));
  ASSERT_TRUE(h.wait_for_stderr("write timeout: ", 10s)) << h.stderr_text();
  auto took = std::chrono::steady_clock::now() - sent;
  // The timer is armed from libuv's loop time, cached at the start of the
  // loop turn that read the body's end (kTimerMayFireEarly).
  EXPECT_GE(took, 500ms - kTimerMayFireEarly);
  EXPECT_LT(took, 5s) << "--write-timeout 0.5 was not applied";
  // And the connection is gone: what was buffered, then the end.
  std::string got = c.read_all(10s);
  EXPECT_LT(got.size(), size);
}

// --backlog sets the listen queue: with the server stopped (nothing
// accepts), the kernel completes backlog + 1 handshakes and drops the SYNs
// after that (tcp_conn_request: a full accept queue drops the SYN). With the
// 2048 default, the 7th connection would complete.
TEST(ServeCli, BacklogBoundsTheListenQueue) {
  // One process: the stop below must reach the one that accepts.
  HostProcess h(
      {"--plugin", plugin_path("hello"), "--backlog", "5", "--no-supervise"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  h.signal(SIGSTOP);
  // kill() returns before the stop takes effect: wait until every thread is
  // stopped ('T'), or the server still accepts the first connections.
  auto stopped = [&] {
    const std::string tasks = "/proc/" + std::to_string(h.pid()) + "/task";
    bool all = true;
    for (const auto& t : std::filesystem::directory_iterator(tasks)) {
      std::ifstream in(t.path() / "stat");
      std::string line;
      std::getline(in, line);
      size_t close = line.rfind(')');
      all = all && close != std::string::npos && close + 2 < line.size() &&
            line[close + 2] == 'T';
    }
    return all;
  };
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(stopped());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(h.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fds;
  int completed = 0;
  for (int i = 0; i < 12; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    bool done = rc == 0;
    if (!done && errno == EINPROGRESS) {
      // A dropped SYN is retried after 1 s and dropped again (the queue
      // stays full): 2 s tells "queued" from "dropped" without a race.
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      done = poll(&p, 1, 2000) == 1 &&
             getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    if (!done) break;
    ++completed;
  }
  h.signal(SIGCONT);
  for (int fd : fds) close(fd);
  // backlog + 1 on current kernels (the queue is full above the backlog);
  // some count the backlog itself.
  EXPECT_GE(completed, 5);
  EXPECT_LE(completed, 6);
  // Still serving after the stop.
  auto r = one_request(h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// --log-level hides the lines below it: the "pinned" line is debug, the
// "mounted" line info, an error row's line warn.
TEST(ServeCli, LogLevelFiltersByLevel) {
  struct Case {
    const char* level;
    bool debug, info, warn;
  };
  for (const Case& k :
       {Case{"debug", true, true, true}, Case{"info", false, true, true},
        Case{"warn", false, false, true}, Case{"error", false, false, false}}) {
    HostProcess h({"--plugin", plugin_path("hello"), "--cpu-affinity",
                   "--log-level", k.level});
    ASSERT_TRUE(h.ok()) << k.level << ": " << h.stderr_text();
    auto r = one_request(h.port(), "GET  / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r) << k.level;
    EXPECT_EQ(r->status, 400) << k.level;
    h.signal(SIGTERM);
    ASSERT_EQ(h.wait_exit(), 0) << k.level;
    // Everything is flushed by the exit.
    const std::string err = h.stderr_text();
    EXPECT_EQ(err.find("pinned ") != std::string::npos, k.debug)
        << k.level << ":\n"
        << err;
    EXPECT_EQ(err.find("mounted ") != std::string::npos, k.info)
        << k.level << ":\n"
        << err;
    EXPECT_EQ(err.find(" BAD_REQUEST_LINE from ") != std::string::npos, k.warn)
        << k.level << ":\n"
        << err;
  }
}

// The four flags below were checked only for appearing in --help.

// --max-headers: the 101st header is refused at the default, the 4th here.
TEST(ServeCli, MaxHeadersIsApplied) {
  HostProcess h({"--plugin", plugin_path("hello"), "--max-headers", "3"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto ok = one_request(
      h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto over = one_request(
      h.port(),
      "GET /hello HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n");
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 431);
  EXPECT_EQ(over->header("X-Pounce-Error"), "TOO_MANY_HEADERS");
}

// --host: the server listens on that address only.
TEST(ServeCli, HostSelectsTheListenAddress) {
  HostProcess h({"--plugin", plugin_path("hello"), "--host", "127.0.0.2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("listening on http://127.0.0.2:" +
                                 std::to_string(h.port())),
            std::string::npos)
      << h.stderr_text();
  auto connects = [&](const char* ip) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(h.port());
    inet_pton(AF_INET, ip, &a.sin_addr);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
  };
  EXPECT_TRUE(connects("127.0.0.2"));
  EXPECT_FALSE(connects("127.0.0.1"));
}

// --no-ws-compression: a permessage-deflate offer is declined.
TEST(ServeCli, NoWsCompressionDeclinesTheOffer) {
  for (bool off : {false, true}) {
    std::vector<std::string> args = {"--plugin", plugin_path("echo")};
    if (off) args.push_back("--no-ws-compression");
    HostProcess h(args);
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    WsClient c(h.port());
    auto r =
        c.handshake("/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 101);
    EXPECT_EQ(r->header("Sec-WebSocket-Extensions").has_value(), !off)
        << (off ? "--no-ws-compression" : "default");
  }
}

// --access-log on the command line wins over "access_log": false in a
// config file.
TEST(ServeCli, AccessLogFlagOverridesTheConfigFile) {
  char path[] = "/tmp/pounce-config-XXXXXX.json";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  std::string json = "{\"access_log\": false}";
  ASSERT_EQ(write(fd, json.data(), json.size()),
            static_cast<ssize_t>(json.size()));
  close(fd);
  HostProcess h(
      {"--config", path, "--plugin", plugin_path("hello"), "--access-log"});
  unlink(path);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
  EXPECT_NE(h.stdout_text().find("\"GET /hello HTTP/1.1\" 200 13"),
            std::string::npos)
      << h.stdout_text();
}

TEST(ServeCli, StartupLineNamesTheRealPort) {
  HostProcess h({"--plugin", plugin_path("hello"), "--workers", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("pounce-host: listening on http://127.0.0.1:" +
                                 std::to_string(h.port()) + " (workers=1)\n"),
            std::string::npos);
  EXPECT_NE(h.port(), 0);
}

TEST(ServeCli, SigtermExitsZero) {
  HostProcess h({"--plugin", plugin_path("hello")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(ServeCli, ConfigFileWithCommandLineOverride) {
  char path[] = "/tmp/pounce-config-XXXXXX.json";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  std::string json =
      "{\"plugin\": [\"" + plugin_path("hello") +
      "\", \"/i=" + test_plugin_path("inspect") +
      "\"], \"plugin_config\": [\"/i={\\\"from\\\":\\\"file\\\"}\"],"
      " \"workers\": 1, \"access_log\": false}";
  ASSERT_EQ(write(fd, json.data(), json.size()),
            static_cast<ssize_t>(json.size()));
  close(fd);
  HostProcess h({"--config", path, "--plugin-config", "/i={\"from\":\"cli\"}"});
  unlink(path);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto r = one_request(h.port(), "GET /i HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("config={\"from\":\"cli\"}"), std::string::npos)
      << r->body;
  EXPECT_EQ(h.stdout_text(), "");  // access_log: false from the file
}

TEST(ServeCli, UnknownConfigKeyIsAnError) {
  char path[] = "/tmp/pounce-config-XXXXXX.json";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  std::string json = "{\"plugin\": [\"x.so\"], \"wokers\": 2}";
  ASSERT_EQ(write(fd, json.data(), json.size()),
            static_cast<ssize_t>(json.size()));
  close(fd);
  auto r = run_command({host_binary(), "--config", path});
  unlink(path);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("unknown configuration key: wokers"), std::string::npos)
      << r.err;
}

TEST(ServeCli, WsCompressionLevelIsOneToNine) {
  for (const char* level : {"0", "10"}) {
    auto r =
        run_command({host_binary(), "--port", "0", "--plugin",
                     plugin_path("echo"), "--ws-compression-level", level});
    EXPECT_NE(r.status, 0) << level;
    // The flag as typed (--ws-...) or as its config key (ws_...).
    EXPECT_TRUE(r.err.find("ws-compression-level") != std::string::npos ||
                r.err.find("ws_compression_level") != std::string::npos)
        << r.err;
  }
}

TEST(ServeCli, DuplicatePrefixIsAStartupError) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        "/a=" + plugin_path("hello"), "--plugin",
                        "/a/=" + plugin_path("echo")});
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("duplicate mount prefix /a"), std::string::npos)
      << r.err;
}

}  // namespace
