// The load generator against fake servers that misbehave on purpose: wrong
// bodies, fast 404s, resets with pipelined requests in flight, and stalls
// under a fixed rate (the coordinated-omission correction must show them in
// the tail). Also the open-loop schedule, the server CPU window and the
// arithmetic from a run's counters to its table figures.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <fcntl.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/http_client.h"
#include "bench/load_generator.h"
#include "bench/proc_stats.h"
#include "bench/rate_schedule.h"
#include "bench/results.h"
#include "bench/runner.h"

using namespace pounce::bench;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMs = 1'000'000;  // ns

// A server on 127.0.0.1 with one thread per connection. For every request
// head it reads (GET only: a head ends at CRLF CRLF), `answer` decides what
// happens: it returns the bytes to send, or sets *reset to close the
// connection with a RST instead.
class FakeServer {
 public:
  // `index`: requests read on this server so far (0-based); `pipelined`:
  // requests read but not answered yet on this connection, this one
  // included.
  using Answer = std::function<std::string(uint64_t index, unsigned pipelined,
                                           bool* reset)>;

  explicit FakeServer(Answer answer) : answer_(std::move(answer)) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listen_fd_, 64);
    socklen_t len = sizeof a;
    getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~FakeServer() {
    stop_ = true;
    shutdown(listen_fd_, SHUT_RDWR);
    acceptor_.join();
    close(listen_fd_);
    std::lock_guard lock(mutex_);
    for (auto& t : handlers_) t.join();
  }

  uint16_t port() const { return port_; }
  uint64_t resets() const { return resets_.load(); }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard lock(mutex_);
      handlers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void serve(int fd) {
    std::string in;
    char buf[16384];
    bool open = true;
    while (open && !stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      // Every complete head read so far, answered in order.
      std::vector<size_t> ends;
      for (size_t at = in.find("\r\n\r\n"); at != std::string::npos;
           at = in.find("\r\n\r\n", at + 4)) {
        ends.push_back(at + 4);
      }
      std::string out;
      for (size_t i = 0; i < ends.size() && open; ++i) {
        bool reset = false;
        out += answer_(next_++, static_cast<unsigned>(ends.size() - i), &reset);
        if (reset) {
          linger l{1, 0};  // close() sends a RST
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
          ++resets_;
          open = false;
          out.clear();
        }
      }
      if (!ends.empty()) in.erase(0, ends.back());
      if (!out.empty() && write(fd, out.data(), out.size()) < 0) break;
    }
    close(fd);
  }

  Answer answer_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  // Touched only by the connection threads, one at a time in these tests
  // (one connection), and read after the run.
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> resets_{0};
  std::thread acceptor_;
  std::mutex mutex_;  // guards handlers_
  std::vector<std::thread> handlers_;
};

std::string response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" +
         body;
}

LoadConfig config_for(uint16_t port) {
  LoadConfig c;
  c.port = port;
  c.request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  c.expected_body = "Hello, World!";
  c.connections = 1;
  c.threads = 1;
  c.duration_s = 0.5;
  return c;
}

LoadResult run(const LoadConfig& c) {
  return LoadGenerator(c).run(nullptr, nullptr);
}

}  // namespace

// --- bodies and status (items 4, 5) -------------------------------------

TEST(BodyCheck, ComparesEveryPieceWithTheExpectedBody) {
  const std::string expected = "Hello, World!";
  BodyCheck c(&expected);
  c.on_body("Hello");
  c.on_body(", World!");
  EXPECT_TRUE(c.finish());
  c.on_body("Hello, World?");  // one byte off
  EXPECT_FALSE(c.finish());
  c.on_body("Hello");  // short
  EXPECT_FALSE(c.finish());
  c.on_body("Hello, World!!");  // long
  EXPECT_FALSE(c.finish());
  EXPECT_TRUE(BodyCheck(nullptr).finish());  // nothing to check
}

TEST(LoadGenerator, AWrongBodyIsCountedAndNeverGood) {
  FakeServer s(
      [](uint64_t, unsigned, bool*) { return response(200, "Hello, World?"); });
  LoadResult r = run(config_for(s.port()));
  ASSERT_GT(r.counters.completed, 10u);
  EXPECT_EQ(r.counters.wrong_body, r.counters.completed);
  EXPECT_EQ(r.counters.non_2xx, 0u);
  EXPECT_EQ(r.counters.good(), 0u);
  EXPECT_EQ(r.per_second(), 0.0);
  EXPECT_GT(r.answered_per_second(), 0.0);
}

TEST(LoadGenerator, FastNon2xxAnswersAreNotGood) {
  FakeServer s(
      [](uint64_t, unsigned, bool*) { return response(404, "Hello, World!"); });
  LoadResult r = run(config_for(s.port()));
  ASSERT_GT(r.counters.completed, 10u);
  EXPECT_EQ(r.counters.non_2xx, r.counters.completed);
  EXPECT_EQ(r.counters.good(), 0u);
  EXPECT_EQ(r.per_second(), 0.0);
}

TEST(LoadGenerator, TheRightBodyIsGoodAndItsSizeIsMeasured) {
  const std::string ok = response(200, "Hello, World!");
  FakeServer s([&](uint64_t, unsigned, bool*) { return ok; });
  LoadResult r = run(config_for(s.port()));
  ASSERT_GT(r.counters.completed, 10u);
  EXPECT_EQ(r.counters.wrong_body, 0u);
  EXPECT_EQ(r.counters.good(), r.counters.completed);
  EXPECT_EQ(r.counters.response_bytes, r.counters.completed * ok.size());
}

// --- lost requests (item 6) --------------------------------------------

// Every connection gets its 4 pipelined requests read, then a RST: each
// reset loses 4 requests, not one.
TEST(LoadGenerator, AResetCountsEveryPipelinedRequestItLoses) {
  FakeServer s([](uint64_t, unsigned pipelined, bool* reset) {
    if (pipelined == 4) *reset = true;
    return std::string();
  });
  LoadConfig c = config_for(s.port());
  c.pipeline = 4;
  c.duration_s = 0.3;
  LoadResult r = run(c);
  const uint64_t resets = s.resets();
  ASSERT_GE(resets, 2u);
  EXPECT_EQ(r.counters.completed, 0u);
  // The last reset may land after the window closed.
  EXPECT_GE(r.counters.read_errors, 4 * (resets - 1));
  EXPECT_LE(r.counters.read_errors, 4 * resets);
  EXPECT_EQ(r.counters.read_errors % 4, 0u);
}

// --- the open loop (item 7, test row 8) ----------------------------------

TEST(RateSchedule, IntendedTimesDueCountsAndBacklog) {
  RateSchedule s;
  s.start_ns = 1'000;
  s.interval_ns = 250;  // 4 per µs
  EXPECT_EQ(s.intended(0), 1'000u);
  EXPECT_EQ(s.intended(3), 1'750u);
  EXPECT_EQ(s.due(999), 0u);    // before the start
  EXPECT_EQ(s.due(1'000), 1u);  // request 0 is due at the start
  EXPECT_EQ(s.due(1'249), 1u);
  EXPECT_EQ(s.due(1'250), 2u);
  EXPECT_EQ(s.due(3'500), 11u);
  s.next = 4;
  EXPECT_EQ(s.backlog(3'500), 7u);
  s.next = 20;
  EXPECT_EQ(s.backlog(3'500), 0u);  // ahead of schedule: nothing owed
  RateSchedule off;
  EXPECT_EQ(off.due(5'000), 0u);  // no rate, nothing due
}

// A server that answers at once but stalls 300 ms once: at 1000 req/s the
// requests due during the stall wait up to 300 ms, measured from when they
// were due, so about 30% of the values lie near or above 100 ms. Without
// the correction (latency from the actual send), only one request would.
TEST(LoadGenerator, RateModeShowsAStallInTheTail) {
  const std::string ok = response(200, "Hello, World!");
  FakeServer s([&](uint64_t i, unsigned, bool*) {
    if (i == 200) std::this_thread::sleep_for(300ms);
    return ok;
  });
  LoadConfig c = config_for(s.port());
  c.rate = 1000;
  c.duration_s = 1.0;
  LoadResult r = run(c);
  ASSERT_GT(r.counters.completed, 300u);
  EXPECT_EQ(r.counters.wrong_body, 0u);
  // Every request due in the window was answered or given up on: the
  // schedule (dispatch_due) lost none and sent none twice.
  const double due = c.rate * r.elapsed_s;
  const double accounted =
      static_cast<double>(r.counters.completed + r.counters.abandoned);
  EXPECT_NEAR(accounted, due, 2 + due * 0.01);
  EXPECT_EQ(r.latency.count(), r.counters.completed + r.counters.abandoned);
  EXPECT_GE(r.latency.max(), 290 * kMs);
  EXPECT_GE(r.latency.quantile(0.99), 250 * kMs);
  EXPECT_GE(r.latency.quantile(0.80), 50 * kMs);
}

// A server that stops answering for good: every request due after that is
// either in flight or never sent when the window ends. Each is recorded up
// to the end, so the tail shows the stall instead of nothing.
TEST(LoadGenerator, RateModeRecordsWhatTheWindowAbandons) {
  const std::string ok = response(200, "Hello, World!");
  FakeServer s([&](uint64_t i, unsigned, bool*) {
    if (i >= 100) std::this_thread::sleep_for(2s);
    return ok;
  });
  LoadConfig c = config_for(s.port());
  c.rate = 500;  // request 100 is due at 200 ms
  c.duration_s = 0.8;
  LoadResult r = run(c);
  ASSERT_GE(r.counters.completed, 90u);
  EXPECT_LE(r.counters.completed, 100u);
  EXPECT_GE(r.counters.abandoned, 250u);  // ~300 due in the last 600 ms
  EXPECT_GE(r.unsent, 200u);
  EXPECT_EQ(r.latency.count(), r.counters.completed + r.counters.abandoned);
  EXPECT_GE(r.latency.max(), 550 * kMs);
  EXPECT_GE(r.latency.quantile(0.99), 500 * kMs);
  EXPECT_GE(r.latency.quantile(0.75), 100 * kMs);
}

// A reset with requests in flight, under a rate: they are lost (read
// errors) and their latency up to the reset is recorded.
TEST(LoadGenerator, RateModeRecordsRequestsLostToAReset) {
  FakeServer s([](uint64_t i, unsigned pipelined, bool* reset) {
    // Hold every 50th request for 100 ms with the ones behind it in
    // flight, then reset: all of them are lost.
    if (i % 50 == 49) {
      std::this_thread::sleep_for(100ms);
      *reset = true;
      (void)pipelined;
      return std::string();
    }
    return response(200, "Hello, World!");
  });
  LoadConfig c = config_for(s.port());
  c.rate = 500;
  c.pipeline = 8;
  c.duration_s = 0.6;
  LoadResult r = run(c);
  ASSERT_GE(s.resets(), 2u);
  EXPECT_GE(r.counters.read_errors, s.resets() - 1);
  EXPECT_GE(r.counters.abandoned, s.resets() - 1);
  EXPECT_EQ(r.latency.count(), r.counters.completed + r.counters.abandoned);
  EXPECT_GE(r.latency.max(), 100 * kMs);
}

// --- the server-side window matches the load window (item 8) -------------

// The server's CPU is read (window(true), window(false)) only once every
// load thread has opened its window after the warm-up, and closed it: the
// old code read it when the commands were sent, before a loop took them.
TEST(LoadGenerator, ServerFiguresAreReadWhenTheLoadWindowOpensAndCloses) {
  const std::string ok = response(200, "Hello, World!");
  FakeServer s([&](uint64_t, unsigned, bool*) { return ok; });
  LoadConfig c = config_for(s.port());
  c.connections = 4;
  c.threads = 2;
  c.warmup_s = 0.2;
  c.duration_s = 0.3;
  uint64_t opened = 0, closed = 0;
  LoadResult r = LoadGenerator(c).run(nullptr, nullptr, [&](bool opening) {
    (opening ? opened : closed) = uv_hrtime();
  });
  ASSERT_GT(r.counters.completed, 10u);
  ASSERT_GT(r.window_opened_ns, 0u);
  EXPECT_GE(opened, r.window_opened_ns);
  EXPECT_GE(closed, r.window_closed_ns);
  // And not long after: the read follows the threads, it does not wait.
  EXPECT_LT(opened - r.window_opened_ns, 100 * kMs);
  EXPECT_LT(closed - r.window_closed_ns, 100 * kMs);
}

// --- from counters to figures (test row 7) --------------------------------

// A known histogram and known counters give known figures: the percentiles
// in µs, the rate of good answers only, and the server CPU per good answer.
TEST(SampleOf, PercentilesRatesAndCpuFromKnownInputs) {
  LoadResult r;
  r.elapsed_s = 2.0;
  for (uint64_t us = 1; us <= 1000; ++us) r.latency.record(us * 1000);
  r.counters.completed = 1000;
  r.counters.non_2xx = 100;
  r.counters.wrong_body = 100;
  r.counters.response_bytes = 131'000;
  Sample s = sample_of(r, /*cpu_us=*/8'000);
  EXPECT_EQ(s.good, 800u);
  EXPECT_DOUBLE_EQ(s.per_second, 400.0);  // 800 good in 2 s
  EXPECT_DOUBLE_EQ(s.answered_per_second, 500.0);
  EXPECT_DOUBLE_EQ(s.cpu_us_per_req, 10.0);  // 8000 µs over 800 good
  EXPECT_DOUBLE_EQ(s.response_bytes, 131.0);
  EXPECT_EQ(s.latency_samples, 1000u);
  // Within the histogram's 0.4% bucket precision of the exact ranks.
  EXPECT_NEAR(s.p50_us, 500, 2);
  EXPECT_NEAR(s.p95_us, 950, 4);
  EXPECT_NEAR(s.p99_us, 990, 4);
  EXPECT_NEAR(s.p999_us, 999, 4);
  EXPECT_DOUBLE_EQ(s.max_us, 1000);
  EXPECT_NEAR(s.mean_us, 500.5, 0.01);
  EXPECT_EQ(s.errors(), 200u);
  EXPECT_LT(sample_of(r, -1).cpu_us_per_req, 0);  // unknown stays unknown
}

// --- the server's CPU window (items 1, 2) --------------------------------

namespace {

// Burns `ms` of this process's CPU time.
void burn_cpu(int ms) {
  timespec ts{};
  auto cpu_ms = [&] {
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1'000'000;
  };
  const long until = cpu_ms() + ms;
  volatile uint64_t x = 0;
  while (cpu_ms() < until) x = x + 1;
}

// Blocks until `fd` has a byte or closes.
void wait_byte(int fd) {
  char c;
  while (read(fd, &c, 1) < 0 && errno == EINTR) {
  }
}

}  // namespace

// The tree root forks a worker after the window opened; the worker burns
// 300 ms of CPU and exits, and the root reaps it, all inside the window.
// Then a second worker burns 200 ms and stays. Both must be in the window's
// figure: the old code reused the tree read at the start (which held
// neither) and ignored cutime/cstime (where the first one's CPU went).
TEST(CpuWindow, CountsAWorkerThatStartedAndExitedInTheWindow) {
  int go[2], done[2];
  ASSERT_EQ(pipe(go), 0);
  ASSERT_EQ(pipe(done), 0);
  pid_t root = fork();
  ASSERT_GE(root, 0);
  if (root == 0) {
    setpgid(0, 0);
    wait_byte(go[0]);
    pid_t worker = fork();
    if (worker == 0) {
      burn_cpu(300);
      _exit(0);
    }
    waitpid(worker, nullptr, 0);
    // A respawned worker: started in the window and alive at its end.
    int burnt[2];
    if (pipe(burnt) != 0) _exit(1);
    if (fork() == 0) {
      burn_cpu(200);
      (void)!write(burnt[1], "x", 1);
      pause();
      _exit(0);
    }
    wait_byte(burnt[0]);
    (void)!write(done[1], "x", 1);
    pause();
    _exit(0);
  }
  CpuWindow w;
  w.open(root);
  ASSERT_EQ(write(go[1], "x", 1), 1);
  wait_byte(done[0]);
  const int64_t us = w.close();
  kill(-root, SIGKILL);
  waitpid(root, nullptr, 0);
  for (int fd : {go[0], go[1], done[0], done[1]}) close(fd);
  // 300 + 200 ms burnt, in 10 ms ticks; the root itself only waits.
  EXPECT_GE(us, 470'000);
  EXPECT_LE(us, 600'000);
}

TEST(ProcessTree, LeavesOutH2osBacktraceHelper) {
  EXPECT_TRUE(is_helper_command_line(
      "perl -x /usr/share/h2o/annotate-backtrace-symbols "));
  EXPECT_FALSE(is_helper_command_line("nginx: worker process"));
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t root = fork();
  ASSERT_GE(root, 0);
  if (root == 0) {
    setpgid(0, 0);  // so that the test can kill the whole tree
    // Each perl writes a byte once its own code runs. The end of exec (a
    // close-on-exec pipe reaching EOF) is not enough: the kernel closes
    // those descriptors before it sets up the new command line, so
    // /proc/PID/cmdline can still be empty when the parent looks.
    int running[2];
    if (pipe(running) != 0) _exit(1);
    // A helper with h2o's helper's name in its command line, and an
    // ordinary worker (perl is Essential on Debian).
    for (const char* name : {"annotate-backtrace-symbols", "worker"}) {
      if (fork() == 0) {
        dup2(running[1], STDOUT_FILENO);
        close(running[0]);
        close(running[1]);
        execl("/usr/bin/perl", "perl", "-e",
              "$| = 1; print 'x'; close STDOUT; sleep 30", name,
              static_cast<char*>(nullptr));
        _exit(127);
      }
    }
    close(running[1]);
    wait_byte(running[0]);
    wait_byte(running[0]);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  wait_byte(ready[0]);
  std::vector<pid_t> tree = process_tree(root);
  std::vector<std::string> names;
  for (pid_t p : tree) {
    std::ifstream in("/proc/" + std::to_string(p) + "/cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), {});
    names.push_back(cmd.substr(cmd.rfind('\0', cmd.size() - 2) + 1));
  }
  kill(-root, SIGKILL);
  waitpid(root, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  // The root and its worker; not the helper.
  ASSERT_EQ(tree.size(), 2u);
  EXPECT_EQ(tree[0], root);
  EXPECT_EQ(names[1], std::string("worker", 7));  // with its NUL
}
