// --access-log-file and --error-log-file, and SIGUSR1 to reopen them
// (issue 14 §3): the lines land in the files; after a rename and SIGUSR1 the
// host writes to new files and the old ones hold complete lines; under load,
// across several reopens, every request answered has exactly one complete
// access line in one of the files; a bad path stops the start (and fails
// `pounce-host check`); a reopen that fails keeps the old file and says why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t line_count(const std::string& path) {
  return count_of(read_file(path), "\n");
}

// The file is the host's output: its lines are what we wait for. It is
// looked at every few milliseconds until it holds `n` lines.
bool wait_for_lines(
    const std::string& path, size_t n,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line_count(path) < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

std::string get_request() {
  return "GET / HTTP/1.1\r\nHost: t\r\nUser-Agent: log-files-test\r\n\r\n";
}

void ask(uint16_t port, int n) {
  RawClient c(port);
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(c.send(get_request()));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
}

// Every line of every file is a whole JSON object (json.loads), one per
// request; returns how many lines there are, or -1 with the reason on
// stderr of the script (in *why).
long json_lines(const std::vector<std::string>& files, std::string* why) {
  const char* script = R"PY(
import json, sys
n = 0
for path in sys.argv[1:]:
    data = open(path, "rb").read()
    if data and not data.endswith(b"\n"):
        sys.exit("%s: the last line is not complete" % path)
    for line in data.split(b"\n")[:-1]:
        obj = json.loads(line)
        if obj["status"] != 200 or obj["user_agent"] != "log-files-test":
            sys.exit("%s: unexpected line %r" % (path, line))
        n += 1
print(n)
)PY";
  std::vector<std::string> argv = {"/usr/bin/python3", "-c", script};
  argv.insert(argv.end(), files.begin(), files.end());
  CommandResult r = run_command(argv);
  if (r.status != 0) {
    *why = r.err;
    return -1;
  }
  return std::stol(r.out);
}

struct Files {
  OpsTempDir dir;
  std::string access = dir.file("access.log");
  std::string error = dir.file("error.log");
};

HostOptions options(const Files& f, std::vector<std::string> extra = {}) {
  HostOptions o;
  o.args = {"--plugin",
            plugin_path("hello"),
            "--workers",
            "2",
            "--access-log-format",
            "json",
            "--access-log-file",
            f.access,
            "--error-log-file",
            f.error};
  o.args.insert(o.args.end(), extra.begin(), extra.end());
  o.error_log_file = f.error;
  return o;
}

// The serving process's line (the supervisor's says "supervisor: SIGUSR1").
constexpr const char* kReopened = " info SIGUSR1: reopened the log files";

TEST(LogFiles, RequestsAndErrorsLandInTheFiles) {
  Files f;
  HostProcess h(options(f));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ask(h.port(), 3);
  ASSERT_TRUE(wait_for_lines(f.access, 3)) << read_file(f.access);
  std::string why;
  EXPECT_EQ(json_lines({f.access}, &why), 3) << why;
  const std::string errors = read_file(f.error);
  EXPECT_NE(errors.find("pounce-host: listening on http://"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find(" info mounted hello"), std::string::npos) << errors;
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
  // Nothing went to stdout: the access log is the file.
  EXPECT_EQ(h.stdout_text(), "");
  EXPECT_NE(read_file(f.error).find(" info stopped"), std::string::npos);
  struct stat st;
  ASSERT_EQ(stat(f.access.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777 & ~0640, 0u) << std::oct << st.st_mode;
}

void rename_then_reopen(bool supervise) {
  Files f;
  HostProcess h(options(f, {supervise ? "--supervise" : "--no-supervise"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ask(h.port(), 5);
  ASSERT_TRUE(wait_for_lines(f.access, 5));
  ASSERT_EQ(rename(f.access.c_str(), (f.access + ".1").c_str()), 0);
  ASSERT_EQ(rename(f.error.c_str(), (f.error + ".1").c_str()), 0);
  h.signal(SIGUSR1);
  // In the new error log (the follower reads the file now at the path).
  ASSERT_TRUE(h.wait_for_stderr(kReopened)) << h.stderr_text();
  EXPECT_NE(read_file(f.error).find(kReopened), std::string::npos);
  if (supervise) {
    EXPECT_NE(read_file(f.error).find(
                  " info supervisor: SIGUSR1: reopened the log files"),
              std::string::npos);
  }
  ask(h.port(), 4);
  ASSERT_TRUE(wait_for_lines(f.access, 4)) << read_file(f.access);
  std::string why;
  EXPECT_EQ(json_lines({f.access + ".1"}, &why), 5) << why;
  EXPECT_EQ(json_lines({f.access}, &why), 4) << why;
  EXPECT_NE(read_file(f.error + ".1").find("pounce-host: listening on"),
            std::string::npos);
  // The process still serves and ends as usual (SIGUSR1 is not fatal).
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
  EXPECT_EQ(h.stdout_text(), "");
}

TEST(LogFiles, RenameThenSigusr1WritesNewFiles) {
  rename_then_reopen(true);
}

TEST(LogFiles, RenameThenSigusr1WritesNewFilesUnsupervised) {
  rename_then_reopen(false);
}

TEST(LogFiles, NoLineLostOrTornAcrossReopensUnderLoad) {
  Files f;
  HostProcess h(options(f));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const uint16_t port = h.port();
  std::atomic<bool> stop{false};
  std::atomic<long> answered{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 3; ++t) {
    clients.emplace_back([&] {
      // Keep-alive; each request is read to the end before the next one,
      // so that none is in flight (logged but not counted) at the stop.
      RawClient c(port);
      while (!stop.load()) {
        if (!c.send(get_request())) {
          failed = true;
          return;
        }
        auto r = c.read_response();
        if (!r || r->status != 200) {
          failed = true;
          return;
        }
        answered.fetch_add(1);
      }
    });
  }
  std::vector<std::string> files;
  constexpr int kRotations = 5;
  for (int k = 1; k <= kRotations; ++k) {
    // Some lines in the current file first, from the running load.
    ASSERT_TRUE(wait_for_lines(f.access, 200)) << "rotation " << k;
    const std::string rotated = f.access + "." + std::to_string(k);
    ASSERT_EQ(rename(f.access.c_str(), rotated.c_str()), 0);
    files.push_back(rotated);
    h.signal(SIGUSR1);
    ASSERT_TRUE(h.wait_for_stderr(kReopened, std::chrono::seconds(10),
                                  static_cast<size_t>(k)))
        << h.stderr_text();
  }
  ASSERT_TRUE(wait_for_lines(f.access, 50));
  stop = true;
  for (std::thread& t : clients) t.join();
  ASSERT_FALSE(failed.load());
  files.push_back(f.access);
  // Every answered request's line is written once its loop flushes: wait
  // for the total, then check that there is not one more.
  const size_t total = static_cast<size_t>(answered.load());
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  size_t seen = 0;
  for (;;) {
    seen = 0;
    for (const std::string& file : files) seen += line_count(file);
    if (seen >= total || std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  h.signal(SIGTERM);
  ASSERT_EQ(h.wait_exit(), 0);
  std::string why;
  EXPECT_EQ(json_lines(files, &why), static_cast<long>(total)) << why;
  EXPECT_EQ(h.stdout_text(), "");
  // Nothing dropped either (the sinks' own count).
  EXPECT_EQ(read_file(f.error).find("dropped"), std::string::npos);
}

TEST(LogFiles, AFailedReopenKeepsTheOldFileAndSaysWhy) {
  OpsTempDir dir;
  const std::string logs = dir.file("logs");
  ASSERT_EQ(mkdir(logs.c_str(), 0755), 0);
  const std::string access = logs + "/access.log";
  HostProcess h({"--plugin", plugin_path("hello"), "--access-log-format",
                 "json", "--access-log-file", access});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ask(h.port(), 1);
  ASSERT_TRUE(wait_for_lines(access, 1));
  // The directory is gone from the path: the new file cannot be created
  // (root cannot either).
  const std::string moved = dir.file("logs.old");
  ASSERT_EQ(rename(logs.c_str(), moved.c_str()), 0);
  h.signal(SIGUSR1);
  ASSERT_TRUE(h.wait_for_stderr(
      "SIGUSR1: cannot open --access-log-file " + access +
      ": No such file or directory; still writing to the file opened before"))
      << h.stderr_text();
  ask(h.port(), 2);
  ASSERT_TRUE(wait_for_lines(moved + "/access.log", 3));
  std::string why;
  EXPECT_EQ(json_lines({moved + "/access.log"}, &why), 3) << why;
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
}

TEST(LogFiles, Sigusr1WithoutLogFilesIsHarmless) {
  HostProcess h({"--plugin", plugin_path("hello")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  h.signal(SIGUSR1);
  ASSERT_TRUE(h.wait_for_stderr(
      " info SIGUSR1: no --access-log-file or --error-log-file to reopen"))
      << h.stderr_text();
  ask(h.port(), 1);
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
}

TEST(LogFiles, AnUnwritablePathIsAStartupErrorAndFailsTheCheck) {
  OpsTempDir dir;
  const std::string bad = dir.file("missing-dir/access.log");
  for (const char* flag : {"--access-log-file", "--error-log-file"}) {
    CommandResult r =
        run_command({host_binary(), "--plugin", plugin_path("hello"), "--port",
                     "0", flag, bad});
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_NE(r.err.find(std::string("pounce-host: cannot open ") + flag + " " +
                         bad + ": No such file or directory"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(r.err.find("listening on"), std::string::npos) << r.err;

    CommandResult c = run_command(
        {host_binary(), "check", "--plugin", plugin_path("hello"), flag, bad});
    EXPECT_EQ(c.status, 1) << c.err;
    EXPECT_NE(c.err.find(std::string("pounce-host check: cannot open ") + flag +
                         " " + bad),
              std::string::npos)
        << c.err;
  }
  // A good path passes the check and is not created by it.
  const std::string good = dir.file("access.log");
  CommandResult c =
      run_command({host_binary(), "check", "--plugin", plugin_path("hello"),
                   "--access-log-file", good});
  EXPECT_EQ(c.status, 0) << c.err;
  struct stat st;
  EXPECT_NE(stat(good.c_str(), &st), 0);
}

}  // namespace
