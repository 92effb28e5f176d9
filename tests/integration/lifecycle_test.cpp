// Workers, accept modes, CPU affinity, write timeouts, graceful shutdown, hot
// reload and the log's behaviour when its reader stalls.
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string get(uint16_t port, const std::string& path) {
  auto r = one_request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return r ? r->body : std::string("<no response>");
}

// The thread ids that served `connections` concurrent keep-alive clients.
std::set<std::string> serving_threads(uint16_t port, int connections) {
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < connections; ++i) {
    clients.push_back(std::make_unique<RawClient>(port));
  }
  std::set<std::string> tids;
  for (int round = 0; round < 3; ++round) {
    for (auto& c : clients) c->send("GET /tid HTTP/1.1\r\nHost: x\r\n\r\n");
    for (auto& c : clients) {
      auto r = c->read_response();
      if (r) tids.insert(r->body);
    }
  }
  return tids;
}

// A private directory with a copy of a plugin, which tests replace.
class PluginDir {
 public:
  PluginDir() {
    char tmpl[] = "/tmp/pounce-reload-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~PluginDir() { fs::remove_all(dir_); }
  std::string path() const { return dir_ + "/libapp.so"; }
  // Atomically replaces libapp.so, as `install` or a package manager would.
  void install(const std::string& from) {
    std::string tmp = dir_ + "/.libapp.so.new";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, path());
  }
  void install_garbage() {
    std::string tmp = dir_ + "/.libapp.so.new";
    std::ofstream(tmp) << "this is not an ELF file";
    fs::rename(tmp, path());
  }

 private:
  std::string dir_;
};

// Distinct mapped copies of plugins whose file name ends in `suffix`.
std::set<std::string> mapped_copies(pid_t pid, const std::string& suffix) {
  std::ifstream maps("/proc/" + std::to_string(pid) + "/maps");
  std::set<std::string> paths;
  std::string line;
  while (std::getline(maps, line)) {
    size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    std::string p = line.substr(slash);
    if (p.find(suffix) != std::string::npos) paths.insert(p);
  }
  return paths;
}

// ---------------------------------------------------------------------------
// Workers and accept modes

TEST(Workers, SyncHandlersRunConcurrentlyOnSeveralWorkers) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1"), "--workers", "2",
                 "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("(workers=2)"), std::string::npos);
  auto tids = serving_threads(h.port(), 32);
  EXPECT_GT(tids.size(), 1u) << "every request ran on one thread";
}

TEST(Workers, ZeroMeansOnePerCpu) {
  HostProcess h({"--plugin", plugin_path("hello"), "--workers", "0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  unsigned cpus = std::thread::hardware_concurrency();
  EXPECT_NE(h.stderr_text().find("(workers=" + std::to_string(cpus) + ")"),
            std::string::npos)
      << h.stderr_text();
}

TEST(AcceptModes, ReusePortReachesEveryWorker) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1"), "--workers", "2",
                 "--accept-mode", "reuseport", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(serving_threads(h.port(), 32).size(), 2u);
}

TEST(AcceptModes, ReusePortSocketsShareThePortOfPortZero) {
  HostProcess h({"--plugin", plugin_path("hello"), "--workers", "3",
                 "--accept-mode", "reuseport"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // Three listening sockets, one port: every socket of the process that
  // listens is on the startup line's port.
  auto r = run_command({"ss", "-Hltnp"});
  size_t ours = 0;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.find("pid=" + std::to_string(h.pid()) + ",") == std::string::npos)
      continue;
    ++ours;
    EXPECT_NE(line.find(":" + std::to_string(h.port()) + " "),
              std::string::npos)
        << line;
  }
  EXPECT_EQ(ours, 3u) << r.out;
}

TEST(AcceptModes, DistributorReachesEveryWorker) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1"), "--workers", "2",
                 "--accept-mode", "distributor", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // Round-robin: any two connections land on two different workers.
  EXPECT_EQ(serving_threads(h.port(), 8).size(), 2u);
}

// Each thread's Cpus_allowed_list, by thread name (comm).
std::map<std::string, std::string> allowed_cpus_by_thread(pid_t pid) {
  std::map<std::string, std::string> out;
  for (const auto& task :
       fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    std::string comm;
    std::ifstream(task.path() / "comm") >> comm;
    std::ifstream status(task.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Cpus_allowed_list:", 0) == 0) {
        out[comm] = line.substr(line.find_first_not_of(" \t", 18));
      }
    }
  }
  return out;
}

TEST(CpuAffinity, PinsWorkersThenAsyncThreadsRoundRobin) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof set, &set), 0);
  if (CPU_COUNT(&set) < 2 || !CPU_ISSET(0, &set) || !CPU_ISSET(1, &set)) {
    GTEST_SKIP() << "needs CPUs 0 and 1";
  }
  // Restricted to CPUs 0 and 1, whatever the machine has: workers 0 and 1
  // get one each, then the async thread starts the round again at CPU 0.
  HostOptions o;
  o.prefix = {"taskset", "-c", "0,1"};
  o.args = {
      "--plugin", plugin_path("hello"), "--workers", "2", "--async-threads",
      "1",        "--cpu-affinity"};
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // Threads name and pin themselves as they start, which may be just after
  // the startup line: wait (up to 5 s) until all three have.
  std::map<std::string, std::string> cpus;
  for (auto until = std::chrono::steady_clock::now() + 5s;
       std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(10ms)) {
    cpus = allowed_cpus_by_thread(h.serving_pid());
    if (cpus["pounce-worker0"] == "0" && cpus["pounce-worker1"] == "1" &&
        cpus["pounce-async2"] == "0") {
      break;
    }
  }
  EXPECT_EQ(cpus["pounce-worker0"], "0");
  EXPECT_EQ(cpus["pounce-worker1"], "1");
  EXPECT_EQ(cpus["pounce-async2"], "0");
}

TEST(CpuAffinity, WorkersZeroCountsTheAllowedCpus) {
  HostOptions o;
  o.prefix = {"taskset", "-c", "0"};
  o.args = {"--plugin", plugin_path("hello"), "--workers", "0"};
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // --workers 0 counts the CPUs the process may use: one here.
  EXPECT_NE(h.stderr_text().find("(workers=1)"), std::string::npos)
      << h.stderr_text();
}

// ---------------------------------------------------------------------------
// Limits

TEST(Limits, WriteTimeoutClosesAClientThatStopsReading) {
  HostProcess h({"--plugin", plugin_path("echo"), "--write-timeout", "0.3",
                 "--max-body-size", "20000000"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  // A 16 MB echo is far more than the socket buffers hold; never read it.
  std::string body(16 * 1000 * 1000, 'x');
  std::thread writer([&] {
    c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n");
    c.send(body);
  });
  // The whole body is read by the server before it answers, so the send
  // ends first; the answer then stalls and --write-timeout (0.3 s, not the
  // 30 s default) ends it.
  writer.join();
  auto sent = std::chrono::steady_clock::now();
  EXPECT_TRUE(h.wait_for_stderr("write timeout", 10s)) << h.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - sent, 2s);
  c.shutdown_write();
}

TEST(Limits, MaxHeaderSizeIsConfigurable) {
  HostProcess h(
      {"--plugin", plugin_path("hello"), "--max-header-size", "1024"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto ok = one_request(h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\nX: " +
                                      std::string(900, 'a') + "\r\n\r\n");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto big = one_request(h.port(), "GET /hello HTTP/1.1\r\nHost: x\r\nX: " +
                                       std::string(1100, 'a') + "\r\n\r\n");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 431);
}

TEST(Limits, MaxBodySizeIsConfigurable) {
  HostProcess h({"--plugin", plugin_path("echo"), "--max-body-size", "10"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto ok =
      one_request(h.port(),
                  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
                  "0123456789");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->body, "0123456789");
  auto big = one_request(
      h.port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

// ---------------------------------------------------------------------------
// Graceful shutdown

TEST(Shutdown, InFlightRequestCompletesWithConnectionClose) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient idle(h.port());
  idle.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(idle.read_response());
  RawClient c(h.port());
  c.send("GET /slow?ms=700 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("slow request started"));
  h.signal(SIGTERM);
  auto r = c.read_response();
  ASSERT_TRUE(r) << h.stderr_text();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "v1");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed());
  EXPECT_TRUE(idle.wait_closed()) << "the idle keep-alive connection stayed";
  EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
}

TEST(Shutdown, StopsAcceptingNewConnections) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1")});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient busy(h.port());
  busy.send("GET /slow?ms=800 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("slow request started"));
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("shutting down gracefully"));
  ASSERT_TRUE(busy.read_response());
  EXPECT_EQ(h.wait_exit(), 0);
  RawClient late(h.port());
  EXPECT_FALSE(late.connected());
}

TEST(Shutdown, TimeoutClosesWhatIsLeftAndExitsZero) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1"),
                 "--shutdown-timeout", "0.3", "--header-timeout", "30"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient partial(h.port());
  partial.send("GET / HTTP/1.1\r\nHost");  // never completes
  ASSERT_TRUE(partial.stays_open(50ms));
  auto start = std::chrono::steady_clock::now();
  h.signal(SIGTERM);
  EXPECT_EQ(h.wait_exit(10s), 0);
  // The unfinished request holds the drain until --shutdown-timeout (0.3 s,
  // not the 10 s default), and not much longer.
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, 300ms - kTimerMayFireEarly);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(partial.wait_closed(5s));
}

TEST(Shutdown, SecondSigintExitsAtOnce) {
  HostProcess h({"--plugin", test_plugin_path("versioned_v1"),
                 "--shutdown-timeout", "60"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient busy(h.port());
  busy.send("GET /slow?ms=3000 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("slow request started"));
  h.signal(SIGINT);
  ASSERT_TRUE(h.wait_for_stderr("SIGINT: shutting down gracefully"));
  h.signal(SIGINT);
  EXPECT_EQ(h.wait_exit(2s), 130);
}

// ---------------------------------------------------------------------------
// Hot reload

TEST(Reload, NewCodeServesNewRequestsWhileAnOldRequestCompletes) {
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h({"--plugin", dir.path(), "--workers", "2", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_EQ(get(h.port(), "/"), "v1");

  RawClient slow(h.port());
  slow.send("GET /slow?ms=600 HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(h.wait_for_stderr("slow request started"));
  dir.install(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  auto old = slow.read_response();
  ASSERT_TRUE(old);
  EXPECT_EQ(old->body, "v1") << "the request in flight moved to new code";
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(get(h.port(), "/"), "v2");
}

TEST(Reload, KeepAliveClientMovesAtItsNextRequest) {
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h({"--plugin", dir.path()});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response()->body, "v1");
  dir.install(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2"));
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(c.read_response()->body, "v2");
}

TEST(Reload, BrokenPluginKeepsTheOldGenerationServing) {
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h({"--plugin", dir.path()});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  dir.install_garbage();
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v1");

  dir.install(test_plugin_path("abi_major2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ", 10s, 2));
  EXPECT_NE(h.stderr_text().find("plugin ABI 2.0, host ABI 1.1"),
            std::string::npos);
  EXPECT_EQ(get(h.port(), "/"), "v1");

  dir.install(test_plugin_path("init_fail"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ", 10s, 3));
  EXPECT_NE(h.stderr_text().find("deliberate init failure"), std::string::npos);
  EXPECT_EQ(get(h.port(), "/"), "v1");

  fs::remove(dir.path());
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ", 10s, 4));
  EXPECT_EQ(get(h.port(), "/"), "v1");

  dir.install(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v2");
}

TEST(Reload, OldCopyIsUnmappedAfterTheDrain) {
  // The plugin has inline and template statics; without -fno-gnu-unique,
  // glibc would never unmap the old copy.
  auto syms =
      run_command({"readelf", "-sW", test_plugin_path("unique_static")});
  ASSERT_EQ(syms.status, 0);
  EXPECT_EQ(syms.out.find("UNIQUE"), std::string::npos)
      << "the plugin has STB_GNU_UNIQUE symbols";

  PluginDir dir;
  dir.install(test_plugin_path("unique_static"));
  HostProcess h({"--plugin", dir.path()});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "unique-static");
  auto before = mapped_copies(h.serving_pid(), "-libapp.so (deleted)");
  ASSERT_EQ(before.size(), 1u);
  // The copy is a memfd named per load ("/memfd:pounce-<serial>-libapp.so"),
  // so the name tells the old mapping from the new one.
  EXPECT_EQ(before.begin()->rfind("/memfd:pounce-", 0), 0u) << *before.begin();

  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("unloaded generation 1")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "unique-static");
  auto after = mapped_copies(h.serving_pid(), "-libapp.so (deleted)");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(*after.begin(), *before.begin())
      << "the old copy is still mapped: " << *before.begin();
}

TEST(Reload, TwentyReloadsWhileRequestsRun) {
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h({"--plugin", dir.path(), "--workers", "2", "--no-access-log"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  constexpr int kClients = 4;
  std::atomic<bool> stop{false};
  // Written by the client threads, read by the test thread; relaxed is
  // enough for counters that are only compared, never used to publish data.
  std::atomic<int> failed{0};
  std::array<std::atomic<int>, kClients> served{};
  std::atomic<int> v1{0}, v2{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t) {
    clients.emplace_back([&, t] {
      std::unique_ptr<RawClient> c;
      for (int i = 0; !stop; ++i) {
        // Mix keep-alive requests and new connections.
        if (!c || i % 8 == 0) c = std::make_unique<RawClient>(h.port());
        if (c->send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")) {
          auto r = c->read_response();
          if (r && r->status == 200 && (r->body == "v1" || r->body == "v2")) {
            ++(r->body == "v1" ? v1 : v2);
            ++served[static_cast<size_t>(t)];
            continue;
          }
        }
        ++failed;
        c.reset();
      }
    });
  }
  // Not a floor on the total, which says little about 20 reloads: every
  // client is served across every reload, and each reload takes effect.
  auto snapshot = [&] {
    std::array<int, kClients> n{};
    for (size_t i = 0; i < n.size(); ++i) n[i] = served[i].load();
    return n;
  };
  for (int n = 2; n <= 21; ++n) {
    const auto before = snapshot();
    const char* version = n % 2 ? "v1" : "v2";
    dir.install(test_plugin_path(n % 2 ? "versioned_v1" : "versioned_v2"));
    h.signal(SIGHUP);
    ASSERT_TRUE(h.wait_for_stderr("reloaded generation " + std::to_string(n)))
        << h.stderr_text();
    EXPECT_EQ(get(h.port(), "/"), version) << "after reload " << n;
    // Each client completes a request that started after the reload began.
    for (size_t i = 0; i < before.size(); ++i) {
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (served[i].load() <= before[i] + 1 &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      EXPECT_GT(served[i].load(), before[i] + 1)
          << "client " << i << " was not served across reload " << n;
    }
  }
  stop = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_GT(v1.load(), 0);
  EXPECT_GT(v2.load(), 0);
  EXPECT_EQ(h.stderr_text().find("reload failed"), std::string::npos);
}

TEST(Reload, ConfigFileEntriesAreReread) {
  PluginDir dir;
  std::string conf = dir.path() + ".json";
  std::ofstream(conf) << "{\"plugin\": [\"" << test_plugin_path("versioned_v1")
                      << "\"]}";
  HostProcess h({"--config", conf});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v1");
  std::ofstream(conf) << "{\"plugin\": [\"" << test_plugin_path("versioned_v2")
                      << "\"], \"workers\": 3}";
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v2");
  EXPECT_NE(h.stderr_text().find("restart to apply them"), std::string::npos);
  fs::remove(conf);
}

// ---------------------------------------------------------------------------
// Logging

TEST(Logging, StalledAccessLogReaderNeverBlocksTheWorkers) {
  HostOptions o;
  o.args = {"--plugin", plugin_path("hello")};
  o.drain_stdout = false;  // nobody reads the access log
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // Far more log lines than the pipe (64 KiB) and the buffer (256 KiB) hold.
  RawClient c(h.port());
  std::string batch;
  for (int i = 0; i < 100; ++i)
    batch += "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  for (int round = 0; round < 60; ++round) {
    ASSERT_TRUE(c.send(batch));
    for (int i = 0; i < 100; ++i) {
      auto r = c.read_response(false, 5s);
      ASSERT_TRUE(r) << "a worker blocked on its log, round " << round;
    }
  }
  h.resume_stdout();
  // One more request after the reader is back, so that the count is flushed.
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_response());
  c.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(c.read_response());
  EXPECT_TRUE(h.wait_for_stdout("lines dropped")) << h.stdout_text().size();
}

}  // namespace
