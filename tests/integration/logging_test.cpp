// Logging never blocks a loop, whatever stdout is; at exit a slow reader gets
// every buffered line (within a bounded wait) or a count of what it lost; a
// reader gone for good costs nothing; failed accepts log once per episode.
#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "sanitizers.h"

using namespace pounce::test;
using namespace std::chrono_literals;
using Stdout = HostOptions::Stdout;

namespace {

// Context switches an idle host may make in one second. TSan adds a
// background thread of its own that wakes several times a second; the
// defects measured with it made 93 and 174.
constexpr uint64_t kIdleSwitches = kTsan ? 60 : 20;

const char* kind_name(Stdout kind) {
  switch (kind) {
    case Stdout::Pipe:
      return "Pipe";
    case Stdout::PipeNotReopenable:
      return "PipeNotReopenable";
    case Stdout::Socket:
      return "Socket";
  }
  return "?";
}

const std::string kHello = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
const std::string kAccessLine = "\"GET /hello HTTP/1.1\" 200";

// Sends `rounds` batches of 100 pipelined requests on one connection and
// reads every response; false (with a message) as soon as one does not come.
::testing::AssertionResult serve_requests(HostProcess& h, int rounds) {
  RawClient c(h.port());
  std::string batch;
  for (int i = 0; i < 100; ++i) batch += kHello;
  for (int round = 0; round < rounds; ++round) {
    if (!c.send(batch)) {
      return ::testing::AssertionFailure() << "send failed, round " << round;
    }
    for (int i = 0; i < 100; ++i) {
      if (!c.read_response(false, 5s)) {
        return ::testing::AssertionFailure()
               << "no response " << round * 100 + i
               << ": the worker blocked on its log";
      }
    }
  }
  return ::testing::AssertionSuccess();
}

class StalledReader : public ::testing::TestWithParam<Stdout> {};

INSTANTIATE_TEST_SUITE_P(Stdout, StalledReader,
                         ::testing::Values(Stdout::Pipe,
                                           Stdout::PipeNotReopenable,
                                           Stdout::Socket),
                         [](const ::testing::TestParamInfo<Stdout>& info) {
                           return kind_name(info.param);
                         });

// Issue 9 #13: with stdout a socket (journald) or a pipe the host may not
// reopen, a stalled reader used to block the worker in write() after a few
// hundred access lines.
TEST_P(StalledReader, NeverBlocksTheWorker) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello")};
  o.drain_stdout = false;
  o.stdout_kind = GetParam();
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // 10,000 access lines (750 KB): more than the socket or pipe, the sink
  // (256 KiB) and the writer queue (256 KiB) hold together, so lines must
  // be dropped, not wait.
  ASSERT_TRUE(serve_requests(h, 100));
  h.resume_stdout();
  // Requests after the reader is back, so that the drop count is written.
  RawClient c(h.port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send(kHello));
    ASSERT_TRUE(c.read_response());
  }
  EXPECT_TRUE(h.wait_for_stdout("lines dropped")) << h.stdout_text().size();
}

// Issue 9 #17: buffered lines used to get one non-blocking write at exit, and
// the rest vanished without a word. A reader that resumes while the host
// exits now receives every line.
TEST_P(StalledReader, ResumingAtExitReceivesEveryLine) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello")};
  o.drain_stdout = false;
  o.stdout_kind = GetParam();
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // 3,000 lines of about 75 bytes fit in the buffers (nothing is dropped
  // while running) but far exceed what the pipe or socket takes.
  constexpr int kRequests = 3000;
  ASSERT_TRUE(serve_requests(h, kRequests / 100));
  h.signal(SIGTERM);
  // The reader resumes only once the exit is waiting for it.
  EXPECT_TRUE(h.wait_for_stderr("log reader to take the buffered lines", 5s))
      << h.stderr_text();
  h.resume_stdout();
  EXPECT_EQ(h.wait_exit(), 0);
  std::string out = h.stdout_text();
  EXPECT_EQ(count_of(out, kAccessLine), static_cast<size_t>(kRequests));
  EXPECT_EQ(out.find("lines dropped"), std::string::npos);
  EXPECT_EQ(h.stderr_text().find("lines dropped"), std::string::npos)
      << h.stderr_text();
}

// Issue 9 #17: a reader that never resumes costs the exit a bounded wait,
// and the loss is reported.
TEST(Logging, ReaderThatNeverResumesIsReportedAtExit) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello")};
  o.drain_stdout = false;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_TRUE(serve_requests(h, 30));
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(20s), 0);
  EXPECT_TRUE(h.wait_for_stderr("pounce-host: stdout: ")) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find(" lines dropped"), std::string::npos);
}

// The context switches of every thread of `pid`.
uint64_t context_switches(pid_t pid) {
  uint64_t total = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream status(dir + "/" + e->d_name + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("voluntary_ctxt_switches:", 0) == 0 ||
          line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
        total += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  closedir(d);
  return total;
}

// Issue 9 #18: after EPIPE the flusher used to re-add its own notice, fail
// again and re-arm its 10 ms timer: about 100 wake-ups a second, for ever.
TEST(Logging, ReaderGoneForGoodLeavesTheProcessIdle) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello"), "--workers", "2"};
  o.drain_stdout = false;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  h.close_stdout();
  // Several connections, so that both workers log (and meet EPIPE).
  for (int i = 0; i < 8; ++i) {
    RawClient c(h.port());
    for (int j = 0; j < 20; ++j) {
      ASSERT_TRUE(c.send(kHello));
      ASSERT_TRUE(c.read_response());
    }
  }
  // Reported once, not once per worker.
  EXPECT_TRUE(h.wait_for_stderr("log output stdout failed (Broken pipe)"))
      << h.stderr_text();
  // Idle connections are gone; let the last loop iterations settle: a
  // wake-up that the requests themselves caused must not count.
  std::this_thread::sleep_for(200ms);
  uint64_t before = context_switches(h.serving_pid());
  // A window of one second: a 10 ms retry would switch ~100 times per
  // worker; an idle host only a handful (timers of a second or more).
  std::this_thread::sleep_for(1s);
  uint64_t after = context_switches(h.serving_pid());
  EXPECT_LT(after - before, kIdleSwitches)
      << "the host keeps waking up: " << after - before << " switches in 1 s";
  EXPECT_EQ(count_of(h.stderr_text(), "log output stdout failed"), 1u);
  // Still serving.
  RawClient c(h.port());
  ASSERT_TRUE(c.send(kHello));
  EXPECT_TRUE(c.read_response());
}

// The same class as #18 with a reader that stalls for good without EPIPE (a
// stopped process): the 10 ms retry used to wake an idle loop 100 times a
// second for as long as the stall lasted. It now backs off to 1 s.
TEST(Logging, ReaderStalledForGoodLeavesTheProcessNearlyIdle) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello")};
  o.drain_stdout = false;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // 2,000 lines (150 KB): more than the pipe takes, less than the buffer.
  ASSERT_TRUE(serve_requests(h, 20));
  // The back-off reaches 1 s within 1.3 s (10 ms doubling); then measure.
  std::this_thread::sleep_for(2s);
  uint64_t before = context_switches(h.serving_pid());
  std::this_thread::sleep_for(1s);
  uint64_t after = context_switches(h.serving_pid());
  EXPECT_LT(after - before, kIdleSwitches)
      << "the host keeps waking up: " << after - before << " switches in 1 s";
  // Nothing was lost: once the reader is back, every line arrives.
  h.resume_stdout();
  EXPECT_TRUE(h.wait_for_stdout(kAccessLine, 10s, 2000))
      << count_of(h.stdout_text(), kAccessLine);
}

// The descriptors the process has open now.
size_t open_descriptors(pid_t pid) {
  size_t n = 0;
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

// Issue 9 #20: out of descriptors, the distributor logged every 10 ms retry:
// a flood of identical lines.
// (In reuseport mode libuv accepts and closes the pending connections
// itself, without a callback, so there is nothing to log: docs/errors.md.)
TEST(Logging, AcceptOutOfDescriptorsLogsOncePerEpisodeAndRecovers) {
  if (kAsan) {
    // The ASan build is also the UBSan build: its vptr check, meeting a
    // type it has not cached (a Connection, whose Exchange base is
    // polymorphic), probes the object's memory through a pipe. With every
    // descriptor taken that pipe cannot open, and UBSan reports "invalid
    // vptr ... memory cannot be printed" for a sound object (1 run in 5).
    GTEST_SKIP() << "UBSan's vptr check needs descriptors this test uses up";
  }
  // The host raises its soft limit to the hard one: lower both.
  constexpr int kLimit = 64;
  HostOptions o;
  o.prefix = {"prlimit", "--nofile=" + std::to_string(kLimit) + ":" +
                             std::to_string(kLimit)};
  o.args = {"--plugin",    plugin_path("hello"), "--accept-mode",
            "distributor", "--workers",          "1"};
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  size_t in_use = open_descriptors(h.serving_pid());
  ASSERT_LT(in_use, static_cast<size_t>(kLimit) - 8);
  // More connections than descriptors are left: the rest wait in the
  // backlog while the distributor retries every 10 ms.
  std::vector<std::unique_ptr<RawClient>> held;
  for (size_t i = 0; i < kLimit - in_use + 10; ++i) {
    held.push_back(std::make_unique<RawClient>(h.port()));
  }
  ASSERT_TRUE(h.wait_for_stderr("accept: Too many open files"))
      << [&] { return h.stderr_text(); }();
  // Hold the episode for a second: about 100 retries.
  std::this_thread::sleep_for(1s);
  EXPECT_LE(count_of(h.stderr_text(), "accept:"), 2u) << h.stderr_text();
  held.clear();
  // Service recovers once the descriptors are free again.
  RawClient c(h.port());
  ASSERT_TRUE(c.send(kHello));
  EXPECT_TRUE(c.read_response());
  EXPECT_TRUE(h.wait_for_stderr("accept: working again after"))
      << h.stderr_text();
  // The backlog drains in bursts that may run out of descriptors again
  // briefly: a few short episodes, not a line per retry.
  EXPECT_LE(count_of(h.stderr_text(), "accept:"), 8u) << h.stderr_text();
}

}  // namespace
