// Unix socket listeners (--listen unix:PATH, --uds-mode) and systemd socket
// activation (LISTEN_FDS, LISTEN_FDNAMES) with the real
// systemd-socket-activate (issue 14 §5).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "host_process.h"
#include "ops_support.h"
#include "raw_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

unsigned file_mode(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & 07777;
}

bool is_socket(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// A Unix stream socket bound at `path`; listening when `listen_too`.
int bind_unix(const std::string& path, bool listen_too) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (listen_too && listen(fd, 16) != 0)) {
    close(fd);
    return -1;
  }
  return fd;
}

bool can_connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// A TCP port that was free a moment ago (for systemd-socket-activate -l,
// which needs a number).
uint16_t free_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool can_connect_tcp(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

// systemd-socket-activate binds its sockets after it starts, and prints
// that to the host's stderr, which the test cannot read before HostProcess
// returns: the first connection is retried until it is accepted into the
// backlog. That connection is what makes it exec the host.
template <typename Connect>
bool connect_when_listening(Connect connect_once) {
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (connect_once()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

bool have_socket_activate() {
  return run_command({"systemd-socket-activate", "--version"}).status == 0;
}

// pounce-host under systemd-socket-activate, which execs it (same pid) at
// the first connection to one of its sockets: `trigger` makes that
// connection, on the test's thread, while the host starts on another.
template <typename Trigger>
std::unique_ptr<HostProcess> activate(std::vector<std::string> activate_args,
                                      std::vector<std::string> host_args,
                                      size_t startup_lines, Trigger trigger) {
  HostOptions o;
  o.prefix = {"systemd-socket-activate"};
  o.prefix.insert(o.prefix.end(), activate_args.begin(), activate_args.end());
  o.args = std::move(host_args);
  o.startup_lines = startup_lines;
  std::unique_ptr<HostProcess> h;
  std::thread starter([&] { h = std::make_unique<HostProcess>(o); });
  trigger();
  starter.join();
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------
// --listen unix:PATH

TEST(UnixSocket, ServesHttpWithTheDefaultMode) {
  OpsTempDir dir;
  const std::string path = dir.file("pounce.sock");
  HostProcess h({"--plugin", plugin_path("hello"), "--listen", "unix:" + path,
                 "--workers", "2"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(h.listener_urls()[0], "unix:" + path);
  EXPECT_NE(h.stderr_text().find("pounce-host: listening on unix:" + path +
                                 " (workers=2)"),
            std::string::npos);
  EXPECT_EQ(file_mode(path), 0660u);
  for (int i = 0; i < 4; ++i) {
    CurlResult r = curl_unix(path, "/hello");
    EXPECT_EQ(r.status, 200) << r.stderr_text;
    EXPECT_EQ(r.body, "Hello, World!");
  }
  // The access log names the client the way nginx does for a Unix socket.
  ASSERT_TRUE(h.wait_for_stdout("\"GET /hello HTTP/1.1\" 200 13"));
  EXPECT_EQ(h.stdout_text().rfind("unix: - - [", 0), 0u) << h.stdout_text();
}

TEST(UnixSocket, UdsModeSetsTheMode) {
  OpsTempDir dir;
  const std::string path = dir.file("p.sock");
  HostProcess h({"--plugin", plugin_path("hello"), "--listen", "unix:" + path,
                 "--uds-mode", "0600"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(file_mode(path), 0600u);
  EXPECT_EQ(curl_unix(path, "/hello").status, 200);
}

TEST(UnixSocket, ServesAsyncStreamsAcrossTheHandOff) {
  // An async request moves the connection to the async loop (dup + open
  // there): the same over a Unix socket.
  OpsTempDir dir;
  const std::string path = dir.file("p.sock");
  HostProcess h({"--plugin", plugin_path("hello"), "--plugin",
                 "/sse=" + plugin_path("sse"), "--listen", "unix:" + path,
                 "--listen", "http://127.0.0.1:0"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_EQ(h.ports().size(), 2u);
  EXPECT_NE(h.ports()[1], 0);
  CurlResult r = curl_unix(path, "/sse/events?count=3&interval_ms=1");
  EXPECT_EQ(r.status, 200) << r.stderr_text;
  EXPECT_EQ(count_of(r.body, "data: {\"seq\":"), 3u) << r.body;
  EXPECT_EQ(get_response(h.ports()[1], "/hello")->body, "Hello, World!");
}

TEST(UnixSocket, ReplacesAStaleSocketFile) {
  OpsTempDir dir;
  const std::string path = dir.file("p.sock");
  // A socket file whose process is gone: bound, never listening, closed.
  int stale = bind_unix(path, false);
  ASSERT_GE(stale, 0);
  close(stale);
  ASSERT_TRUE(is_socket(path));
  ASSERT_FALSE(can_connect(path));
  HostProcess h({"--plugin", plugin_path("hello"), "--listen", "unix:" + path});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(curl_unix(path, "/hello").status, 200);
}

TEST(UnixSocket, NeverTakesASocketAnotherProcessListensOn) {
  OpsTempDir dir;
  const std::string path = dir.file("p.sock");
  int live = bind_unix(path, true);
  ASSERT_GE(live, 0);
  struct stat before;
  ASSERT_EQ(lstat(path.c_str(), &before), 0);
  CommandResult r =
      run_command({host_binary(), "--plugin", plugin_path("hello"), "--listen",
                   "unix:" + path});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("another process listens on it"), std::string::npos)
      << r.err;
  struct stat after;
  ASSERT_EQ(lstat(path.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino) << "the live socket file was replaced";
  EXPECT_TRUE(can_connect(path));
  close(live);
}

TEST(UnixSocket, NeverReplacesAFileThatIsNotASocket) {
  OpsTempDir dir;
  const std::string path = dir.file("data.txt");
  std::ofstream(path) << "precious";
  CommandResult r =
      run_command({host_binary(), "--plugin", plugin_path("hello"), "--listen",
                   "unix:" + path, "--no-supervise"});
  EXPECT_EQ(r.status, 1) << r.err;
  EXPECT_NE(r.err.find("exists and is not a socket"), std::string::npos)
      << r.err;
  std::ifstream in(path);
  std::string text;
  in >> text;
  EXPECT_EQ(text, "precious");
}

TEST(UnixSocket, RemovesItsSocketFileAtExit) {
  for (const char* supervise : {"--supervise", "--no-supervise"}) {
    OpsTempDir dir;
    const std::string path = dir.file("p.sock");
    HostProcess h({"--plugin", plugin_path("hello"), "--listen", "unix:" + path,
                   supervise});
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    ASSERT_TRUE(is_socket(path));
    h.signal(SIGTERM);
    EXPECT_EQ(h.wait_exit(), 0) << h.stderr_text();
    EXPECT_FALSE(is_socket(path)) << supervise;
  }
}

TEST(UnixSocket, RejectsBadPaths) {
  for (const std::string& url :
       {std::string("unix:relative.sock"), std::string("unix:"),
        "unix:/" + std::string(120, 'x'), std::string("unix:/tmp/x?bogus=1")}) {
    CommandResult r = run_command(
        {host_binary(), "--plugin", plugin_path("hello"), "--listen", url});
    EXPECT_EQ(r.status, 2) << url << "\n" << r.err;
    EXPECT_NE(r.err.find("--listen"), std::string::npos) << r.err;
  }
}

// ---------------------------------------------------------------------------
// Socket activation

TEST(SocketActivation, InheritedSocketReplacesTheDefaultListener) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  OpsTempDir dir;
  const std::string path = dir.file("activated.sock");
  // No --listen: the inherited socket is the only listener (the --port 0
  // HostProcess adds is not bound).
  auto h = activate({"-l", path}, {"--plugin", plugin_path("hello")}, 1, [&] {
    connect_when_listening([&] { return can_connect(path); });
  });
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  CurlResult first = curl_unix(path, "/hello");
  EXPECT_EQ(first.status, 200) << first.stderr_text;
  EXPECT_EQ(first.body, "Hello, World!");
  EXPECT_EQ(h->listener_urls()[0], "unix:" + path);
  EXPECT_EQ(count_of(h->stderr_text(), "pounce-host: listening on"), 1u)
      << h->stderr_text();
  EXPECT_NE(h->stderr_text().find("socket activation: 1 inherited socket"),
            std::string::npos);
  h->signal(SIGTERM);
  EXPECT_EQ(h->wait_exit(), 0) << h->stderr_text();
  // Not ours to remove: the service manager made it.
  EXPECT_TRUE(is_socket(path));
}

TEST(SocketActivation, InheritedTcpSocket) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  const uint16_t port = free_port();
  auto h = activate(
      {"-l", "127.0.0.1:" + std::to_string(port)},
      {"--plugin", plugin_path("hello"), "--workers", "2"}, 1,
      [&] { connect_when_listening([&] { return can_connect_tcp(port); }); });
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  auto first = get_response(port, "/hello");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->body, "Hello, World!");
  EXPECT_EQ(h->listener_urls()[0], "http://127.0.0.1:" + std::to_string(port));
  // Both workers share the one inherited socket.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(get_response(port, "/hello")->status, 200);
  }
}

TEST(SocketActivation, MatchesListenEntriesByFdName) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  OpsTempDir dir;
  const std::string a = dir.file("a.sock");
  const std::string b = dir.file("b.sock");
  // The admin socket comes first, the web one second: the names decide.
  auto h = activate(
      {"-l", a, "-l", b, "--fdname=admin:web"},
      {"--plugin", plugin_path("hello"), "--listen",
       "unix:/nonexistent/web.sock?fd-name=web", "--admin-listen",
       "unix:/nonexistent/admin.sock?fd-name=admin"},
      1, [&] { connect_when_listening([&] { return can_connect(b); }); });
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  CurlResult first = curl_unix(b, "/hello");
  EXPECT_EQ(first.body, "Hello, World!");
  EXPECT_EQ(h->listener_urls()[0], "unix:" + b);
  ASSERT_TRUE(h->wait_for_stderr("pounce-host: admin on unix:" + a))
      << h->stderr_text();
  CurlResult ready = curl_unix(a, "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(curl_unix(b, "/readyz").status, 404);  // hello's
}

TEST(SocketActivation, MatchesListenEntriesByOrder) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  OpsTempDir dir;
  const std::string a = dir.file("a.sock");
  const std::string b = dir.file("b.sock");
  auto h = activate(
      {"-l", a, "-l", b},
      {"--plugin", plugin_path("hello"), "--listen", "unix:/nonexistent/1.sock",
       "--listen", "unix:/nonexistent/2.sock"},
      2, [&] { connect_when_listening([&] { return can_connect(a); }); });
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  CurlResult first = curl_unix(a, "/hello");
  EXPECT_EQ(first.status, 200);
  ASSERT_EQ(h->listener_urls().size(), 2u);
  EXPECT_EQ(h->listener_urls()[0], "unix:" + a);
  EXPECT_EQ(h->listener_urls()[1], "unix:" + b);
  EXPECT_EQ(curl_unix(b, "/hello").status, 200);
}

TEST(SocketActivation, ASocketOfTheWrongKindIsAnError) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  OpsTempDir dir;
  const std::string a = dir.file("a.sock");
  HostOptions o;
  o.prefix = {"systemd-socket-activate", "-l", a};
  o.args = {"--plugin", plugin_path("hello"), "--listen", "http://127.0.0.1:0"};
  o.startup_timeout = 20s;
  std::unique_ptr<HostProcess> h;
  std::thread starter([&] { h = std::make_unique<HostProcess>(o); });
  // Any connection launches it; it then refuses to start.
  connect_when_listening([&] { return can_connect(a); });
  starter.join();
  EXPECT_FALSE(h->ok());
  EXPECT_EQ(h->wait_exit(), 1) << h->stderr_text();
  EXPECT_NE(h->stderr_text().find("was given a Unix socket"), std::string::npos)
      << h->stderr_text();
}

TEST(SocketActivation, ARestartedWorkerProcessServesTheInheritedSocket) {
  if (!have_socket_activate()) GTEST_SKIP() << "no systemd-socket-activate";
  OpsTempDir dir;
  const std::string path = dir.file("p.sock");
  HostOptions o;
  o.prefix = {"systemd-socket-activate", "-l", path};
  o.args = {"--plugin", test_plugin_path("crasher"), "--no-access-log"};
  o.crash_expected = true;
  std::unique_ptr<HostProcess> h;
  std::thread starter([&] { h = std::make_unique<HostProcess>(o); });
  connect_when_listening([&] { return can_connect(path); });
  starter.join();
  ASSERT_TRUE(h->ok()) << h->stderr_text();
  CurlResult first = curl_unix(path, "/ok");
  EXPECT_EQ(first.body, "ok");
  curl_unix(path, "/abort");
  ASSERT_TRUE(h->wait_for_stderr("is serving", 20s)) << h->stderr_text();
  CurlResult again = curl_unix(path, "/ok");
  EXPECT_EQ(again.status, 200) << again.stderr_text;
  EXPECT_EQ(again.body, "ok");
}
