// The supervisor (a parent that owns the sockets and restarts the serving
// process) and the crash reports of the serving process, with real
// processes, real sockets and a plugin that crashes on purpose
// (tests/plugins/crasher.c).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

#if defined(__SANITIZE_ADDRESS__)
// ASan handles SIGSEGV (and SIGFPE, and stack overflows) itself: its report
// replaces ours, and the process then exits with status 1 instead of dying
// of the signal. SIGABRT is ours in both builds.
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif

std::string get(uint16_t port, const std::string& path) {
  auto r = one_request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return r ? r->body : std::string("<no response>");
}

HostOptions crasher(std::vector<std::string> extra = {}) {
  HostOptions o;
  o.args = {"--plugin", test_plugin_path("crasher"), "--no-access-log"};
  o.args.insert(o.args.end(), extra.begin(), extra.end());
  o.crash_expected = true;
  return o;
}

// How many times the serving process died of a SIGSEGV, by its own report
// (or ASan's) and by the parent's line about it.
size_t segv_reports(const std::string& log) {
  return count_of(log, "pounce-host: fatal signal SIGSEGV (11)") +
         (kAsan ? count_of(log, "ERROR: AddressSanitizer: SEGV") +
                      count_of(log, "ERROR: AddressSanitizer: stack-overflow")
                : 0);
}
size_t segv_exits(const std::string& log) {
  return count_of(log, "worker process exited on signal SIGSEGV (11)") +
         (kAsan ? count_of(log, "worker process exited with status 1") : 0);
}

// A temporary directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pounce-supervisor-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(dir_); }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

bool process_exists(pid_t pid) {
  return kill(pid, 0) == 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// Restarts

TEST(Supervisor, TwentyCrashesInARowWhileOtherClientsLoadTheSameWorker) {
  HostProcess h(crasher({"--workers", "1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_NE(h.serving_pid(), h.pid()) << "no serving child process";

  // Each loader sends GET / on a fresh connection, one at a time: at most
  // one of its requests is in flight when a crash happens.
  constexpr int kLoaders = 3;
  constexpr int kCrashes = 20;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, lost{0}, refused{0}, wrong{0};
  std::vector<std::thread> loaders;
  for (int i = 0; i < kLoaders; ++i) {
    loaders.emplace_back([&] {
      while (!stop.load()) {
        RawClient c(h.port());
        if (!c.connected()) {
          ++refused;
          continue;
        }
        if (!c.send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")) {
          ++lost;
          continue;
        }
        auto r = c.read_response(false, 20s);
        if (!r) {
          ++lost;
        } else if (r->status == 200 && r->body == "ok") {
          ++ok;
        } else {
          ++wrong;
        }
      }
    });
  }

  for (int i = 1; i <= kCrashes; ++i) {
    RawClient c(h.port());
    ASSERT_TRUE(c.connected()) << "crash " << i << ": refused";
    c.send("GET /crash HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(c.read_response(false, 20s)) << "crash " << i;
    // Restarted at once (it was ready), and serving again.
    ASSERT_TRUE(h.wait_for_stderr("restarting the worker process", 20s, i))
        << h.stderr_text();
    ASSERT_TRUE(h.wait_for_stderr(" is serving", 20s, i)) << h.stderr_text();
  }
  // The loaders go on against the last child for a moment.
  int before = ok.load();
  for (auto until = std::chrono::steady_clock::now() + 10s;
       ok.load() < before + 20 && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);  // polling a counter, not a sync point
  }
  stop = true;
  for (auto& t : loaders) t.join();

  EXPECT_EQ(refused.load(), 0) << "a connection was refused";
  EXPECT_EQ(wrong.load(), 0);
  // Only a request in flight at a crash may be lost: one per loader at most.
  EXPECT_LE(lost.load(), kLoaders * kCrashes);
  EXPECT_GE(ok.load(), before + 20) << "the loaders stopped being served";
  EXPECT_EQ(get(h.port(), "/"), "ok");

  std::string log = h.stderr_text();
  EXPECT_EQ(segv_reports(log), static_cast<size_t>(kCrashes)) << log;
  EXPECT_EQ(segv_exits(log), static_cast<size_t>(kCrashes)) << log;
  EXPECT_EQ(count_of(log, "restarting the worker process"),
            static_cast<size_t>(kCrashes));
  EXPECT_EQ(count_of(log, "died before it was ready"), 0u) << log;
  EXPECT_EQ(count_of(log, "pounce-host: listening on"), 1u)
      << "the startup line is printed once, not at each restart";
  if (!kAsan) {
    EXPECT_EQ(count_of(log, "in plugin crasher (mount /, generation 1"),
              static_cast<size_t>(kCrashes));
  }

  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(Supervisor, InitCrashAtStartupExitsNonZeroWithoutRestarting) {
  HostOptions o = crasher({"--plugin-config", "/={\"crash_in_init\": true}"});
  HostProcess h(o);
  ASSERT_FALSE(h.ok());
  int status = h.wait_exit();
  EXPECT_NE(status, 0);
  EXPECT_NE(status, -1) << "still running: a restart loop?";
  std::string log = h.stderr_text();
  EXPECT_EQ(segv_reports(log), 1u) << log;
  EXPECT_EQ(segv_exits(log), 1u) << log;
  EXPECT_NE(log.find("the worker process failed at startup; not restarting"),
            std::string::npos)
      << log;
  EXPECT_EQ(count_of(log, "restarting"), 1u) << log;  // "not restarting"
  if (!kAsan) {
    EXPECT_EQ(status, 128 + SIGSEGV);
    EXPECT_NE(log.find("in plugin crasher (mount /, generation 1, file "),
              std::string::npos)
        << log;
    EXPECT_NE(log.find("), init\n"), std::string::npos) << log;
  }
}

TEST(Supervisor, InitFailureAtStartupExitsWithTheChildsMessage) {
  HostProcess h({"--plugin", test_plugin_path("init_fail")});
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.wait_exit(), 1);
  std::string log = h.stderr_text();
  EXPECT_NE(log.find("deliberate init failure"), std::string::npos) << log;
  EXPECT_NE(log.find("worker process exited with status 1"), std::string::npos)
      << log;
  EXPECT_EQ(count_of(log, "mounted"), 0u);
}

TEST(Supervisor, CrashInTheReloadsInitRestartsWithThePluginsOnDisk) {
  TempDir dir;
  std::string marker = dir.file("crash-next-init");
  std::string conf = dir.file("pounce.json");
  std::string plugin_config =
      "/={\\\"crash_in_init_if\\\": \\\"" + marker + "\\\"}";
  std::ofstream(conf) << "{\"plugin\": [\"" << test_plugin_path("crasher")
                      << "\"], \"plugin_config\": [\"" << plugin_config
                      << "\"]}";
  HostOptions o;
  o.args = {"--config", conf, "--no-access-log"};
  o.crash_expected = true;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/hello"), "ok");  // crasher's catch-all
  pid_t first = h.serving_pid();

  // On disk now: hello at /hello too, and the next init of crasher crashes.
  std::ofstream(conf) << "{\"plugin\": [\"" << test_plugin_path("crasher")
                      << "\", \"/hello=" << plugin_path("hello")
                      << "\"], \"plugin_config\": [\"" << plugin_config
                      << "\"]}";
  std::ofstream(marker) << "1";
  h.signal(SIGHUP);

  ASSERT_TRUE(h.wait_for_stderr("restarting the worker process", 20s))
      << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr(" is serving", 20s)) << h.stderr_text();
  std::string log = h.stderr_text();
  EXPECT_EQ(segv_reports(log), 1u) << log;
  EXPECT_EQ(segv_exits(log), 1u) << log;
  if (!kAsan) {
    EXPECT_NE(log.find("in plugin crasher (mount /, generation 2, file "),
              std::string::npos)
        << log;
  }
  EXPECT_NE(log.find("worker process restarted (restart 1): loading the "
                     "plugins as they are on disk (" +
                     conf + ")"),
            std::string::npos)
      << log;
  EXPECT_EQ(count_of(log, "reloaded generation 2"), 0u);
  // The restarted child serves the file's entries as they are now.
  EXPECT_NE(h.serving_pid(), first);
  EXPECT_EQ(get(h.port(), "/hello"), "Hello, World!");
  EXPECT_EQ(get(h.port(), "/"), "ok");
  EXPECT_EQ(count_of(h.stderr_text(), "pounce-host: listening on"), 1u);
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(Supervisor, RestartsThatDieBeforeReadyBackOff) {
  TempDir dir;
  std::string conf = dir.file("pounce.json");
  auto write_conf =
      [&](bool crash_in_init) {
        std::ofstream(conf)
            << "{\"plugin\": [\"" << test_plugin_path("crasher")
            << "\"], \"plugin_config\": [\"/={\\\"crash_in_init\\\": "
            << (crash_in_init ? "true" : "false") << "}\"]}";
      };
  write_conf(false);
  HostOptions o;
  o.args = {"--config", conf, "--no-access-log", "--restart-backoff-max", "1"};
  o.crash_expected = true;
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();

  write_conf(true);  // every init crashes from now on
  RawClient c(h.port());
  c.send("GET /crash HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(c.read_response(false, 20s));
  // The crash of a ready child restarts at once; the restarts that die in
  // init wait 0.5 s, then 1 s (the maximum here), then 1 s.
  ASSERT_TRUE(h.wait_for_stderr("restarting the worker process (restart 1)"));
  ASSERT_TRUE(h.wait_for_stderr("restarting it in 0.5 s (attempt 2,", 20s))
      << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("restarting it in 1.0 s (attempt 3,", 20s))
      << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("restarting it in 1.0 s (attempt 4,", 20s))
      << h.stderr_text();
  write_conf(false);
  ASSERT_TRUE(h.wait_for_stderr(" is serving", 20s)) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "ok");
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

// ---------------------------------------------------------------------------
// Signals sent to the parent

TEST(Supervisor, SigtermDrainsTheChildThenExitsZero) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  pid_t child = h.serving_pid();
  ASSERT_NE(child, h.pid());
  RawClient c(h.port());
  c.send("GET /slow?ms=500 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("slow request started"));
  h.signal(SIGTERM);
  auto r = c.read_response();
  ASSERT_TRUE(r) << h.stderr_text();
  EXPECT_EQ(r->body, "v1");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
  EXPECT_FALSE(process_exists(child));
  EXPECT_EQ(count_of(h.stderr_text(), "SIGTERM: shutting down gracefully"), 1u);
  RawClient late(h.port());
  EXPECT_FALSE(late.connected()) << "the sockets outlived the server";
}

TEST(Supervisor, SighupReloadsInTheSameChild) {
  HostProcess h({"--plugin", plugin_path("hello")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  pid_t child = h.serving_pid();
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(h.serving_pid(), child);
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
  std::string log = h.stderr_text();
  EXPECT_EQ(count_of(log, "worker process exited"), 0u) << log;
  EXPECT_EQ(count_of(log, "restart"), 0u) << log;
}

TEST(Supervisor, SigtermBeforeTheChildIsReadyStillDrainsCleanly) {
  HostOptions o =
      crasher({"--plugin-config", "/={\"init_delay_ms\": \"300\"}"});
  o.startup_timeout = 0ms;  // do not wait for the startup line here
  HostProcess h(o);
  ASSERT_TRUE(h.wait_for_stderr("crasher: init waits")) << h.stderr_text();
  h.signal(SIGTERM);  // the child is inside init(): not ready yet
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
  std::string log = h.stderr_text();
  EXPECT_NE(log.find("SIGTERM: shutting down gracefully"), std::string::npos)
      << log;
  EXPECT_EQ(count_of(log, "worker process exited"), 0u) << log;
}

TEST(Supervisor, NoSuperviseIsOneProcessThatDiesOfItsCrash) {
  HostProcess h(crasher({"--no-supervise"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(h.serving_pid(), h.pid());
  RawClient c(h.port());
  c.send("GET /abort HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(c.read_response());
  EXPECT_EQ(h.wait_exit(), 128 + SIGABRT) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("pounce-host: fatal signal SIGABRT (6)"),
            std::string::npos);
  EXPECT_EQ(count_of(h.stderr_text(), "worker process"), 0u);
}

TEST(Supervisor, ConfigFileCanTurnItOff) {
  TempDir dir;
  std::string conf = dir.file("pounce.json");
  std::ofstream(conf) << "{\"plugin\": [\"" << plugin_path("hello")
                      << "\"], \"supervise\": false}";
  HostProcess h({"--config", conf});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(h.serving_pid(), h.pid());
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
}

// ---------------------------------------------------------------------------
// Crash reports

TEST(CrashReport, NamesSignalThreadPluginRequestAndBacktrace) {
  HostProcess h(
      crasher({"--plugin", "/hello=" + plugin_path("hello"), "--plugin",
               "/app=" + test_plugin_path("crasher"), "--workers", "2"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // The first one is at "/" (crasher()'s own --plugin).
  RawClient c(h.port());
  c.send("GET /app/abort?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(c.read_response());
  ASSERT_TRUE(h.wait_for_stderr("pounce-host: end of crash report"))
      << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("worker process exited on signal SIGABRT (6)"));
  std::string log = h.stderr_text();
  size_t at = log.find("pounce-host: fatal signal SIGABRT (6) in worker ");
  ASSERT_NE(at, std::string::npos) << log;
  std::string report = log.substr(at);
  EXPECT_NE(report.find("\npounce-host: in plugin crasher (mount /app, "
                        "generation 1, file " +
                        test_plugin_path("crasher")),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("), on_handle, request GET /app/abort\n"),
            std::string::npos)
      << report;
  size_t bt = report.find("\npounce-host: backtrace:\n");
  size_t end = report.find("\npounce-host: end of crash report\n");
  ASSERT_NE(bt, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  std::string frames = report.substr(bt, end - bt);
  // The backtrace names the copy that is mapped (a memfd, see
  // plugin_module.cpp), which the report's "mapped from" ties to the file.
  std::string mapped = "libcrasher.so";
  const std::string kMappedFrom = ", mapped from ";
  if (size_t mf = report.find(kMappedFrom); mf != std::string::npos) {
    size_t from = mf + kMappedFrom.size();
    mapped = report.substr(from, report.find(')', from) - from);
  }
  EXPECT_NE(frames.find(mapped + "(+0x"), std::string::npos) << mapped << "\n"
                                                             << frames;
  EXPECT_NE(frames.find("(abort+"), std::string::npos) << frames;
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(), 0);
}

TEST(CrashReport, EveryFatalSignalIsReportedAndReraised) {
  struct Case {
    const char* path;
    const char* report;  // ours
    const char* exit_line;
    bool asan_takes_it;
  };
  const Case cases[] = {
      {"/crash", "fatal signal SIGSEGV (11) at address 0x10 in worker 0",
       "exited on signal SIGSEGV (11)", true},
      {"/fpe", "fatal signal SIGFPE (8) at address 0x",
       "exited on signal "
       "SIGFPE (8)",
       true},
      {"/abort", "fatal signal SIGABRT (6) in worker 0",
       "exited on signal SIGABRT (6)", false},
      // The report of a stack overflow runs on the alternate signal stack.
      {"/overflow", "fatal signal SIGSEGV (11) at address 0x",
       "exited on signal SIGSEGV (11)", true},
  };
  HostProcess h(crasher());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  size_t n = 0;
  for (const Case& k : cases) {
    ++n;
    RawClient c(h.port());
    c.send(std::string("GET ") + k.path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_FALSE(c.read_response(false, 20s)) << k.path;
    ASSERT_TRUE(h.wait_for_stderr(" is serving", 20s, n)) << h.stderr_text();
    std::string log = h.stderr_text();
    if (kAsan && k.asan_takes_it) continue;
    EXPECT_NE(log.find(std::string("pounce-host: ") + k.report),
              std::string::npos)
        << k.path << "\n"
        << log;
    EXPECT_NE(log.find(std::string("worker process ") + k.exit_line),
              std::string::npos)
        << k.path << "\n"
        << log;
    EXPECT_NE(log.find(std::string("on_handle, request GET ") + k.path + "\n"),
              std::string::npos)
        << k.path;
  }
  EXPECT_EQ(get(h.port(), "/"), "ok");
}
