// Starts the real pounce-host binary for an integration test and watches its
// output: the test waits for log lines (signals), never sleeps.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pounce::test {

// How much earlier than the test's own clock says a host's timeout may
// fire. libuv arms a timer from its loop time, cached (in whole
// milliseconds) when the loop turn began: a loaded machine or a sanitizer
// makes that turn's start tens of ms older than the event that armed it.
// A lower bound on a timeout is therefore its duration minus this (a bound
// of exactly the duration failed at 499.87 ms of 500).
inline constexpr std::chrono::milliseconds kTimerMayFireEarly{100};

// Paths of the build under test, set by CMake (see tests/CMakeLists.txt).
std::string host_binary();
std::string plugin_path(const std::string& name);       // build/plugins
std::string test_plugin_path(const std::string& name);  // test plugins

struct HostOptions {
  std::vector<std::string> args;
  // Runs pounce-host under this command, e.g. {"taskset", "-c", "1"}.
  std::vector<std::string> prefix;
  // When false, nobody reads stdout until resume_stdout(): a stalled reader.
  bool drain_stdout = true;
  // What the host's stdout is. Pipe: a pipe the host may reopen through
  // /proc/self/fd. PipeNotReopenable: a pipe whose reopen fails with EACCES,
  // as a pipe created by another user does (mode 0; when the test runs as
  // root, the host runs as nobody, since root may open anything). Socket: a
  // Unix stream socketpair, like systemd's StandardOutput=journal.
  enum class Stdout { Pipe, PipeNotReopenable, Socket };
  Stdout stdout_kind = Stdout::Pipe;
  std::chrono::milliseconds startup_timeout = std::chrono::seconds(20);
  // A test that makes a plugin crash on purpose: ASan reports the SEGV too,
  // and that report is then the expected outcome, not a failure.
  bool crash_expected = false;
  // Wait for this many "listening on" lines instead of one per --listen
  // (under socket activation the inherited sockets decide); 0: one per
  // --listen.
  size_t startup_lines = 0;
  // The host writes its error log to this file (--error-log-file, which the
  // test passes itself): its lines are followed there, by path (through a
  // rename and reopen, as tail -F does), and join what stderr_text() and
  // wait_for_stderr() see, whole lines at a time.
  std::string error_log_file;
};

class HostProcess {
 public:
  // Starts pounce-host with `args` (plus "--port 0" unless a --port is
  // given) and waits for its startup line. On failure, ok() is false and
  // the output so far is kept for the assertion message.
  explicit HostProcess(std::vector<std::string> args)
      : HostProcess(options_for(std::move(args))) {}
  explicit HostProcess(HostOptions options);
  ~HostProcess();  // SIGKILL if still running
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  bool ok() const { return started_; }
  // The first listener's port; 0 for a Unix socket listener.
  uint16_t port() const { return port_; }
  // Every listener's real port and URL ("https://127.0.0.1:41234"), in
  // --listen order.
  const std::vector<uint16_t>& ports() const { return listener_ports_; }
  const std::vector<std::string>& listener_urls() const {
    return listener_urls_;
  }
  pid_t pid() const { return pid_; }
  // The process that serves (loads the plugins, runs the threads): the
  // supervisor's current child, or pid() itself under --no-supervise. Use
  // it to look into /proc; signal pid(), as an operator would.
  pid_t serving_pid() const;
  std::string url(const std::string& path = "/") const;

  // Waits until stderr contains `needle` (counting from the start), or until
  // `count` occurrences were seen.
  bool wait_for_stderr(
      const std::string& needle,
      std::chrono::milliseconds timeout = std::chrono::seconds(10),
      size_t count = 1);
  bool wait_for_stdout(
      const std::string& needle,
      std::chrono::milliseconds timeout = std::chrono::seconds(10),
      size_t count = 1);
  std::string stderr_text();
  std::string stdout_text();
  // Starts reading stdout (after drain_stdout = false).
  void resume_stdout();
  // Closes the reading end of stdout (after drain_stdout = false): the
  // reader is gone for good, and the host's writes fail with EPIPE.
  void close_stdout();

  void signal(int sig);
  // Waits for the process to exit; returns its exit status, or -1 on timeout
  // (the process then still runs), or 128+N when killed by signal N.
  int wait_exit(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  bool running();

 private:
  static HostOptions options_for(std::vector<std::string> args) {
    HostOptions o;
    o.args = std::move(args);
    return o;
  }
  void reader(int fd, std::string* sink);
  void follow_file(const std::string& path);
  bool wait_for(std::string* sink, const std::string& needle,
                std::chrono::milliseconds timeout, size_t count);

  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool started_ = false;  // every startup line arrived
  std::vector<uint16_t> listener_ports_;
  std::vector<std::string> listener_urls_;
  int exit_status_ = -2;  // -2: not reaped yet
  std::mutex mutex_;      // guards out_, err_ and reader completion
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  std::thread out_thread_;
  std::thread err_thread_;
  std::thread file_thread_;  // follows HostOptions::error_log_file
  // With an error-log file the host's stderr closes at its start: a pipe it
  // inherits on a high descriptor tells when the process tree is gone.
  std::thread life_thread_;
  std::string life_;               // what arrives on it: nothing
  std::string* end_sink_ = &err_;  // whose EOF means the tree is gone
  int out_fd_ = -1;                // stdout pipe, while nobody reads it
  bool crash_expected_ = false;
  bool err_closed_ = false;  // the stderr reader saw EOF (guarded by mutex_)
};

// Runs a command to completion (no shell), capturing stdout and stderr.
struct CommandResult {
  int status = -1;  // exit status, or 128+N when killed by signal N
  std::string out;
  std::string err;
};
CommandResult run_command(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Counts non-overlapping occurrences of needle in haystack.
size_t count_of(const std::string& haystack, const std::string& needle);

// The first sanitizer report (ASan, UBSan, LSan, TSan) in a process's
// output, from its first line to the end; empty when there is none. A report
// from a pounce-host that a test started fails that test (HostProcess and
// run_command check it), as a report in the test process itself would.
std::string sanitizer_report(const std::string& output);

}  // namespace pounce::test
