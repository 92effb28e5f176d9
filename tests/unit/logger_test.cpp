// LogSink and OutputFile: drops counted per line, an output that failed for
// good is left alone, and the exit drain accounts for every line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>

#include <memory>
#include <string>

#include "log/logger.h"
#include "sanitizers.h"

using pounce::log::LogSink;
using pounce::log::OutputFile;
using Mode = OutputFile::Mode;

namespace {

struct IgnoreSigpipe {
  IgnoreSigpipe() { signal(SIGPIPE, SIG_IGN); }
} ignore_sigpipe;

std::string line(int i) {
  return "line " + std::to_string(i) + " of the access log\n";
}

// A pipe or socketpair whose reading end the test controls.
struct Channel {
  explicit Channel(bool socket) {
    if (socket) {
      EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    } else {
      EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    }
  }
  ~Channel() {
    for (int fd : fds) {
      if (fd >= 0) close(fd);
    }
  }
  void close_reader() {
    close(fds[0]);
    fds[0] = -1;
  }
  int reader() const { return fds[0]; }
  int writer() const { return fds[1]; }
  int fds[2] = {-1, -1};
};

struct Case {
  const char* name;
  bool socket;
  bool force_thread;
};

class GoneReader : public ::testing::TestWithParam<Case> {};

INSTANTIATE_TEST_SUITE_P(Outputs, GoneReader,
                         ::testing::Values(Case{"Pipe", false, false},
                                           Case{"Socket", true, false},
                                           Case{"WriterThread", false, true}),
                         [](const ::testing::TestParamInfo<Case>& i) {
                           return i.param.name;
                         });

std::unique_ptr<OutputFile> output_for(const Case& c, int fd) {
  if (c.force_thread) {
    return std::make_unique<OutputFile>(fd, "test", Mode::Thread);
  }
  return std::make_unique<OutputFile>(fd, "test");
}

// Issue 9 #18: a buffer lost to EPIPE used to count as one drop, and the
// sink kept re-adding its own notice and retrying (never empty()).
TEST_P(GoneReader, CountsLinesAndStopsWriting) {
  Channel ch(GetParam().socket);
  auto out = output_for(GetParam(), ch.writer());
  EXPECT_EQ(out->mode(), GetParam().force_thread ? Mode::Thread
                         : GetParam().socket     ? Mode::Socket
                                                 : Mode::Private);
  ch.close_reader();
  {
    LogSink sink(*out);
    for (int i = 0; i < 10; ++i) sink.append_line(line(i));
    sink.flush();
    // A writer thread takes the lines and meets EPIPE itself.
    if (GetParam().force_thread) {
      EXPECT_FALSE(out->drain_queue(5000));
    }
    for (int i = 10; i < 25; ++i) sink.append_line(line(i));
    sink.flush();
    EXPECT_TRUE(sink.failed());
    EXPECT_TRUE(sink.empty()) << "nothing is left to retry";
    if (!GetParam().force_thread) {
      EXPECT_EQ(sink.dropped_total(), 25u);
    }
    sink.append_line(line(25));
    sink.flush();
    EXPECT_TRUE(sink.empty());
    sink.drain(0);
  }
  // Each line lost exactly once, in lines.
  EXPECT_EQ(out->lost(), 26u);
}

std::string read_available(int fd) {
  std::string got;
  char buf[65536];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && errno == ENOTSOCK) n = read(fd, buf, sizeof buf);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
}

size_t count_of(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos;
       p = s.find(needle, p + needle.size())) {
    ++n;
  }
  return n;
}

// A stalled reader: every line is either delivered or counted as one drop,
// and the count is reported once the reader is back.
TEST(LogSink, StalledReaderCountsEachDroppedLine) {
  Channel ch(false);
  fcntl(ch.reader(), F_SETFL, O_NONBLOCK);
  OutputFile out(ch.writer(), "test");
  LogSink sink(out);
  constexpr int kLines = 20000;  // ~640 KB: more than pipe and buffer
  for (int i = 0; i < kLines; ++i) sink.append_line(line(i));
  uint64_t dropped = sink.dropped_total();
  EXPECT_GT(dropped, 0u);
  std::string got;
  for (int i = 0; i < 1000 && !sink.empty(); ++i) {
    got += read_available(ch.reader());
    sink.flush();
  }
  got += read_available(ch.reader());
  EXPECT_TRUE(sink.empty());
  EXPECT_EQ(count_of(got, " of the access log\n") + dropped,
            static_cast<size_t>(kLines));
  EXPECT_NE(got.find("log reader stalled, " + std::to_string(dropped) +
                     " lines dropped\n"),
            std::string::npos);
}

// Issue 9 #17: at exit a sink waits (bounded) for a slow reader; what it
// cannot deliver is counted on the output as lost, in lines.
TEST(LogSink, DrainCountsWhatTheReaderNeverTook) {
  Channel ch(false);
  OutputFile out(ch.writer(), "test");
  {
    LogSink sink(out);
    for (int i = 0; i < 5000; ++i) sink.append_line(line(i));
    sink.flush();
    EXPECT_FALSE(sink.empty());
    EXPECT_EQ(sink.dropped_total(), 0u) << "nothing was dropped while running";
    sink.drain(50);  // nobody reads
    EXPECT_TRUE(sink.empty());
    EXPECT_EQ(sink.dropped_total(), out.lost());
  }
  fcntl(ch.reader(), F_SETFL, O_NONBLOCK);
  std::string got = read_available(ch.reader());
  EXPECT_EQ(count_of(got, " of the access log\n") + out.lost(), 5000u);
  EXPECT_TRUE(out.gave_up());
}

// The same through a writer thread (a pipe the host may not reopen): what
// the thread had not written when the exit stopped waiting is counted; only
// the one piece (<= PIPE_BUF) blocked in write() may still land.
TEST(LogSink, WriterThreadDrainCountsWhatTheReaderNeverTook) {
  Channel ch(false);
  OutputFile out(ch.writer(), "test", Mode::Thread);
  {
    LogSink sink(out);
    for (int i = 0; i < 5000; ++i) sink.append_line(line(i));
    sink.drain(50);
    EXPECT_EQ(sink.dropped_total(), 0u) << "the queue took every line";
  }
  EXPECT_FALSE(out.drain_queue(50));
  uint64_t lost = out.lost();
  EXPECT_GT(lost, 0u);
  std::string got;
  // Read until the writer thread's last piece is in (it stops after it).
  for (int i = 0; i < 50; ++i) {
    pollfd p{ch.reader(), POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) break;
    char buf[65536];
    ssize_t n = read(ch.reader(), buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  uint64_t delivered = count_of(got, " of the access log\n");
  EXPECT_GE(delivered + lost, 5000u);
  EXPECT_LE(delivered + lost, 5000u + PIPE_BUF / line(0).size());
}

// A forked child (the supervisor's serving process) writes through a writer
// thread of its own: fork copies the queue and its mutex, not the thread.
TEST(OutputFile, WriterThreadWorksInAForkedChild) {
  if (pounce::test::kTsan) {
    GTEST_SKIP() << "TSan cannot start threads in the child of a "
                    "multi-threaded fork (it dies by design)";
  }
  Channel ch(false);
  OutputFile out(ch.writer(), "test", Mode::Thread);
  ASSERT_EQ(out.write_some("parent\n", 7), 7);
  ASSERT_TRUE(out.drain_queue(5000));
  pid_t pid = fork();
  if (pid == 0) {
    bool ok = out.write_some("child\n", 6) == 6 && out.drain_queue(5000);
    _exit(ok ? 0 : 1);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  fcntl(ch.reader(), F_SETFL, O_NONBLOCK);
  EXPECT_EQ(read_available(ch.reader()), "parent\nchild\n");
}

TEST(LogSink, LineCutShortStillEndsWithANewline) {
  Channel ch(false);
  OutputFile out(ch.writer(), "test");
  LogSink sink(out);
  sink.append_line("cut short");
  sink.append_line("whole\n");
  sink.flush();
  fcntl(ch.reader(), F_SETFL, O_NONBLOCK);
  EXPECT_EQ(read_available(ch.reader()), "cut short\nwhole\n");
}

}  // namespace
