// X-Forwarded-Proto and Forwarded's proto= from a trusted peer set the
// scheme of the request as plugins see it (the request view's `scheme`,
// pounce::Request::scheme()) and as the access log shows it ($scheme), for
// sync and blocking handlers, over HTTP/1.1 and HTTP/2 (issue 14 §4). From
// an untrusted peer they change nothing, and they hold for one request.
// A blocking handler over HTTP/2 sees the trusted client too.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

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

std::vector<std::string> args(const std::string& trusted) {
  std::vector<std::string> a = {"--plugin",
                                "/s=" + test_plugin_path("inspect"),
                                "--plugin",
                                "/b=" + test_plugin_path("inspect_blocking"),
                                "--workers",
                                "1",
                                "--access-log-format",
                                "$remote_addr $scheme $request_uri"};
  if (!trusted.empty()) {
    a.push_back("--forwarded-allow-ips");
    a.push_back(trusted);
  }
  return a;
}

std::map<std::string, std::string> ask(RawClient& c, const std::string& path,
                                       const std::string& headers) {
  EXPECT_TRUE(
      c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n"));
  auto r = c.read_response();
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 200);
  return lines(r->body);
}

TEST(ForwardedScheme, ATrustedProxySetsTheScheme) {
  HostProcess h(args("127.0.0.1"));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const std::string path : {"/s/1", "/b/1"}) {
    RawClient c(h.port());
    auto l = ask(c, path,
                 "X-Forwarded-For: 203.0.113.4\r\n"
                 "X-Forwarded-Proto: https\r\n");
    EXPECT_EQ(l["scheme"], "https") << path;
    EXPECT_EQ(l["remote"], "203.0.113.4") << path;
    // For that request only: the next one on the connection says nothing.
    l = ask(c, path, "");
    EXPECT_EQ(l["scheme"], "http") << path;
    EXPECT_EQ(l["remote"], "127.0.0.1") << path;
    // X-Forwarded-Proto alone (the address came another way, e.g. the
    // PROXY protocol).
    l = ask(c, path, "X-Forwarded-Proto: https\r\n");
    EXPECT_EQ(l["scheme"], "https") << path;
    EXPECT_EQ(l["remote"], "127.0.0.1") << path;
    // RFC 7239.
    l = ask(c, path, "Forwarded: for=198.51.100.3;proto=https\r\n");
    EXPECT_EQ(l["scheme"], "https") << path;
    EXPECT_EQ(l["remote"], "198.51.100.3") << path;
    // And back to http, which a proxy may say too.
    l = ask(c, path, "Forwarded: for=198.51.100.3;proto=http\r\n");
    EXPECT_EQ(l["scheme"], "http") << path;
  }
  ASSERT_TRUE(h.wait_for_stdout("203.0.113.4 https /s/1")) << h.stdout_text();
  ASSERT_TRUE(h.wait_for_stdout("203.0.113.4 https /b/1")) << h.stdout_text();
  EXPECT_NE(h.stdout_text().find("127.0.0.1 http /s/1"), std::string::npos)
      << h.stdout_text();
}

TEST(ForwardedScheme, AnUntrustedPeerChangesNothing) {
  HostProcess h(args(""));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const std::string path : {"/s/1", "/b/1"}) {
    RawClient c(h.port());
    auto l = ask(c, path,
                 "X-Forwarded-For: 203.0.113.4\r\n"
                 "X-Forwarded-Proto: https\r\n");
    EXPECT_EQ(l["scheme"], "http") << path;
    EXPECT_EQ(l["remote"], "127.0.0.1") << path;
    l = ask(c, path, "Forwarded: for=198.51.100.3;proto=https\r\n");
    EXPECT_EQ(l["scheme"], "http") << path;
  }
}

TEST(ForwardedScheme, MalformedIsNotBelieved) {
  HostProcess h(args("127.0.0.1"));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  auto l = ask(c, "/s/1",
               "X-Forwarded-For: 203.0.113.4\r\nX-Forwarded-Proto: gopher\r\n");
  EXPECT_EQ(l["scheme"], "http");
  EXPECT_EQ(l["remote"], "127.0.0.1");
}

// HTTP/2 (h2c with prior knowledge), sync and blocking: python3-h2.
const char* kH2Client = R"(
import socket, sys
import h2.config, h2.connection, h2.events
port, path = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()
conn.send_headers(1, [(":method", "GET"), (":scheme", "http"),
                      (":authority", "t"), (":path", path),
                      ("x-forwarded-for", "203.0.113.8"),
                      ("x-forwarded-proto", "https")], end_stream=True)
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

TEST(ForwardedScheme, OverHttp2SyncAndBlocking) {
  HostProcess h(args("127.0.0.1"));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const std::string path : {"/s/2", "/b/2"}) {
    CommandResult r = run_command(
        {"/usr/bin/python3", "-c", kH2Client, std::to_string(h.port()), path});
    ASSERT_EQ(r.status, 0) << r.err;
    auto l = lines(r.out);
    EXPECT_EQ(l["scheme"], "https") << path << "\n" << r.out;
    EXPECT_EQ(l["remote"], "203.0.113.8") << path << "\n" << r.out;
  }
}

}  // namespace
