// Memory per connection stays bounded whatever the client does (issue 9,
// defects 4 and 7): a client that floods input while it reads nothing, and
// heads that declare bodies that never come. Each test measures the host
// process itself (/proc/PID/status), not "it came back down afterwards".
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "sanitizers.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

// TSan's shadow and meta memory grow with every byte the host touches, about
// four times what the host itself holds: its bounds scale with it. The
// defects measured here were tens to hundreds of MiB over these bounds.
constexpr long kShadowFactor = kTsan ? 4 : 1;

constexpr long kMiB = 1024;  // in the KiB of /proc/PID/status

// A field of /proc/PID/status ("VmRSS", "VmHWM", "VmData"...) in KiB.
long status_kb(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream s(line.substr(field.size() + 1));
      long kb = -1;
      s >> kb;
      return kb;
    }
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux clear_refs "5"), so that the peak
// measured afterwards is the flood's, not startup's.
bool reset_peak(pid_t pid) {
  std::ofstream out("/proc/" + std::to_string(pid) + "/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// Under ASan, freed blocks wait in a quarantine (256 MiB by default) before
// reuse, which would count every buffer the host ever freed as resident.
// A small quarantine keeps the measurement about what the host holds.
HostOptions measured(std::vector<std::string> args) {
  HostOptions o;
  o.args = std::move(args);
  if (kAsan) {
    const char* prev = getenv("ASAN_OPTIONS");
    std::string opts = prev ? std::string(prev) + ":" : std::string();
    o.prefix = {"env", "ASAN_OPTIONS=" + opts +
                           "quarantine_size_mb=1:thread_local_quarantine_"
                           "size_kb=64"};
  }
  return o;
}

// A client socket with a small receive buffer (set before the connect, so
// that the window stays small): the host's output backs up quickly.
int connect_small_window(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int rcvbuf = 16 * 1024;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool send_all(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Sends `block` over and over, reading nothing, until `limit` bytes went
// out or the host closed the connection (a send fails). Blocking sends: a
// host that stops reading stalls us until it closes. Returns bytes sent.
size_t flood(int fd, const std::string& block, size_t limit) {
  size_t sent = 0;
  while (sent < limit) {
    ssize_t n = send(fd, block.data(), block.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  return sent;
}

// True once the connection reads EOF or a reset (the unread input we
// discard on the way).
bool wait_closed(int fd, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR && errno != EAGAIN) return true;
  }
  return false;
}

// How much a flood may raise the host's peak RSS above its RSS before the
// flood: a few MiB for the one connection (its output queue stays near
// --stream-high-water, its input near a read buffer), plus slack for the
// allocator. Before the fix the same floods took hundreds of MiB.
constexpr long kFloodBoundKb = 4 * kMiB * kShadowFactor;
// The flood: enough that an unbounded host visibly grows by far more than
// the bound, little enough to be quick when the host stops reading.
constexpr size_t kFloodBytes = 64u << 20;

std::string masked_frame(uint8_t opcode, const std::string& payload) {
  return WsClient::encode_frame(opcode, payload);
}

}  // namespace

// A client that floods pings and never reads the pongs: the host stops
// reading once the pongs back up, and the write timeout closes the peer.
TEST(MemoryBounds, WebSocketPingFloodWithoutReadingIsBounded) {
  HostProcess host(measured({"--plugin", plugin_path("echo"), "--workers", "1",
                             "--async-threads", "1", "--write-timeout", "2"}));
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  int fd = connect_small_window(host.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n"));
  // The 101, read whole before the flood (it ends with the empty line).
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos &&
         recv(fd, &c, 1, 0) == 1) {
    head += c;
  }
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;

  // Pings with the largest control payload: a pong as large for each.
  std::string block;
  const std::string ping = masked_frame(0x9, std::string(125, 'p'));
  while (block.size() < (1u << 20)) block += ping;

  const long base = status_kb(host.serving_pid(), "VmRSS");
  ASSERT_GT(base, 0);
  ASSERT_TRUE(reset_peak(host.serving_pid()));
  size_t sent = flood(fd, block, kFloodBytes);
  ASSERT_TRUE(host.wait_for_stderr("stopped reading; closing", 30s))
      << "sent " << sent << " bytes\n"
      << host.stderr_text();
  EXPECT_TRUE(wait_closed(fd, 10s));
  const long peak = status_kb(host.serving_pid(), "VmHWM");
  close(fd);
  EXPECT_LT(peak - base, kFloodBoundKb)
      << "RSS " << base << " KiB before, peak " << peak << " KiB, after "
      << sent << " bytes of pings";
  RecordProperty("ws_ping_flood_peak_growth_kb", std::to_string(peak - base));
  printf(
      "ws ping flood: RSS %ld KiB before, peak %ld KiB (+%ld), %zu bytes "
      "sent\n",
      base, peak, peak - base, sent);
  // The host serves on.
  WsClient w(host.port());
  auto r = w.handshake("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 101);
}

// The host's pongs count against --stream-max-buffer like the plugin's own
// sends: past it the socket is dropped at once (1008, a log line), not at
// the write timeout, and not after buffering every pong.
TEST(MemoryBounds, PongsCountAgainstTheStreamMaxBuffer) {
  HostProcess host(measured({"--plugin", plugin_path("echo"), "--workers", "1",
                             "--async-threads", "1", "--write-timeout", "120",
                             "--stream-high-water", "65536",
                             "--stream-max-buffer", "65536"}));
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  int fd = connect_small_window(host.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n"));
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos &&
         recv(fd, &c, 1, 0) == 1) {
    head += c;
  }
  ASSERT_EQ(head.rfind("HTTP/1.1 101", 0), 0u) << head;
  std::string block;
  const std::string ping = masked_frame(0x9, std::string(125, 'p'));
  while (block.size() < (1u << 20)) block += ping;
  size_t sent = flood(fd, block, kFloodBytes);
  ASSERT_TRUE(host.wait_for_stderr("WebSocket over --stream-max-buffer", 30s))
      << "sent " << sent << " bytes\n"
      << host.stderr_text();
  EXPECT_NE(host.stderr_text().find("last by pongs"), std::string::npos)
      << host.stderr_text();
  EXPECT_TRUE(wait_closed(fd, 10s));
  close(fd);
  // Dropped for its output, not at the (long) write timeout.
  EXPECT_EQ(host.stderr_text().find("stopped reading; closing"),
            std::string::npos)
      << host.stderr_text();
}

// A client that pipes junk behind a streamed response it does not read:
// the input waits (past a head's worth the host stops reading) and the
// write timeout closes the peer.
TEST(MemoryBounds, JunkBehindAnUnreadStreamIsBounded) {
  HostProcess host(
      measured({"--plugin", "/sse=" + plugin_path("sse"), "--workers", "1",
                "--async-threads", "1", "--write-timeout", "2"}));
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  int fd = connect_small_window(host.port());
  ASSERT_GE(fd, 0);
  const long base = status_kb(host.serving_pid(), "VmRSS");
  ASSERT_GT(base, 0);
  ASSERT_TRUE(reset_peak(host.serving_pid()));
  // An endless stream written as fast as backpressure allows: from its
  // first moment a write is in flight, while the junk arrives.
  ASSERT_TRUE(send_all(fd,
                       "GET /sse/stream?chunks=0&size=65536&interval_ms=0 "
                       "HTTP/1.1\r\nHost: x\r\n\r\n"));
  size_t sent = flood(fd, std::string(1u << 20, 'j'), kFloodBytes);
  ASSERT_TRUE(host.wait_for_stderr("stopped reading; closing", 30s))
      << "sent " << sent << " bytes\n"
      << host.stderr_text();
  EXPECT_TRUE(wait_closed(fd, 10s));
  const long peak = status_kb(host.serving_pid(), "VmHWM");
  close(fd);
  EXPECT_LT(peak - base, kFloodBoundKb)
      << "RSS " << base << " KiB before, peak " << peak << " KiB, after "
      << sent << " bytes of junk";
  printf(
      "stream junk flood: RSS %ld KiB before, peak %ld KiB (+%ld), %zu "
      "bytes sent\n",
      base, peak, peak - base, sent);
  auto r = one_request(host.port(),
                       "GET /sse/events?count=1&interval_ms=1 HTTP/1.1\r\n"
                       "Host: x\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Heads that declare a body and send none of it: the host holds what
// arrived, not what was promised (it used to reserve twice the declared
// length per connection).
TEST(MemoryBounds, DeclaredBodiesAreNotReservedBeforeTheyArrive) {
  constexpr int kConnections = 300;
  HostProcess host(measured({"--plugin", plugin_path("echo"), "--workers", "1",
                             "--max-body-size", "1048576"}));
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  // One request first, so that the loop's own buffers exist already.
  ASSERT_TRUE(one_request(host.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const long data_before = status_kb(host.serving_pid(), "VmData");
  const long rss_before = status_kb(host.serving_pid(), "VmRSS");
  ASSERT_GT(data_before, 0);

  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kConnections; ++i) {
    auto c = std::make_unique<RawClient>(host.port());
    ASSERT_TRUE(c->connected());
    ASSERT_TRUE(c->send(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n"));
    clients.push_back(std::move(c));
  }
  // Two requests, one after the other, on new connections: the second is
  // read in a loop iteration after every head above was (they were all
  // readable before it connected), so all of them are in phase Body now.
  for (int i = 0; i < 2; ++i) {
    auto r = one_request(host.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  const long data_after = status_kb(host.serving_pid(), "VmData");
  const long rss_after = status_kb(host.serving_pid(), "VmRSS");
  // A connection and its head: about 1 KiB each, so 8 KiB each is room for
  // the allocator. Reserving the declared length made it 2 MiB each.
  const long bound = kConnections * 8 * kShadowFactor;
  EXPECT_LT(data_after - data_before, bound)
      << "VmData " << data_before << " -> " << data_after << " KiB";
  EXPECT_LT(rss_after - rss_before, bound)
      << "VmRSS " << rss_before << " -> " << rss_after << " KiB";
  printf("%d head-only bodies: VmData +%ld KiB, VmRSS +%ld KiB\n", kConnections,
         data_after - data_before, rss_after - rss_before);
  // The bodies can still come: one of them completes and is echoed.
  ASSERT_TRUE(clients[0]->send(std::string(1048576, 'b')));
  auto r = clients[0]->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1048576u);
}

// Under an address-space limit a body that cannot be held is answered
// (503 OUT_OF_MEMORY) and the connection closed; the host lives on. It used
// to reserve twice the declared length up front, and the failed allocation
// threw through a libuv callback: std::terminate.
TEST(MemoryBounds, BodyThatDoesNotFitGets503NotAnAbort) {
  if (kAsan || kTsan) {
    GTEST_SKIP() << "an address-space limit cannot apply to an ASan or TSan "
                    "process (its shadow memory reserves terabytes of it)";
  }
  const std::vector<std::string> args = {"--plugin",        plugin_path("echo"),
                                         "--workers",       "1",
                                         "--max-body-size", "1073741824"};
  // The host's own address space, measured on an unlimited instance, plus
  // 192 MiB: room to serve, not room for a 1 GiB body.
  long vm_kb;
  {
    HostProcess probe(args);
    ASSERT_TRUE(probe.ok()) << probe.stderr_text();
    ASSERT_TRUE(one_request(probe.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    vm_kb = status_kb(probe.serving_pid(), "VmSize");
    ASSERT_GT(vm_kb, 0);
  }
  const long limit = (vm_kb + 192 * kMiB) * 1024;
  HostOptions o;
  o.args = args;
  o.prefix = {"prlimit", "--as=" + std::to_string(limit)};
  HostProcess host(o);
  ASSERT_TRUE(host.ok()) << host.stderr_text();

  int fd = connect_small_window(host.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(send_all(fd,
                       "POST / HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 1073741824\r\n\r\n"));
  // Send the body until the host answers; read as soon as it does.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  const std::string block(1u << 20, 'b');
  std::string response;
  size_t sent = 0;
  bool can_send = true;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < deadline &&
         response.find("\r\n\r\n") == std::string::npos) {
    pollfd p{fd, static_cast<short>(POLLIN | (can_send ? POLLOUT : 0)), 0};
    if (poll(&p, 1, 200) <= 0) continue;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      char buf[4096];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n > 0) {
        response.append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EAGAIN) {
        break;
      }
    }
    if (can_send && (p.revents & POLLOUT)) {
      ssize_t n = send(fd, block.data(), block.size(), MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        can_send = false;  // the host closed; its answer may still be here
      }
    }
  }
  close(fd);
  EXPECT_EQ(response.rfind("HTTP/1.1 503", 0), 0u)
      << "after " << sent << " body bytes: " << response << "\n"
      << host.stderr_text();
  EXPECT_NE(response.find("X-Pounce-Error: OUT_OF_MEMORY"), std::string::npos)
      << response;
  EXPECT_TRUE(host.wait_for_stderr("503 OUT_OF_MEMORY", 10s))
      << host.stderr_text();
  ASSERT_TRUE(host.running()) << host.stderr_text();
  auto r = one_request(host.port(),
                       "POST / HTTP/1.1\r\nHost: x\r\n"
                       "Content-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

// --max-body-size is bounded by what the sync path can hold in memory.
TEST(MemoryBounds, MaxBodySizeIsBoundedAtStartup) {
  CommandResult r =
      run_command({host_binary(), "--plugin", plugin_path("echo"), "--port",
                   "0", "--max-body-size", "1073741825"},
                  20s);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(
      r.err.find("--max-body-size (config key max_body_size): "
                 "1073741825 is out of range; it must be 0 to 1073741824"),
      std::string::npos)
      << r.err;
  HostProcess ok(
      {"--plugin", plugin_path("echo"), "--max-body-size", "1073741824"});
  EXPECT_TRUE(ok.ok()) << ok.stderr_text();
}
