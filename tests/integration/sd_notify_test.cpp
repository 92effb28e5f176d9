// sd_notify (issue 14 §5): the test binds the notification socket itself,
// as systemd would, and reads what the host sends: READY=1 once serving,
// RELOADING=1 with MONOTONIC_USEC and READY=1 around a reload, STOPPING=1 at
// SIGTERM, and WATCHDOG=1 only while every loop turns.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

// The service manager's end: an AF_UNIX datagram socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~NotifySocket() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

  // The next message, or "" after `timeout`.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "";
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }
  // Skips messages until one starts with `prefix`; returns it, or "".
  std::string until(const std::string& prefix,
                    std::chrono::milliseconds timeout = 10s,
                    std::vector<std::string>* skipped = nullptr) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return "";
      std::string m = next(left);
      if (m.empty()) return "";
      if (m.rfind(prefix, 0) == 0) return m;
      if (skipped) skipped->push_back(m);
    }
  }
  // Reads and drops what is queued now.
  void drain() {
    while (!next(std::chrono::milliseconds(0)).empty()) {
    }
  }
  // Every message that arrives within `window`.
  std::vector<std::string> collect(std::chrono::milliseconds window) {
    std::vector<std::string> out;
    auto deadline = std::chrono::steady_clock::now() + window;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return out;
      std::string m = next(left);
      if (!m.empty()) out.push_back(m);
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};

uint64_t monotonic_usec() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000u +
         static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

HostOptions notified(const NotifySocket& s, std::vector<std::string> env,
                     std::vector<std::string> args) {
  HostOptions o;
  o.prefix = {"env", "NOTIFY_SOCKET=" + s.path()};
  o.prefix.insert(o.prefix.end(), env.begin(), env.end());
  o.args = std::move(args);
  return o;
}

size_t count_prefixed(const std::vector<std::string>& v,
                      const std::string& prefix) {
  size_t n = 0;
  for (const std::string& m : v) n += m.rfind(prefix, 0) == 0;
  return n;
}

}  // namespace

TEST(SdNotify, ReadyReloadingAndStopping) {
  OpsTempDir dir;
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  HostProcess h(notified(notify, {}, {"--plugin", plugin_path("hello")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();

  std::string ready = notify.next();
  EXPECT_EQ(ready.rfind("READY=1\n", 0), 0u) << ready;
  EXPECT_NE(ready.find("STATUS=serving generation 1"), std::string::npos);

  const uint64_t before = monotonic_usec();
  h.signal(SIGHUP);
  std::string reloading = notify.next();
  ASSERT_EQ(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0), 0u)
      << reloading;
  // The manager compares it with its own CLOCK_MONOTONIC.
  const uint64_t usec =
      std::stoull(reloading.substr(reloading.find('=', 12) + 1));
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, monotonic_usec());
  std::string ready_again = notify.next();
  EXPECT_EQ(ready_again.rfind("READY=1\n", 0), 0u) << ready_again;
  EXPECT_NE(ready_again.find("STATUS=serving generation 2"), std::string::npos);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2"));

  h.signal(SIGTERM);
  EXPECT_EQ(notify.next(), "STOPPING=1");
  EXPECT_EQ(h.wait_exit(), 0);
}

TEST(SdNotify, AFailedReloadIsStillReady) {
  OpsTempDir dir;
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  const std::string plugin = dir.file("libapp.so");
  ASSERT_EQ(run_command({"cp", plugin_path("hello"), plugin}).status, 0);
  HostProcess h(notified(notify, {}, {"--plugin", plugin}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(notify.until("READY=1").rfind("READY=1", 0), 0u);
  ASSERT_EQ(run_command({"sh", "-c", "echo garbage > " + plugin}).status, 0);
  h.signal(SIGHUP);
  EXPECT_EQ(notify.next().rfind("RELOADING=1", 0), 0u);
  std::string after = notify.next();
  EXPECT_EQ(after.rfind("READY=1\n", 0), 0u) << after;
  EXPECT_NE(after.find("reload failed; serving generation 1"),
            std::string::npos)
      << after;
}

TEST(SdNotify, StoppingIsSentAtSigtermBeforeTheDrainDelay) {
  OpsTempDir dir;
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  HostProcess h(notified(
      notify, {}, {"--plugin", plugin_path("hello"), "--drain-delay", "600"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_FALSE(notify.until("READY=1").empty());
  h.signal(SIGTERM);
  EXPECT_EQ(notify.next(), "STOPPING=1");
  // Still in the 600 s delay: a second SIGTERM ends it.
  EXPECT_TRUE(h.running());
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(SdNotify, WatchdogPingsStopWhileALoopIsStuck) {
  OpsTempDir dir;
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  // 300 ms: a ping every 150 ms while every loop answers.
  HostProcess h(notified(notify, {"WATCHDOG_USEC=300000"},
                         {"--plugin", test_plugin_path("sleeper_sync"),
                          "--workers", "1", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("systemd watchdog: WATCHDOG=1 every 150 ms"))
      << h.stderr_text();
  std::vector<std::string> healthy = notify.collect(1500ms);
  EXPECT_GE(count_prefixed(healthy, "WATCHDOG=1"), 3u)
      << "pings while every loop turns";

  // The only worker sleeps in its handler for 4 s.
  RawClient c(h.port());
  c.send("GET /sleep?ms=4000 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("gen 1 sleep entered")) << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("withholding WATCHDOG=1", 5s))
      << h.stderr_text();
  // From the withheld tick on, nothing until the handler returns.
  notify.drain();
  std::vector<std::string> stuck = notify.collect(1000ms);
  EXPECT_EQ(count_prefixed(stuck, "WATCHDOG=1"), 0u);

  ASSERT_TRUE(c.read_response(false, 10s));
  ASSERT_TRUE(h.wait_for_stderr("every loop answers again"));
  EXPECT_FALSE(notify.until("WATCHDOG=1", 5s).empty())
      << "the pings did not resume";
}

TEST(SdNotify, WatchdogMeantForAnotherProcessIsIgnored) {
  OpsTempDir dir;
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  HostProcess h(notified(notify, {"WATCHDOG_USEC=300000", "WATCHDOG_PID=1"},
                         {"--plugin", plugin_path("hello")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_FALSE(notify.until("READY=1").empty());
  EXPECT_EQ(count_prefixed(notify.collect(700ms), "WATCHDOG=1"), 0u);
}

TEST(SdNotify, NeverReadyAgainAfterStopping) {
  // SIGTERM lands while a reload's init is held (gate plugin); the reload
  // then publishes during --drain-delay: that must not say READY=1 after
  // STOPPING=1, and the SIGHUP coalesced behind it must not start another.
  OpsTempDir dir;
  for (const char* f : {"init-ready", "init-go", "handle-ready", "handle-go"})
    mkfifo(dir.file(f).c_str(), 0600);
  NotifySocket notify(dir.file("notify"));
  ASSERT_TRUE(notify.ok());
  HostProcess h(
      notified(notify, {},
               {"--plugin", test_plugin_path("gate"), "--plugin-config",
                "/={\"gate\":\"" + dir.path() + "\",\"hold_init\":2}",
                "--drain-delay", "2", "--no-access-log"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_FALSE(notify.until("READY=1").empty());
  h.signal(SIGHUP);
  EXPECT_EQ(notify.next().rfind("RELOADING=1", 0), 0u);
  int ready =
      open(dir.file("init-ready").c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  pollfd p{ready, POLLIN, 0};
  ASSERT_GT(poll(&p, 1, 20000), 0) << "the reload's init was never held";
  close(ready);
  h.signal(SIGTERM);
  h.signal(SIGHUP);
  int go = open(dir.file("init-go").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(go, 0);
  ASSERT_EQ(write(go, "go\n", 3), 3);
  close(go);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  std::vector<std::string> rest;
  std::string stopping = notify.until("STOPPING=1", 10s, &rest);
  ASSERT_EQ(stopping, "STOPPING=1");
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
  std::vector<std::string> after = notify.collect(std::chrono::milliseconds(0));
  for (std::string m; !(m = notify.next(std::chrono::milliseconds(0))).empty();)
    after.push_back(m);
  EXPECT_EQ(count_prefixed(after, "READY=1"), 0u);
  EXPECT_EQ(count_prefixed(after, "RELOADING=1"), 0u);
  EXPECT_EQ(count_of(h.stderr_text(), "reloaded generation"), 1u)
      << h.stderr_text();
}
