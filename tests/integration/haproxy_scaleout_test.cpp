// The scale-out test (issue 14 §7): two pounce-host instances, each with its
// supervisor, behind Debian's HAProxy on loopback. HAProxy speaks PROXY
// protocol v2 to the instances (`send-proxy-v2`, `?proxy-protocol=1`
// listeners) and checks GET /readyz on their admin listeners (`check port`).
// While a client loads HAProxy for 15 s, the test, in turn:
//   1. sends SIGTERM to instance A (--drain-delay 2);
//   2. starts A again on the same ports;
//   3. sends SIGHUP to B (a plugin reload);
//   4. SIGKILLs B's serving process (its supervisor starts another).
// Pass: no failed request through steps 1-3; in step 4, at most as many
// failures as there are connections (the requests in flight at the kill);
// the instances' access logs show the client's address (127.0.0.2, which
// the client binds), never HAProxy's (127.0.0.1).
// docs/deploy/haproxy.cfg is the same configuration for a real deployment.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "host_process.h"

extern char** environ;

using namespace pounce::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

const char* kHaproxy = "/usr/sbin/haproxy";
constexpr int kConnections = 8;

// A port nobody listens on now, for HAProxy's frontend (which cannot bind
// port 0 and report it).
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  close(fd);
  return port;
}

// The real port of the admin listener from its startup line.
uint16_t admin_port(HostProcess& h) {
  const std::string marker = "pounce-host: admin on http://";
  if (!h.wait_for_stderr(marker)) return 0;
  const std::string err = h.stderr_text();
  const size_t at = err.find(marker) + marker.size();
  const std::string hostport = err.substr(at, err.find('\n', at) - at);
  return static_cast<uint16_t>(
      std::stoi(hostport.substr(hostport.rfind(':') + 1)));
}

// One instance: hello behind a PROXY-protocol listener, an admin listener,
// a JSON access log. Port 0 the first time; the same ports again later.
std::unique_ptr<HostProcess> instance(uint16_t port, uint16_t admin) {
  return std::make_unique<HostProcess>(std::vector<std::string>{
      "--listen",
      "http://127.0.0.1:" + std::to_string(port) + "?proxy-protocol=1",
      "--admin-listen", "http://127.0.0.1:" + std::to_string(admin),
      "--drain-delay", "2", "--plugin", plugin_path("hello"), "--workers", "1",
      "--access-log-format", "json"});
}

// HAProxy in the foreground (-db), its output in a file; SIGTERM at the
// end.
class Haproxy {
 public:
  Haproxy(const std::string& config, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> argv = {kHaproxy, "-db", "-f", config};
    std::vector<char*> c_argv;
    for (auto& a : argv) c_argv.push_back(a.data());
    c_argv.push_back(nullptr);
    if (posix_spawn(&pid_, kHaproxy, &actions, nullptr, c_argv.data(),
                    environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Haproxy() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status;
      waitpid(pid_, &status, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  bool running() {
    int status;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

 private:
  pid_t pid_ = -1;
};

// A keep-alive HTTP/1.1 client from 127.0.0.2: reconnects after any
// failure, and notes when each failure happened.
class LoadClient {
 public:
  explicit LoadClient(uint16_t port) : port_(port) {}
  ~LoadClient() { disconnect(); }

  // One request; false (and the connection dropped) on any failure.
  bool request() {
    if (fd_ < 0 && !connect_to()) return false;
    static const std::string kRequest =
        "GET /hello HTTP/1.1\r\nHost: lb\r\n\r\n";
    if (::send(fd_, kRequest.data(), kRequest.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(kRequest.size())) {
      disconnect();
      return false;
    }
    if (!read_response()) {
      disconnect();
      return false;
    }
    return true;
  }

 private:
  bool connect_to() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    timeval tv{10, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The client's own address, distinct from HAProxy's 127.0.0.1: the
    // access logs can only show it if the PROXY header carried it.
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.2", &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port_);
    inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
        connect(fd_, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
      disconnect();
      return false;
    }
    buf_.clear();
    return true;
  }
  void disconnect() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool fill() {
    char chunk[4096];
    const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  // A 200 with the hello body; a close after it is fine (reconnect next).
  bool read_response() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return false;
    }
    const std::string head = buf_.substr(0, end);
    if (head.rfind("HTTP/1.1 200 ", 0) != 0) return false;
    size_t length = 0;
    for (const char* name : {"\r\ncontent-length:", "\r\nContent-Length:"}) {
      const size_t at = head.find(name);
      if (at != std::string::npos) {
        length = std::stoul(head.substr(at + std::strlen(name)));
      }
    }
    while (buf_.size() < end + 4 + length) {
      if (!fill()) return false;
    }
    const bool ok = buf_.substr(end + 4, length) == "Hello, World!";
    buf_.erase(0, end + 4 + length);
    if (head.find("\r\nconnection: close") != std::string::npos ||
        head.find("\r\nConnection: close") != std::string::npos) {
      disconnect();
    }
    return ok;
  }

  uint16_t port_;
  int fd_ = -1;
  std::string buf_;
};

// Failures, each with the time it happened.
struct Tally {
  std::mutex mutex;  // guards failures (the client threads add to it)
  std::vector<Clock::time_point> failures;
  std::atomic<uint64_t> ok{0};
};

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

TEST(HaproxyScaleOut, DrainRestartReloadAndCrashBehindHaproxy) {
  if (access(kHaproxy, X_OK) != 0) {
    GTEST_SKIP() << "haproxy is not installed (" << kHaproxy
                 << "): apt-get install haproxy (make deps)";
  }
  char tmpl[] = "/tmp/pounce-haproxy-XXXXXX";
  const std::string dir = mkdtemp(tmpl);

  // The instances take free ports; A gets the same ones again in step 2.
  auto a = instance(0, 0);
  ASSERT_TRUE(a->ok()) << a->stderr_text();
  auto b = instance(0, 0);
  ASSERT_TRUE(b->ok()) << b->stderr_text();
  const uint16_t a_port = a->port(), a_admin = admin_port(*a);
  const uint16_t b_port = b->port(), b_admin = admin_port(*b);
  ASSERT_NE(a_admin, 0);
  ASSERT_NE(b_admin, 0);
  const uint16_t front = free_port();
  ASSERT_NE(front, 0);

  // Checks every 100 ms, one failure takes a server out and one success
  // puts it back, so that HAProxy stops sending to A well within its
  // 2 s --drain-delay. A request that meets a closing connection anyway
  // is retried on the other server (retry-on, redispatch).
  const std::string config = dir + "/haproxy.cfg";
  {
    std::ofstream f(config);
    f << "global\n"
         "    maxconn 1000\n"
         "defaults\n"
         "    mode http\n"
         "    timeout connect 2s\n"
         "    timeout client 30s\n"
         "    timeout server 30s\n"
         "    timeout check 1s\n"
         "    retries 3\n"
         "    option redispatch 1\n"
         "    retry-on conn-failure empty-response response-timeout 503\n"
         "frontend web\n"
         "    bind 127.0.0.1:"
      << front
      << "\n"
         "    default_backend pounce\n"
         "backend pounce\n"
         "    balance roundrobin\n"
         "    option httpchk\n"
         "    http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host "
         "pounce\n"
         "    http-check expect status 200\n"
         "    default-server send-proxy-v2 inter 100ms fall 1 rise 1\n"
         "    server a 127.0.0.1:"
      << a_port << " check port " << a_admin
      << "\n"
         "    server b 127.0.0.1:"
      << b_port << " check port " << b_admin << "\n";
  }
  Haproxy haproxy(config, dir + "/haproxy.log");
  ASSERT_TRUE(haproxy.started());

  // HAProxy is up and both servers answer through it: both access logs
  // have a line (a health check is no access-log line).
  {
    LoadClient probe(front);
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline &&
           (a->stdout_text().find("\"client\"") == std::string::npos ||
            b->stdout_text().find("\"client\"") == std::string::npos)) {
      probe.request();
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_TRUE(haproxy.running());
    ASSERT_NE(a->stdout_text().find("\"client\""), std::string::npos)
        << "A never served through HAProxy";
    ASSERT_NE(b->stdout_text().find("\"client\""), std::string::npos)
        << "B never served through HAProxy";
  }

  Tally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  const auto load_start = Clock::now();
  for (int i = 0; i < kConnections; ++i) {
    clients.emplace_back([&] {
      LoadClient c(front);
      while (!stop.load(std::memory_order_relaxed)) {
        if (c.request()) {
          tally.ok.fetch_add(1, std::memory_order_relaxed);
        } else {
          {
            std::lock_guard lock(tally.mutex);
            tally.failures.push_back(Clock::now());
          }
          std::this_thread::sleep_for(10ms);  // no spin against a refusal
        }
      }
    });
  }
  auto served_since = [](HostProcess& h, size_t before) {
    return count_of(h.stdout_text(), "\"client\":") > before;
  };

  // 1. SIGTERM to A: /readyz turns 503 at once, A serves 2 s more, then
  // drains and exits 0.
  std::this_thread::sleep_for(2s);
  a->signal(SIGTERM);
  EXPECT_EQ(a->wait_exit(20s), 0) << a->stderr_text();
  const std::string a_first_out = a->stdout_text();

  // 2. A again, on the same ports; HAProxy's checks bring it back.
  a.reset();  // its output is in a_first_out
  a = instance(a_port, a_admin);
  ASSERT_TRUE(a->ok()) << a->stderr_text();
  const auto a_back_deadline = Clock::now() + 10s;
  while (!served_since(*a, 0) && Clock::now() < a_back_deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served_since(*a, 0))
      << "HAProxy did not bring A back\n"
      << read_file(dir + "/haproxy.log") << a->stderr_text();

  // 3. SIGHUP to B: a reload, no connection lost.
  const size_t b_lines = count_of(b->stdout_text(), "\"client\":");
  b->signal(SIGHUP);
  EXPECT_TRUE(b->wait_for_stderr("reloaded generation 2", 10s))
      << b->stderr_text();
  const auto b_after_deadline = Clock::now() + 10s;
  while (!served_since(*b, b_lines) && Clock::now() < b_after_deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(served_since(*b, b_lines)) << "B stopped serving after SIGHUP";

  // 4. SIGKILL to B's serving process: its supervisor starts another.
  const pid_t b_child = b->serving_pid();
  ASSERT_NE(b_child, b->pid());
  size_t failures_before_kill;
  {
    std::lock_guard lock(tally.mutex);
    failures_before_kill = tally.failures.size();
  }
  const size_t serving_lines = count_of(b->stderr_text(), " is serving");
  const auto kill_time = Clock::now();
  kill(b_child, SIGKILL);
  EXPECT_TRUE(b->wait_for_stderr(" is serving", 20s, serving_lines + 1))
      << b->stderr_text();

  // The rest of the 15 s of load.
  const auto load_end = load_start + 15s;
  if (Clock::now() < load_end)
    std::this_thread::sleep_for(load_end - Clock::now());
  stop = true;
  for (auto& t : clients) t.join();

  size_t after_kill = 0;
  for (const auto& t : tally.failures) after_kill += t >= kill_time;
  EXPECT_EQ(failures_before_kill, 0u)
      << "requests failed in steps 1-3 (drain, restart, reload)\n"
      << read_file(dir + "/haproxy.log");
  EXPECT_LE(after_kill, static_cast<size_t>(kConnections))
      << "more failures than requests in flight at the kill";
  EXPECT_GT(tally.ok.load(), 1000u);
  EXPECT_TRUE(haproxy.running());

  // The client's address, never HAProxy's, in every instance's log.
  const std::string logs = a_first_out + a->stdout_text() + b->stdout_text();
  EXPECT_GT(count_of(logs, "\"client\":\"127.0.0.2\""), 1000u);
  EXPECT_EQ(count_of(logs, "\"client\":\"127.0.0.1\""), 0u);
  EXPECT_EQ(count_of(logs, "\"client\":"),
            count_of(logs, "\"client\":\"127.0.0.2\""));
  RecordProperty("requests_ok", std::to_string(tally.ok.load()));
  RecordProperty("failures_after_kill", std::to_string(after_kill));
  std::printf("load: %llu ok; failed: %zu in steps 1-3, %zu after the kill\n",
              static_cast<unsigned long long>(tally.ok.load()),
              failures_before_kill, after_kill);

  std::filesystem::remove_all(dir);
}

}  // namespace
