// What the host decides before a plugin sees a request (issue 14 §3-4):
// request ids (X-Request-ID kept from a trusted peer, else generated; in
// the response, the plugin's request_header() and the access log), the
// client behind trusted forwarding headers (--forwarded-allow-ips,
// --forwarded-hops; spoofed, malformed and IPv6 forms), the per-client
// rate limit (429 with Retry-After), and the JSON access log.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

using namespace pounce::test;

namespace {

std::vector<std::string> args(std::vector<std::string> extra) {
  std::vector<std::string> a = {"--plugin", test_plugin_path("inspect"),
                                "--workers", "1"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::string get(const std::string& headers = "") {
  return "GET /x HTTP/1.1\r\nHost: t\r\n" + headers + "\r\n";
}

// The body's "key=value" lines.
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

HttpResponse ask(uint16_t port, const std::string& headers = "") {
  RawClient c(port);
  EXPECT_TRUE(c.send(get(headers)));
  auto r = c.read_response();
  EXPECT_TRUE(r);
  return r ? *r : HttpResponse{};
}

// 32 lower-case hex digits. (No std::regex: GCC 12 warns inside it at -O1
// under the sanitizers, and -Werror makes that an error.)
bool is_hex_id(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(RequestId, EveryResponseHasOneThePluginSees) {
  HostProcess h(args({}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  HttpResponse a = ask(h.port());
  HttpResponse b = ask(h.port());
  ASSERT_TRUE(a.header("X-Request-ID"));
  EXPECT_TRUE(is_hex_id(*a.header("X-Request-ID")))
      << *a.header("X-Request-ID");
  EXPECT_NE(a.header("X-Request-ID"), b.header("X-Request-ID"));
  EXPECT_EQ(lines(a.body)["request_id"], *a.header("X-Request-ID"));
  // The access log line of the request shows it too (json).
}

TEST(RequestId, AnUntrustedClientsIdIsReplaced) {
  HostProcess h(args({}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  HttpResponse r = ask(h.port(), "X-Request-ID: forged-by-client\r\n");
  ASSERT_TRUE(r.header("X-Request-ID"));
  EXPECT_TRUE(is_hex_id(*r.header("X-Request-ID")));
  EXPECT_EQ(lines(r.body)["request_id"], *r.header("X-Request-ID"));
}

TEST(RequestId, OffMeansNone) {
  HostProcess h(args({"--no-request-id"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  HttpResponse r = ask(h.port());
  EXPECT_FALSE(r.header("X-Request-ID"));
  EXPECT_EQ(lines(r.body)["request_id"], "-");
}

TEST(Forwarded, ATrustedPeerIsBelieved) {
  HostProcess h(args({"--forwarded-allow-ips", "127.0.0.0/8,::1",
                      "--access-log-format", "json"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  HttpResponse r = ask(h.port(),
                       "X-Forwarded-For: 198.51.100.1, 203.0.113.9\r\n"
                       "X-Request-ID: lb-7f3a\r\n");
  auto l = lines(r.body);
  EXPECT_EQ(l["remote"], "203.0.113.9");
  EXPECT_EQ(l["request_id"], "lb-7f3a");
  EXPECT_EQ(r.header("X-Request-ID").value_or(""), "lb-7f3a");
  ASSERT_TRUE(h.wait_for_stdout("\"request_id\":\"lb-7f3a\""))
      << h.stdout_text();
  EXPECT_NE(h.stdout_text().find("\"client\":\"203.0.113.9\""),
            std::string::npos)
      << h.stdout_text();
}

TEST(Forwarded, HopsCountFromTheRight) {
  HostProcess h(
      args({"--forwarded-allow-ips", "127.0.0.1", "--forwarded-hops", "2"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto l = lines(
      ask(h.port(), "X-Forwarded-For: 1.1.1.1, 198.51.100.1, 10.0.0.2\r\n")
          .body);
  EXPECT_EQ(l["remote"], "198.51.100.1");
}

TEST(Forwarded, Ipv6FormsInForwarded) {
  HostProcess h(args({"--forwarded-allow-ips", "127.0.0.1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* v : {"for=\"[2001:db8::7]:4711\"", "for=\"[2001:db8::7]\"",
                        "for=192.0.2.1, for=\"[2001:db8::7]\";proto=https"}) {
    auto l = lines(ask(h.port(), std::string("Forwarded: ") + v + "\r\n").body);
    EXPECT_EQ(l["remote"], "2001:db8::7") << v;
  }
  auto l = lines(ask(h.port(), "X-Forwarded-For: [2001:db8::9]:80\r\n").body);
  EXPECT_EQ(l["remote"], "2001:db8::9");
}

TEST(Forwarded, SpoofedOrMalformedIsNotBelieved) {
  {
    // Nobody is trusted: the headers are passed through, not believed.
    HostProcess h(args({}));
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    auto l = lines(ask(h.port(),
                       "X-Forwarded-For: 203.0.113.9\r\n"
                       "Forwarded: for=203.0.113.9\r\n")
                       .body);
    EXPECT_EQ(l["remote"], "127.0.0.1");
  }
  {
    // A trusted range that does not hold the peer.
    HostProcess h(args({"--forwarded-allow-ips", "10.0.0.0/8"}));
    ASSERT_TRUE(h.ok()) << h.stderr_text();
    auto l = lines(ask(h.port(), "X-Forwarded-For: 203.0.113.9\r\n").body);
    EXPECT_EQ(l["remote"], "127.0.0.1");
  }
  HostProcess h(args({"--forwarded-allow-ips", "127.0.0.1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* bad :
       {"X-Forwarded-For: not-an-address\r\n",
        "X-Forwarded-For: 203.0.113.9 198.51.100.1\r\n",
        "Forwarded: for=2001:db8::1\r\n", "Forwarded: for=\"203.0.113.9\r\n"}) {
    auto l = lines(ask(h.port(), bad).body);
    EXPECT_EQ(l["remote"], "127.0.0.1") << bad;
  }
}

TEST(Forwarded, BadAllowListIsAStartupError) {
  HostOptions o;
  o.args = args({"--forwarded-allow-ips", "10.0.0.0/33"});
  HostProcess h(o);
  EXPECT_FALSE(h.ok());
  EXPECT_NE(h.stderr_text().find("10.0.0.0/33"), std::string::npos)
      << h.stderr_text();
}

TEST(RateLimit, OverTheBurstGets429WithRetryAfter) {
  HostProcess h(args({"--rate-limit", "1", "--rate-limit-burst", "3"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(get()));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << i;
  }
  ASSERT_TRUE(c.send(get()));
  auto limited = c.read_response();
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->header("X-Pounce-Error").value_or(""), "RATE_LIMITED");
  EXPECT_EQ(limited->header("Retry-After").value_or(""), "1");
  EXPECT_TRUE(limited->header("X-Request-ID"));
  // The connection stays open for when the client may come back.
  EXPECT_TRUE(c.stays_open(std::chrono::milliseconds(100)));
}

TEST(RateLimit, ClientsBehindATrustedProxyHaveTheirOwnBuckets) {
  HostProcess h(args({"--rate-limit", "1", "--rate-limit-burst", "1",
                      "--forwarded-allow-ips", "127.0.0.1"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(ask(h.port(), "X-Forwarded-For: 203.0.113.1\r\n").status, 200);
  EXPECT_EQ(ask(h.port(), "X-Forwarded-For: 203.0.113.1\r\n").status, 429);
  EXPECT_EQ(ask(h.port(), "X-Forwarded-For: 203.0.113.2\r\n").status, 200);
}

// The JSON access log: one object per line that a JSON parser reads, with
// nothing a client sends able to break the line or forge a field.
TEST(JsonAccessLog, LinesParseAndEscapeWhatTheClientSent) {
  HostProcess h(args({"--access-log-format", "json"}));
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  ASSERT_EQ(ask(h.port(),
                "User-Agent: evil\", \"status\": 999, \"x\": \"\xff\xfe\r\n")
                .status,
            200);
  ASSERT_EQ(ask(h.port(), "User-Agent: curl/8\r\n").status, 200);
  ASSERT_TRUE(h.wait_for_stdout("curl/8")) << h.stdout_text();
  const char* script = R"PY(
import json, sys
for line in sys.stdin.read().splitlines():
    o = json.loads(line)
    print(o["status"], o["method"], o["target"], o["protocol"], o["client"],
          len(o["request_id"]), repr(o["user_agent"]), o["mount"],
          o["tls_version"], o["time"][:2], type(o["duration"]).__name__)
)PY";
  char path[] = "/tmp/pounce-json-log-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string out = h.stdout_text();
  ASSERT_EQ(write(fd, out.data(), out.size()),
            static_cast<ssize_t>(out.size()));
  close(fd);
  CommandResult r = run_command(
      {"sh", "-c",
       std::string("/usr/bin/python3 -c '") + script + "' < " + path});
  unlink(path);
  ASSERT_EQ(r.status, 0) << r.err << "\n" << out;
  EXPECT_NE(
      r.out.find("200 GET /x HTTP/1.1 127.0.0.1 32 'evil\", \"status\": "
                 "999, \"x\": \"\xef\xbf\xbd\xef\xbf\xbd' / None 20 float"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("'curl/8'"), std::string::npos) << r.out;
}

}  // namespace
