// The PROXY protocol on listeners (issue 14 §4): `?proxy-protocol=1` on a
// --listen entry (or --proxy-protocol for the default listener). v1 and v2
// (IPv4 and IPv6) give the client's address to request_addr and the access
// log; a connection without the header, or with a malformed one, is closed
// with one log line naming the peer and the reason; the header may come in
// pieces, must come within --header-timeout, and is read before TLS and
// before the HTTP/2 preface.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "host_process.h"
#include "raw_client.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

std::vector<std::string> args(std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--listen",
                                "http://127.0.0.1:0?proxy-protocol=1",
                                "--plugin",
                                test_plugin_path("inspect"),
                                "--workers",
                                "1",
                                "--access-log-format",
                                "json"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

const std::string kGet = "GET /x HTTP/1.1\r\nHost: t\r\n\r\n";

std::map<std::string, std::string> lines(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at < body.size()) {
    size_t nl = body.find('\n', at);
    if (nl == std::string::npos) nl = body.size();
    const std::string line = body.substr(at, nl - at);
    const size_t eq = line.find('=');
    if (eq != std::string::npos) out[line.substr(0, eq)] = line.substr(eq + 1);
    at = nl + 1;
  }
  return out;
}

std::string be16(uint16_t v) {
  return std::string{static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

const std::string kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);

// A v2 header: `command` 0x20 LOCAL / 0x21 PROXY, `family` 0x11 TCP4 /
// 0x21 TCP6, then the address block and the TLVs.
std::string v2(uint8_t command, uint8_t family, const std::string& addresses,
               const std::string& tlvs = "") {
  const std::string body = addresses + tlvs;
  return kV2Signature + static_cast<char>(command) + static_cast<char>(family) +
         be16(static_cast<uint16_t>(body.size())) + body;
}

std::string tlv(uint8_t type, const std::string& value) {
  return static_cast<char>(type) + be16(static_cast<uint16_t>(value.size())) +
         value;
}

std::string ipv4_block(const std::string& src, const std::string& dst,
                       uint16_t sport, uint16_t dport) {
  in_addr s{}, d{};
  inet_pton(AF_INET, src.c_str(), &s);
  inet_pton(AF_INET, dst.c_str(), &d);
  return std::string(reinterpret_cast<const char*>(&s), 4) +
         std::string(reinterpret_cast<const char*>(&d), 4) + be16(sport) +
         be16(dport);
}

std::string ipv6_block(const std::string& src, const std::string& dst,
                       uint16_t sport, uint16_t dport) {
  in6_addr s{}, d{};
  inet_pton(AF_INET6, src.c_str(), &s);
  inet_pton(AF_INET6, dst.c_str(), &d);
  return std::string(reinterpret_cast<const char*>(&s), 16) +
         std::string(reinterpret_cast<const char*>(&d), 16) + be16(sport) +
         be16(dport);
}

// Sends `header` then a GET on one connection; the plugin's report.
std::map<std::string, std::string> ask(uint16_t port,
                                       const std::string& header) {
  RawClient c(port);
  EXPECT_TRUE(c.send(header + kGet));
  auto r = c.read_response();
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 200);
  return lines(r->body);
}

// The connection is closed without an answer, and the host says why, once,
// naming the peer.
size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

void expect_refused(HostProcess& h, const std::string& bytes,
                    const std::string& reason) {
  const std::string marker = "PROXY protocol: closing the connection from ";
  const size_t before = count_of(h.stderr_text(), marker);
  RawClient c(h.port());
  ASSERT_TRUE(c.send(bytes));
  std::string extra;
  EXPECT_TRUE(c.wait_closed(10s, &extra)) << reason;
  EXPECT_EQ(extra, "") << reason;
  // Exactly one new line, naming the peer and the reason.
  ASSERT_TRUE(h.wait_for_stderr(marker, 10s, before + 1)) << h.stderr_text();
  const std::string err = h.stderr_text();
  EXPECT_EQ(count_of(err, marker), before + 1) << err;
  const size_t at = err.rfind(marker);
  const std::string line = err.substr(at, err.find('\n', at) - at);
  EXPECT_EQ(line.find(marker + "127.0.0.1:"), 0u) << line;
  EXPECT_NE(line.find(": " + reason), std::string::npos) << line;
}

TEST(ProxyProtocol, V1Ipv4GivesTheClientToPluginsAndTheAccessLog) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto l = ask(h.port(), "PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n");
  EXPECT_EQ(l["remote"], "198.51.100.7");
  ASSERT_TRUE(h.wait_for_stdout("\"client\":\"198.51.100.7\""))
      << h.stdout_text();
}

TEST(ProxyProtocol, V1Ipv6) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto l = ask(h.port(), "PROXY TCP6 2001:db8::7 2001:db8::1 5555 443\r\n");
  EXPECT_EQ(l["remote"], "2001:db8::7");
  ASSERT_TRUE(h.wait_for_stdout("\"client\":\"2001:db8::7\""))
      << h.stdout_text();
}

TEST(ProxyProtocol, V2Ipv4WithTlvsAndKeepAlive) {
  HostProcess h(args({"--log-level", "debug"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  const std::string header =
      v2(0x21, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 40000, 8080),
         tlv(0x01, "h2") + tlv(0x02, "example.com") + tlv(0x04, "ignored"));
  ASSERT_TRUE(c.send(header + kGet));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(lines(r->body)["remote"], "203.0.113.5");
  // The header came once; the connection's later requests keep its client.
  ASSERT_TRUE(c.send(kGet));
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(lines(r->body)["remote"], "203.0.113.5");
  ASSERT_TRUE(h.wait_for_stdout("\"client\":\"203.0.113.5\"", 10s, 2))
      << h.stdout_text();
  // The TLVs it uses are in the connection's debug line.
  EXPECT_TRUE(h.wait_for_stderr(
      "client 203.0.113.5:40000, ALPN h2, authority example.com"))
      << h.stderr_text();
}

TEST(ProxyProtocol, V2Ipv6) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto l = ask(h.port(),
               v2(0x21, 0x21, ipv6_block("2001:db8::42", "2001:db8::1", 1, 2)));
  EXPECT_EQ(l["remote"], "2001:db8::42");
  ASSERT_TRUE(h.wait_for_stdout("\"client\":\"2001:db8::42\""))
      << h.stdout_text();
}

TEST(ProxyProtocol, V2LocalAndV1UnknownKeepTheSocketsAddress) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // LOCAL (a balancer's health check) with an address block that is
  // ignored.
  auto l = ask(h.port(),
               v2(0x20, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 1, 2)));
  EXPECT_EQ(l["remote"], "127.0.0.1");
  l = ask(h.port(), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(l["remote"], "127.0.0.1");
}

TEST(ProxyProtocol, TheDefaultListenerTakesItWithTheFlag) {
  HostProcess h({"--plugin", test_plugin_path("inspect"), "--workers", "1",
                 "--proxy-protocol"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto l = ask(h.port(), "PROXY TCP4 198.51.100.8 10.0.0.1 5555 80\r\n");
  EXPECT_EQ(l["remote"], "198.51.100.8");
  expect_refused(h, kGet, "no PROXY protocol header");
}

TEST(ProxyProtocol, AListenerWithoutItIsUnchanged) {
  HostProcess h({"--listen", "http://127.0.0.1:0", "--plugin",
                 test_plugin_path("inspect"), "--workers", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  ASSERT_TRUE(c.send("PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n" + kGet));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);  // no request line: the header is not read
}

TEST(ProxyProtocol, MissingHeaderIsClosedWithALogLine) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  expect_refused(h, kGet, "no PROXY protocol header");
}

TEST(ProxyProtocol, MalformedV1IsClosedWithALogLine) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  expect_refused(h, "PROXY TCP4 198.51.100 10.0.0.1 5555 80\r\n" + kGet,
                 "malformed PROXY v1 line");
  expect_refused(h, "PROXY TCP4 198.51.100.7 10.0.0.1 5555 99999\r\n",
                 "malformed PROXY v1 line");
  expect_refused(h, "PROXY TCP4 " + std::string(200, '1') + "\r\n",
                 "PROXY v1 line longer than 107 bytes");
  expect_refused(h, "PROXY TCP5 198.51.100.7 10.0.0.1 5555 80\r\n",
                 "unknown PROXY v1 protocol family");
  // Still serving.
  EXPECT_EQ(ask(h.port(), "PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n")
                .count("remote"),
            1u);
}

TEST(ProxyProtocol, MalformedV2IsClosedWithALogLine) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  std::string bad_signature =
      v2(0x21, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 1, 2));
  bad_signature[8] = 'X';  // "QUIX"
  expect_refused(h, bad_signature, "no PROXY protocol header");
  // A length too short for TCP4's 12 address bytes.
  expect_refused(h, v2(0x21, 0x11, std::string(4, '\1')),
                 "PROXY v2 length too short for its addresses");
  // TLVs past the 4 KiB bound.
  expect_refused(h,
                 v2(0x21, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 1, 2),
                    tlv(0xe0, std::string(5000, 'x'))),
                 "PROXY v2 header over the length limit");
  // A TLV whose length runs past the header's.
  std::string overrun =
      v2(0x21, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 1, 2),
         tlv(0x02, "example.com"));
  overrun[overrun.size() - 12] = 0x7f;  // the TLV's length: 0x7f0b
  expect_refused(h, overrun, "malformed PROXY v2 TLV");
  expect_refused(h,
                 kV2Signature + '\x31' + '\x11' + be16(12) +
                     ipv4_block("203.0.113.5", "10.0.0.2", 1, 2),
                 "bad PROXY v2 version or command");
}

// One byte per write, with TCP_NODELAY and a pause between, so that the
// header (and the request) arrive in many reads.
void send_bytewise(RawClient& c, const std::string& bytes) {
  int one = 1;
  setsockopt(c.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  for (char b : bytes) {
    ASSERT_TRUE(c.send(std::string(1, b)));
    std::this_thread::sleep_for(1ms);
  }
}

TEST(ProxyProtocol, SplitAcrossReads) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  {
    RawClient c(h.port());
    send_bytewise(
        c, v2(0x21, 0x11, ipv4_block("203.0.113.77", "10.0.0.2", 40000, 80),
              tlv(0x02, "example.com")) +
               kGet);
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(lines(r->body)["remote"], "203.0.113.77");
  }
  {
    RawClient c(h.port());
    send_bytewise(c, "PROXY TCP4 198.51.100.77 10.0.0.1 5555 80\r\n" + kGet);
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(lines(r->body)["remote"], "198.51.100.77");
  }
}

TEST(ProxyProtocol, TheHeaderMustArriveWithinTheHeaderTimeout) {
  HostProcess h(args({"--header-timeout", "1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  ASSERT_TRUE(c.send("PROXY TCP4 198.51"));
  std::string extra;
  EXPECT_TRUE(c.wait_closed(10s, &extra));
  EXPECT_EQ(extra, "");
  EXPECT_TRUE(
      h.wait_for_stderr("no complete header within --header-timeout", 10s))
      << h.stderr_text();
}

// python3 clients for what RawClient does not speak: TLS after the header,
// and HTTP/2 with prior knowledge after it.
const char* kTlsClient = R"(
import socket, ssl, sys
port, header = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(header)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s, server_hostname="localhost")
t.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = t.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("latin-1"))
)";

const char* kH2cClient = R"(
import socket, sys
import h2.config, h2.connection, h2.events
port, header = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(header)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
conn.send_headers(1, [(":method", "GET"), (":scheme", "http"),
                      (":authority", "t"), (":path", "/x")], end_stream=True)
s.sendall(conn.data_to_send())
body, done = b"", False
while not done:
    data = s.recv(65536)
    if not data:
        break
    for e in conn.receive_data(data):
        if isinstance(e, h2.events.DataReceived):
            body += e.data
            conn.acknowledge_received_data(len(e.data), e.stream_id)
        elif isinstance(e, h2.events.StreamEnded):
            done = True
    s.sendall(conn.data_to_send())
sys.stdout.write(body.decode("latin-1"))
)";

std::string hex(const std::string& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

TEST(ProxyProtocol, IsReadBeforeTls) {
  char tmpl[] = "/tmp/pounce-pp-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  auto pki = TestPki::create(dir);
  CertRequest req;
  req.dns_names = {"localhost"};
  CertFiles cert = pki.issue(req);
  HostProcess h({"--listen", "https://127.0.0.1:0?proxy-protocol=1",
                 "--tls-cert", cert.cert_path, "--tls-key", cert.key_path,
                 "--plugin", test_plugin_path("inspect"), "--workers", "1",
                 "--access-log-format", "json"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  CommandResult r = run_command(
      {"/usr/bin/python3", "-c", kTlsClient, std::to_string(h.port()),
       hex(v2(0x21, 0x11, ipv4_block("203.0.113.9", "10.0.0.2", 1, 443),
              tlv(0x01, "http/1.1") + tlv(0x02, "localhost")))});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("remote=203.0.113.9"), std::string::npos) << r.out;
  EXPECT_TRUE(h.wait_for_stdout("\"client\":\"203.0.113.9\""))
      << h.stdout_text();
  // Without the header, the ClientHello is what the listener refuses.
  expect_refused(h, std::string("\x16\x03\x01\x00\x05hello", 10),
                 "no PROXY protocol header");
  std::filesystem::remove_all(dir);
}

TEST(ProxyProtocol, IsReadBeforeTheHttp2Preface) {
  HostProcess h(args());
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  CommandResult r = run_command(
      {"/usr/bin/python3", "-c", kH2cClient, std::to_string(h.port()),
       hex("PROXY TCP4 198.51.100.20 10.0.0.1 5555 80\r\n")});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("remote=198.51.100.20"), std::string::npos) << r.out;
  EXPECT_TRUE(h.wait_for_stdout("\"client\":\"198.51.100.20\""))
      << h.stdout_text();
}

// The ALPN and authority TLVs are the access log's
// $proxy_protocol_tlv_alpn and $proxy_protocol_tlv_authority (nginx's
// names), over HTTP/1.1 and HTTP/2, for the connection's every request;
// absent ones print "-".
TEST(ProxyProtocol, TlvsReachTheAccessLog) {
  HostProcess h({"--listen", "http://127.0.0.1:0?proxy-protocol=1", "--plugin",
                 test_plugin_path("inspect"), "--workers", "1",
                 "--access-log-format",
                 "$remote_addr alpn=$proxy_protocol_tlv_alpn "
                 "authority=$proxy_protocol_tlv_authority $server_protocol"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  {
    RawClient c(h.port());
    ASSERT_TRUE(
        c.send(v2(0x21, 0x11, ipv4_block("203.0.113.5", "10.0.0.2", 40000, 443),
                  tlv(0x01, "h2") + tlv(0x02, "shop.example")) +
               kGet + kGet));
    ASSERT_TRUE(c.read_response());
    ASSERT_TRUE(c.read_response());
  }
  EXPECT_TRUE(h.wait_for_stdout(
      "203.0.113.5 alpn=h2 authority=shop.example HTTP/1.1", 10s, 2))
      << h.stdout_text();
  // Only the authority, and none.
  ask(h.port(), v2(0x21, 0x11, ipv4_block("203.0.113.6", "10.0.0.2", 1, 2),
                   tlv(0x02, "api.example")));
  EXPECT_TRUE(
      h.wait_for_stdout("203.0.113.6 alpn=- authority=api.example HTTP/1.1"))
      << h.stdout_text();
  ask(h.port(), "PROXY TCP4 198.51.100.7 10.0.0.1 5555 80\r\n");
  EXPECT_TRUE(h.wait_for_stdout("198.51.100.7 alpn=- authority=- HTTP/1.1"))
      << h.stdout_text();
  CommandResult r = run_command(
      {"/usr/bin/python3", "-c", kH2cClient, std::to_string(h.port()),
       hex(v2(0x21, 0x11, ipv4_block("203.0.113.7", "10.0.0.2", 1, 443),
              tlv(0x01, "h2") + tlv(0x02, "h2.example")))});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(
      h.wait_for_stdout("203.0.113.7 alpn=h2 authority=h2.example HTTP/2"))
      << h.stdout_text();
}

// An async request moves the connection to an async loop, a blocking one
// runs on the pool: the client and the TLVs go along.
TEST(ProxyProtocol, AsyncAndBlockingRequestsKeepTheClient) {
  HostProcess h({"--listen", "http://127.0.0.1:0?proxy-protocol=1", "--plugin",
                 test_plugin_path("h2_probe"), "--workers", "1",
                 "--access-log-format",
                 "$remote_addr authority=$proxy_protocol_tlv_authority "
                 "$request_uri"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  ASSERT_TRUE(
      c.send(v2(0x21, 0x11, ipv4_block("203.0.113.50", "10.0.0.2", 1, 443),
                tlv(0x02, "moved.example"))));
  for (const std::string path :
       {"/async/view", "/blocking/view", "/async/view", "/view"}) {
    ASSERT_TRUE(c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_TRUE(h.wait_for_stdout("203.0.113.50 authority=moved.example " +
                                  path + "\n"))
        << h.stdout_text();
  }
}

// Over a Unix socket listener (a balancer on the same machine): sends
// `bytes`, returns all that comes back until the server closes.
std::string unix_exchange(const std::string& path, const std::string& bytes) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(bytes.size())) {
    timeval tv{10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

TEST(ProxyProtocol, OnAUnixSocketListener) {
  char tmpl[] = "/tmp/pounce-pp-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string path = dir + "/pp.sock";
  HostProcess h({"--listen", "unix:" + path + "?proxy-protocol=1", "--plugin",
                 test_plugin_path("inspect"), "--workers", "1",
                 "--access-log-format", "json"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string close_get =
      "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  std::string out = unix_exchange(
      path, "PROXY TCP4 198.51.100.90 10.0.0.1 5555 80\r\n" + close_get);
  EXPECT_NE(out.find("remote=198.51.100.90\n"), std::string::npos) << out;
  EXPECT_TRUE(h.wait_for_stdout("\"client\":\"198.51.100.90\""))
      << h.stdout_text();
  out = unix_exchange(
      path, v2(0x21, 0x21, ipv6_block("2001:db8::90", "2001:db8::1", 1, 2)) +
                close_get);
  EXPECT_NE(out.find("remote=2001:db8::90\n"), std::string::npos) << out;
  // Without the header: closed unanswered, with the log line.
  EXPECT_EQ(unix_exchange(path, close_get), "");
  EXPECT_TRUE(h.wait_for_stderr("no PROXY protocol header")) << h.stderr_text();
  std::filesystem::remove_all(dir);
}

TEST(ProxyProtocol, ListenOptionsAreChecked) {
  CommandResult bad =
      run_command({host_binary(), "check", "--plugin", plugin_path("hello"),
                   "--listen", "http://127.0.0.1:0?proxy-protocol=yes"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("proxy-protocol must be 1 or 0"), std::string::npos)
      << bad.err;
  CommandResult both =
      run_command({host_binary(), "check", "--plugin", plugin_path("hello"),
                   "--listen", "http://127.0.0.1:0", "--proxy-protocol"});
  EXPECT_NE(both.status, 0);
  EXPECT_NE(both.err.find("add ?proxy-protocol=1"), std::string::npos)
      << both.err;
  CommandResult admin =
      run_command({host_binary(), "check", "--plugin", plugin_path("hello"),
                   "--admin-listen", "http://127.0.0.1:0?proxy-protocol=1"});
  EXPECT_NE(admin.status, 0);
  EXPECT_NE(admin.err.find("takes no PROXY protocol header"), std::string::npos)
      << admin.err;
  CommandResult show = run_command(
      {host_binary(), "config", "show", "--plugin", plugin_path("hello"),
       "--listen", "unix:/tmp/pp.sock?fd-name=web&proxy-protocol=1"});
  EXPECT_EQ(show.status, 0) << show.err;
  EXPECT_NE(show.out.find("unix:/tmp/pp.sock?fd-name=web&proxy-protocol=1"),
            std::string::npos)
      << show.out;
}

}  // namespace
