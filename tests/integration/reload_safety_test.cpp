// Reload safety (issue 9: #6, #14, #15, #16, #19): signals that land in the
// middle of a startup or a reload, plugins that throw or lie in their
// descriptor, a .so caught half-written, and a $TMPDIR mounted noexec.
// Signals are timed with a test plugin held at a fifo gate (tests/plugins/
// gate.c), never with sleeps.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
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

std::string get(uint16_t port, const std::string& path) {
  auto r = one_request(port, "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
  return r ? r->body : std::string("<no response>");
}

// A fresh directory, removed with what is in it.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pounce-safety-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const std::string& path() const { return dir_; }
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir_)) {
      names.push_back(e.path().filename().string());
    }
    return names;
  }

 private:
  std::string dir_;
};

// The gate of tests/plugins/gate.c: two fifos per point ("init",
// "handle"). The plugin writes its pid to <point>-ready and then waits for
// a write to <point>-go.
class Gate {
 public:
  Gate() {
    for (const char* point : {"init", "handle"}) {
      mkfifo((dir_.path() + "/" + point + "-ready").c_str(), 0600);
      mkfifo((dir_.path() + "/" + point + "-go").c_str(), 0600);
    }
  }
  const std::string& dir() const { return dir_.path(); }

  // The pid of the process held at `point`, or -1 when nothing arrives.
  pid_t wait_held(const std::string& point,
                  std::chrono::milliseconds timeout = 20s) {
    int fd = open((dir() + "/" + point + "-ready").c_str(),
                  O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    std::string text;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      // A fifo that never had a writer does not report POLLHUP: this waits
      // for the plugin.
      if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[64];
      ssize_t n = read(fd, buf, sizeof buf);
      if (n > 0) text.append(buf, static_cast<size_t>(n));
      if (n == 0 || text.find('\n') != std::string::npos) break;
    }
    close(fd);
    if (text.find('\n') == std::string::npos) return -1;
    return static_cast<pid_t>(std::stol(text));
  }

  // Lets the plugin held at `point` go on.
  bool release(const std::string& point) {
    int fd = open((dir() + "/" + point + "-go").c_str(),
                  O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return false;
    bool ok = write(fd, "go\n", 3) == 3;
    close(fd);
    return ok;
  }

 private:
  TempDir dir_;
};

std::vector<std::string> gate_args(const Gate& gate, int hold_init,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "--plugin",
      test_plugin_path("gate"),
      "--plugin-config",
      "/={\"gate\":\"" + gate.dir() +
          "\",\"hold_init\":" + std::to_string(hold_init) + "}",
      "--workers",
      "1",
      "--async-threads",
      "1",
      "--no-access-log",
      // Far longer than the exits these tests wait for: an exit that only
      // comes at this timeout is a failure.
      "--shutdown-timeout",
      "120",
  };
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// The reasons in the "gen N draining REASON" lines, in order.
std::vector<std::string> drains_of(const std::string& log, int gen) {
  std::vector<std::string> reasons;
  std::string prefix = "gen " + std::to_string(gen) + " draining ";
  for (size_t at = log.find(prefix); at != std::string::npos;
       at = log.find(prefix, at + 1)) {
    size_t start = at + prefix.size();
    reasons.push_back(log.substr(start, log.find('\n', start) - start));
  }
  return reasons;
}

// A /stream client that has received its first chunk from generation `gen`.
std::unique_ptr<RawClient> open_stream(uint16_t port, int gen) {
  auto c = std::make_unique<RawClient>(port);
  c->send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c->read_head();
  if (!head || head->status != 200) return nullptr;
  bool ended = false;
  auto chunk = c->read_chunk(&ended);
  if (!chunk || *chunk != "gen " + std::to_string(gen) + "\n") return nullptr;
  return c;
}

// The stream ended with its last chunk (the plugin's stream_end), not cut.
bool ends_cleanly(RawClient& c) {
  bool ended = false;
  while (c.read_chunk(&ended, 20s)) {
  }
  return ended;
}

// ---------------------------------------------------------------------------
// #19: SIGHUP during startup

TEST(StartupSignals, SighupDuringInitIsAReloadOnceReady) {
  Gate gate;
  std::unique_ptr<HostProcess> h;
  std::thread starter(
      [&] { h = std::make_unique<HostProcess>(gate_args(gate, 1)); });
  pid_t pid = gate.wait_held("init");
  if (pid > 0) kill(pid, SIGHUP);
  // The signal is pending or handled before the plugin's init can return.
  gate.release("init");
  starter.join();
  ASSERT_GT(pid, 0) << "the plugin's init was never held";
  ASSERT_TRUE(h->ok()) << "SIGHUP during startup ended the process:\n"
                       << h->stderr_text();
  ASSERT_TRUE(h->wait_for_stderr("reloaded generation 2")) << h->stderr_text();
  EXPECT_EQ(get(h->port(), "/"), "gen 2");
  EXPECT_TRUE(h->running());
}

// ---------------------------------------------------------------------------
// #6: SIGTERM at each step of a reload. Every generation that served hears
// SHUTDOWN exactly once, none hears RELOAD after it, streams end at
// SHUTDOWN, and the process exits 0 long before --shutdown-timeout.

void expect_clean_drains(const std::string& log, int generations) {
  for (int gen = 1; gen <= generations; ++gen) {
    auto reasons = drains_of(log, gen);
    ASSERT_FALSE(reasons.empty()) << "gen " << gen << " never drained\n" << log;
    EXPECT_EQ(reasons.back(), "SHUTDOWN")
        << "gen " << gen << " heard something after SHUTDOWN\n"
        << log;
    EXPECT_EQ(std::count(reasons.begin(), reasons.end(), "SHUTDOWN"), 1)
        << "gen " << gen << "\n"
        << log;
  }
}

TEST(ReloadSignals, SigtermWhileTheNextGenerationInits) {
  Gate gate;
  HostProcess h(gate_args(gate, 2));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto stream = open_stream(h.port(), 1);
  ASSERT_TRUE(stream) << h.stderr_text();

  h.signal(SIGHUP);
  ASSERT_GT(gate.wait_held("init"), 0) << h.stderr_text();
  h.signal(SIGTERM);  // handled once the build is over
  ASSERT_TRUE(gate.release("init"));

  EXPECT_TRUE(ends_cleanly(*stream)) << h.stderr_text();
  ASSERT_EQ(h.wait_exit(60s), 0) << h.stderr_text();
  std::string log = h.stderr_text();
  expect_clean_drains(log, 2);
  EXPECT_NE(log.find("gen 1 stream ended by SHUTDOWN"), std::string::npos)
      << log;
  EXPECT_EQ(log.find("shutdown timeout"), std::string::npos) << log;
}

TEST(ReloadSignals, SigtermWhileALoopHasNotSwitchedYet) {
  Gate gate;
  HostProcess h(gate_args(gate, 0));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto stream = open_stream(h.port(), 1);
  ASSERT_TRUE(stream) << h.stderr_text();
  // The only worker is held in a handler: it cannot take the new
  // generation until it is released, so the publish stays in flight.
  RawClient held(h.port());
  held.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_GT(gate.wait_held("handle"), 0) << h.stderr_text();

  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("gen 2 init")) << h.stderr_text();
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("SIGTERM: shutting down")) << h.stderr_text();
  ASSERT_TRUE(gate.release("handle"));

  auto r = held.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "gen 1");
  EXPECT_TRUE(ends_cleanly(*stream)) << h.stderr_text();
  ASSERT_EQ(h.wait_exit(60s), 0) << h.stderr_text();
  std::string log = h.stderr_text();
  expect_clean_drains(log, 2);
  EXPECT_EQ(drains_of(log, 1), std::vector<std::string>{"SHUTDOWN"})
      << "the old generation was told RELOAD during the shutdown\n"
      << log;
  EXPECT_EQ(log.find("shutdown timeout"), std::string::npos) << log;
}

TEST(ReloadSignals, SigtermWhileTheOldGenerationRetires) {
  Gate gate;
  HostProcess h(gate_args(gate, 0));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto stream = open_stream(h.port(), 1);  // pins generation 1
  ASSERT_TRUE(stream) << h.stderr_text();

  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  ASSERT_TRUE(h.wait_for_stderr("gen 1 draining RELOAD")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "gen 2");
  h.signal(SIGTERM);

  EXPECT_TRUE(ends_cleanly(*stream)) << h.stderr_text();
  ASSERT_EQ(h.wait_exit(60s), 0) << h.stderr_text();
  std::string log = h.stderr_text();
  expect_clean_drains(log, 2);
  EXPECT_EQ(drains_of(log, 1), (std::vector<std::string>{"RELOAD", "SHUTDOWN"}))
      << log;
}

TEST(ReloadSignals, SighupDuringTheShutdownIsIgnored) {
  Gate gate;
  HostProcess h(gate_args(gate, 0));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient held(h.port());
  held.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_GT(gate.wait_held("handle"), 0) << h.stderr_text();
  h.signal(SIGTERM);
  ASSERT_TRUE(h.wait_for_stderr("SIGTERM: shutting down")) << h.stderr_text();
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("SIGHUP ignored: shutting down"))
      << h.stderr_text();
  ASSERT_TRUE(gate.release("handle"));
  auto r = held.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "gen 1");
  EXPECT_EQ(h.wait_exit(60s), 0) << h.stderr_text();
}

// ---------------------------------------------------------------------------
// #14: exceptions and invalid descriptors on the load path

// A private directory with a copy of a plugin, which tests replace.
class PluginDir {
 public:
  std::string path() const { return dir_.path() + "/libapp.so"; }
  // Atomically replaces libapp.so: the safe deploy.
  void install(const std::string& from) {
    std::string tmp = dir_.path() + "/.libapp.so.new";
    fs::copy_file(from, tmp, fs::copy_options::overwrite_existing);
    fs::rename(tmp, path());
  }
  // Overwrites libapp.so in place with the first half of `from`, as a `cp`
  // or a linker caught half-way would leave it.
  void write_half_of(const std::string& from) {
    std::ifstream in(from, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream out(path(), std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }

 private:
  TempDir dir_;
};

struct BadPlugin {
  const char* plugin;
  const char* reason;  // expected in the message
};

class BadPlugins : public ::testing::TestWithParam<BadPlugin> {};

TEST_P(BadPlugins, AreRefusedAtStartupWithAMessage) {
  auto r = run_command({host_binary(), "--port", "0", "--plugin",
                        test_plugin_path(GetParam().plugin)},
                       30s);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find(GetParam().reason), std::string::npos) << r.err;
}

TEST_P(BadPlugins, FailTheReloadAndTheOldGenerationKeepsServing) {
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h({"--plugin", dir.path()});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  dir.install(test_plugin_path(GetParam().plugin));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ")) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find(GetParam().reason), std::string::npos)
      << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v1");
  EXPECT_TRUE(h.running());

  dir.install(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v2");
}

INSTANTIATE_TEST_SUITE_P(
    LoadPath, BadPlugins,
    ::testing::Values(
        BadPlugin{"entry_throws", "threw: deliberate entry failure"},
        BadPlugin{"desc_bad_name_len", "bad descriptor name"},
        BadPlugin{"desc_bad_mode", "unknown mode 7"},
        BadPlugin{"desc_bad_routes", "bad route table"},
        BadPlugin{"desc_bad_size", "descriptor size 1073741824"},
        BadPlugin{"desc_no_handler", "sync mode needs on_handle"}),
    [](const auto& info) { return std::string(info.param.plugin); });

// ---------------------------------------------------------------------------
// #15, #16: the private copy

HostOptions with_env(std::vector<std::string> env,
                     std::vector<std::string> args) {
  HostOptions o;
  o.prefix = {"env"};
  o.prefix.insert(o.prefix.end(), env.begin(), env.end());
  o.args = std::move(args);
  return o;
}

TEST(PrivateCopy, HalfWrittenPluginFailsTheReloadAndLeavesNothing) {
  TempDir tmp;
  PluginDir dir;
  dir.install(test_plugin_path("versioned_v1"));
  HostProcess h(with_env({"TMPDIR=" + tmp.path()}, {"--plugin", dir.path()}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();

  dir.write_half_of(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reload failed: ")) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("truncated"), std::string::npos)
      << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v1");
  EXPECT_TRUE(h.running());
  EXPECT_TRUE(tmp.entries().empty()) << tmp.entries().front();

  dir.install(test_plugin_path("versioned_v2"));
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "v2");
  EXPECT_TRUE(tmp.entries().empty()) << tmp.entries().front();
}

TEST(PrivateCopy, TheMappedCopyIsAMemfd) {
  TempDir tmp;
  HostProcess h(
      with_env({"TMPDIR=" + tmp.path()}, {"--plugin", plugin_path("hello")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::ifstream maps("/proc/" + std::to_string(h.serving_pid()) + "/maps");
  std::string text((std::istreambuf_iterator<char>(maps)), {});
  EXPECT_NE(text.find("/memfd:pounce-1-libhello.so (deleted)"),
            std::string::npos)
      << text;
  EXPECT_TRUE(tmp.entries().empty()) << tmp.entries().front();
}

// Mounts a tmpfs with noexec at a fresh directory; empty when not allowed.
class NoexecDir {
 public:
  NoexecDir() {
    if (mount("tmpfs", dir_.path().c_str(), "tmpfs", MS_NOEXEC | MS_NOSUID,
              "size=16m") == 0) {
      mounted_ = true;
    } else {
      why_ = strerror(errno);
    }
  }
  ~NoexecDir() {
    if (mounted_) umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return dir_.path(); }
  std::vector<std::string> entries() const { return dir_.entries(); }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_;
};

TEST(PrivateCopy, LoadsAndReloadsWithANoexecTmpdir) {
  NoexecDir noexec;
  if (!noexec.mounted()) {
    GTEST_SKIP() << "cannot mount a noexec tmpfs here (" << noexec.why()
                 << "); needs root or CAP_SYS_ADMIN";
  }
  HostProcess h(with_env({"TMPDIR=" + noexec.path()},
                         {"--plugin", plugin_path("hello")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
  EXPECT_TRUE(noexec.entries().empty()) << noexec.entries().front();
}

// Without memfd_create (an old kernel, a seccomp filter), the copy goes to
// $TMPDIR: unlinked at once, and a noexec mount is named in the error.
std::vector<std::string> without_memfd(const std::string& tmpdir) {
  // Under ASan the shim precedes its runtime in the library list: allowed
  // here, keeping whatever else the sanitizer build asks for.
  std::string asan = "ASAN_OPTIONS=";
  if (const char* cur = getenv("ASAN_OPTIONS"); cur && *cur) {
    asan += std::string(cur) + ":";
  }
  asan += "verify_asan_link_order=0";
  return {"LD_PRELOAD=" + test_plugin_path("no_memfd"), asan,
          "TMPDIR=" + tmpdir};
}

TEST(PrivateCopy, WithoutMemfdTheCopyInTmpdirIsUnlinkedAtOnce) {
  TempDir tmp;
  HostProcess h(
      with_env(without_memfd(tmp.path()), {"--plugin", plugin_path("hello")}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_NE(h.stderr_text().find("memfd_create failed"), std::string::npos)
      << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
  EXPECT_TRUE(tmp.entries().empty()) << tmp.entries().front();
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation 2")) << h.stderr_text();
  EXPECT_EQ(get(h.port(), "/"), "Hello, World!");
  EXPECT_TRUE(tmp.entries().empty()) << tmp.entries().front();
}

TEST(PrivateCopy, WithoutMemfdANoexecTmpdirIsNamedInTheError) {
  NoexecDir noexec;
  if (!noexec.mounted()) {
    GTEST_SKIP() << "cannot mount a noexec tmpfs here (" << noexec.why()
                 << "); needs root or CAP_SYS_ADMIN";
  }
  std::vector<std::string> argv = {"env"};
  for (auto& e : without_memfd(noexec.path())) argv.push_back(e);
  for (auto& a : std::vector<std::string>{host_binary(), "--port", "0",
                                          "--plugin", plugin_path("hello")}) {
    argv.push_back(a);
  }
  auto r = run_command(argv, 30s);
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("noexec"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("TMPDIR"), std::string::npos) << r.err;
  EXPECT_TRUE(noexec.entries().empty()) << noexec.entries().front();
}

}  // namespace
