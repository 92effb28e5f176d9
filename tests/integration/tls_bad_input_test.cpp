// Bad input on TLS (issue 12 §6), against the real pounce-host: plain HTTP
// on an https port and TLS on an http one, broken and oversized handshakes,
// stalls, renegotiation, and many connections that never send a byte. Each
// ends with the server still serving, and the memory it holds measured.
#include <dirent.h>
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "tls_support.h"

using namespace pounce::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Memory figures mean something only without a sanitizer: ASan keeps freed
// memory in quarantine, so a handshake's temporaries stay resident.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

std::string get(const std::string& path) {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
}

// The server still completes a handshake and answers a request.
void expect_serving(uint16_t port) {
  TlsClient c(port);
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_TRUE(c.send(get("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r) << to_string(c.close_kind());
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello, World!");
}

size_t open_fds(pid_t pid) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* d = opendir(dir.c_str());
  if (!d) return 0;
  size_t n = 0;
  while (readdir(d)) ++n;
  closedir(d);
  return n;
}

class TlsBadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cert_ = new TempCert();
    if (!cert_->ok()) return;
    std::vector<std::string> a = {"--listen", "https://127.0.0.1:0", "--listen",
                                  "http://127.0.0.1:0"};
    for (auto& s : cert_->host_args()) a.push_back(s);
    for (auto& s : std::vector<std::string>{
             "--plugin", plugin_path("hello"), "--header-timeout", "3",
             "--workers", "1", "--no-access-log"}) {
      a.push_back(s);
    }
    host_ = new HostProcess(a);
  }
  static void TearDownTestSuite() {
    delete host_;
    host_ = nullptr;
    delete cert_;
    cert_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(cert_->ok()) << cert_->error();
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
    ASSERT_EQ(host_->ports().size(), 2u);
  }
  void TearDown() override {
    expect_serving(tls_port());
    EXPECT_TRUE(host_->running());
  }
  static uint16_t tls_port() { return host_->ports()[0]; }
  static uint16_t plain_port() { return host_->ports()[1]; }

  static TempCert* cert_;
  static HostProcess* host_;
};

TempCert* TlsBadInput::cert_ = nullptr;
HostProcess* TlsBadInput::host_ = nullptr;

// ---------------------------------------------------------------------------
// The wrong protocol on a port

TEST_F(TlsBadInput, PlainHttpToTheTlsPortGetsAClearText400) {
  const size_t logged =
      count_of(host_->stderr_text(), "400 HTTP_TO_HTTPS_PORT from");
  RawClient c(tls_port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("X-Pounce-Error"), "HTTP_TO_HTTPS_PORT");
  EXPECT_EQ(r->header("Connection"), "close");
  EXPECT_TRUE(c.wait_closed(20s));
  EXPECT_TRUE(
      host_->wait_for_stderr("400 HTTP_TO_HTTPS_PORT from", 10s, logged + 1))
      << host_->stderr_text();
}

// curl, as a user who typed http:// for an https port sees it.
TEST_F(TlsBadInput, CurlWithHttpOnTheTlsPortSeesThe400) {
  auto r = run_command(
      {"curl", "-sS", "--max-time", "20", "-o", "/dev/null", "-w",
       "%{http_code}", "http://127.0.0.1:" + std::to_string(tls_port()) + "/"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "400");
}

TEST_F(TlsBadInput, ClientHelloToThePlainPortIsRefused) {
  RawClient c(plain_port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(client_hello()));
  std::string got;
  EXPECT_TRUE(c.wait_closed(20s, &got));
  // A 400 in clear text, or nothing: never a TLS answer.
  if (!got.empty()) {
    EXPECT_EQ(got.rfind("HTTP/1.1 400 ", 0), 0u) << got;
  }
  // And a real TLS client fails its handshake cleanly.
  TlsClient t(plain_port());
  EXPECT_FALSE(t.connected());
  auto plain = one_request(plain_port(), get("/"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->body, "Hello, World!");
}

// ---------------------------------------------------------------------------
// Broken handshakes

TEST_F(TlsBadInput, TruncatedHandshakesThenClose) {
  const std::string hello = client_hello();
  for (size_t len :
       {size_t{1}, size_t{5}, size_t{6}, hello.size() / 2, hello.size() - 1}) {
    RawClient c(tls_port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send(std::string_view(hello).substr(0, len)));
    c.shutdown_write();
    std::string got;
    EXPECT_TRUE(c.wait_closed(20s, &got)) << len << " bytes";
    EXPECT_EQ(got, "") << len << " bytes: nothing to answer";
  }
}

TEST_F(TlsBadInput, GarbageAfterTheClientHello) {
  const size_t failures = count_of(host_->stderr_text(), "TLS from ");
  RawClient c(tls_port());
  ASSERT_TRUE(c.connected());
  std::string garbage(300, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) {
    garbage[i] = static_cast<char>(i * 37 + 11);
  }
  ASSERT_TRUE(c.send(client_hello() + garbage));
  std::string got;
  EXPECT_TRUE(c.wait_closed(20s, &got));
  // The server's flight and then an alert record (content type 21).
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0], 0x16) << "a handshake record first";
  EXPECT_TRUE(host_->wait_for_stderr("TLS from ", 10s, failures + 1))
      << host_->stderr_text();
}

// A record header that announces more than TLS allows (16 KiB plus
// expansion): the server refuses it without waiting for the bytes.
TEST_F(TlsBadInput, OversizedRecordIsRefused) {
  RawClient c(tls_port());
  ASSERT_TRUE(c.connected());
  std::string header = {0x16, 0x03, 0x01, 0x48, 0x00};  // 18432 bytes
  ASSERT_TRUE(c.send(header + std::string(18432, 'A')));
  EXPECT_TRUE(c.wait_closed(20s));
}

// A ClientHello past one record (16 KiB+), from a real OpenSSL client with
// a large private extension: the handshake completes.
TEST_F(TlsBadInput, HugeClientHelloFromARealClient) {
  for (size_t padding : {size_t{17000}, size_t{40000}, size_t{65000}}) {
    TlsClientOptions o;
    o.hello_padding = padding;
    TlsClient c(tls_port(), o);
    ASSERT_TRUE(c.connected()) << padding << ": " << c.error();
    ASSERT_TRUE(c.send(get("/")));
    auto r = c.read_response();
    ASSERT_TRUE(r) << padding;
    EXPECT_EQ(r->body, "Hello, World!");
  }
}

// The same bytes, sent one small write at a time and then stalled: the
// header timeout still bounds the handshake.
TEST_F(TlsBadInput, HugeClientHelloTrickledThenStalled) {
  const std::string hello = client_hello("localhost", 40000);
  ASSERT_GT(hello.size(), 40000u);
  RawClient c(tls_port());
  ASSERT_TRUE(c.connected());
  for (size_t off = 0; off < hello.size() - 100; off += 4096) {
    ASSERT_TRUE(c.send(std::string_view(hello).substr(
        off, std::min<size_t>(4096, hello.size() - 100 - off))));
  }
  std::string got;
  EXPECT_TRUE(c.wait_closed(20s, &got));
  EXPECT_EQ(got, "");
}

TEST_F(TlsBadInput, UnknownSniGetsTheDefaultCertificate) {
  TlsClientOptions o;
  o.sni = "no-such-name.example";
  TlsClient c(tls_port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  X509* peer = SSL_get1_peer_certificate(c.ssl());
  ASSERT_NE(peer, nullptr);
  char cn[256] = {0};
  X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn,
                            sizeof cn);
  X509_free(peer);
  EXPECT_STREQ(cn, "localhost");
  ASSERT_TRUE(c.send(get("/")));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // openssl s_client says the same.
  auto s =
      run_command({"openssl", "s_client", "-connect",
                   "127.0.0.1:" + std::to_string(tls_port()), "-servername",
                   "no-such-name.example", "-brief", "-no_ign_eof"},
                  30s);
  EXPECT_NE(s.err.find("CN = localhost"), std::string::npos) << s.out << s.err;
}

// The ClientHello is answered, then the client says nothing: closed at
// --header-timeout (3 s here), never much earlier.
TEST_F(TlsBadInput, ClientStalledMidHandshakeIsClosedAtTheHeaderTimeout) {
  RawClient c(tls_port());
  ASSERT_TRUE(c.connected());
  const auto start = Clock::now();
  ASSERT_TRUE(c.send(client_hello()));
  std::string flight = c.read_some(10s);
  ASSERT_FALSE(flight.empty());
  EXPECT_EQ(flight[0], 0x16);
  EXPECT_TRUE(c.wait_closed(20s));
  EXPECT_GE(Clock::now() - start, 1500ms) << "closed before the timeout";
}

// TLS 1.2 renegotiation from the client: refused (OpenSSL's no_renegotiation
// alert, which the client turns into a failed handshake), and the server
// goes on serving everyone.
TEST_F(TlsBadInput, RenegotiationIsRefused) {
  TlsClientOptions o;
  o.max_version = TLS1_2_VERSION;
  TlsClient c(tls_port(), o);
  ASSERT_TRUE(c.connected()) << c.error();
  EXPECT_STREQ(SSL_get_version(c.ssl()), "TLSv1.2");
  ASSERT_TRUE(c.send(get("/")));
  ASSERT_TRUE(c.read_response());
  EXPECT_FALSE(c.renegotiate(20s)) << "the server renegotiated";
  // Either the session failed (the client's fatal alert) and the server
  // closed, or it goes on without the renegotiation.
  if (c.send(get("/"))) {
    auto r = c.read_response();
    if (r) {
      EXPECT_EQ(r->status, 200);
    }
  }
}

// TLS 1.3 KeyUpdate from the client, asking for the server's too: the
// server's KeyUpdate is written while it reads, before its next response.
TEST_F(TlsBadInput, KeyUpdatesMidConnection) {
  TlsClient c(tls_port());
  ASSERT_TRUE(c.connected()) << c.error();
  ASSERT_STREQ(SSL_get_version(c.ssl()), "TLSv1.3");
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(SSL_key_update(c.ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
    ASSERT_TRUE(c.send(get("/") + get("/")));
    for (int j = 0; j < 2; ++j) {
      auto r = c.read_response();
      ASSERT_TRUE(r) << i << ": " << to_string(c.close_kind()) << " "
                     << c.error();
      EXPECT_EQ(r->body, "Hello, World!");
    }
  }
}

// Over --max-connections, a cleartext client gets a 503; a TLS client
// cannot read one before a handshake, so it must not get clear-text bytes
// in answer to its ClientHello (which it would report as a protocol error).
TEST(TlsLimits, OverMaxConnectionsNoClearTextToATlsClient) {
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  std::vector<std::string> a = {"--listen", "https://127.0.0.1:0"};
  for (auto& s : cert.host_args()) a.push_back(s);
  for (auto& s :
       std::vector<std::string>{"--plugin", plugin_path("hello"),
                                "--max-connections", "2", "--no-access-log"}) {
    a.push_back(s);
  }
  HostProcess h(a);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  auto first = std::make_unique<TlsClient>(h.port());
  TlsClient second(h.port());
  for (TlsClient* c : {first.get(), &second}) {
    ASSERT_TRUE(c->connected()) << c->error();
    ASSERT_TRUE(c->send(get("/")));
    ASSERT_TRUE(c->read_response());
  }
  RawClient over(h.port());
  ASSERT_TRUE(over.connected());
  over.send(client_hello());
  std::string got;
  EXPECT_TRUE(over.wait_closed(20s, &got));
  EXPECT_EQ(got.rfind("HTTP/", 0), std::string::npos)
      << "clear text on a TLS connection: " << got;
  TlsClient over_tls(h.port());
  EXPECT_FALSE(over_tls.connected());
  EXPECT_EQ(over_tls.error().find("wrong version number"), std::string::npos)
      << over_tls.error();
  // Room again: served.
  first.reset();
  for (auto until = Clock::now() + 20s; Clock::now() < until;) {
    TlsClient c(h.port());
    if (c.connected() && c.send(get("/")) && c.read_response()) return;
    std::this_thread::sleep_for(20ms);  // retrying until the close is seen
  }
  ADD_FAILURE() << "no TLS connection served after one closed";
}

// ---------------------------------------------------------------------------
// Memory

// 1,000 connections that never send a byte: no SSL object is made for
// them (the session starts at the first byte), their memory is bounded,
// and they are closed at --header-timeout.
TEST(TlsIdleConnections, ThousandSilentConnectionsAreCheapAndClosed) {
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  std::vector<std::string> a = {"--listen", "https://127.0.0.1:0"};
  for (auto& s : cert.host_args()) a.push_back(s);
  for (auto& s : std::vector<std::string>{
           "--plugin", plugin_path("hello"), "--header-timeout", "10",
           "--max-connections", "5000", "--workers", "1", "--no-access-log"}) {
    a.push_back(s);
  }
  HostProcess h(a);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const pid_t pid = h.serving_pid();
  {
    // The loop's TLS buffers exist from now on; the connection is closed
    // on both sides before the count (the server's socket is gone when
    // its close_notify and FIN have arrived).
    TlsClient warm(h.port());
    ASSERT_TRUE(warm.connected()) << warm.error();
    ASSERT_TRUE(warm.send(get("/")));
    ASSERT_TRUE(warm.read_response());
    ASSERT_TRUE(warm.send_close_notify());
    ASSERT_EQ(warm.wait_closed(20s), TlsClose::CloseNotify);
  }
  const size_t fds_before = open_fds(pid);
  const long rss_before = rss_kib(pid);

  constexpr size_t kConnections = 1000;
  std::vector<std::unique_ptr<RawClient>> clients;
  for (size_t i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<RawClient>(h.port()));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  // Accepted: the serving process holds a descriptor for each.
  for (auto until = Clock::now() + 20s;
       open_fds(pid) < fds_before + kConnections && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);  // polling a count, not a sync point
  }
  ASSERT_GE(open_fds(pid), fds_before + kConnections)
      << "serving pid " << pid << ", supervisor " << h.pid() << " holds "
      << open_fds(h.pid()) << "\n"
      << h.stderr_text()
      << run_command({"ss", "-ltnp", "sport = :" + std::to_string(h.port())})
             .out
      << run_command({"sh", "-c",
                      "ps -eLo pid,ppid,tid,stat,wchan:20,comm | grep pounce"})
             .out;
  const long rss_during = rss_kib(pid);
  const double per_conn =
      static_cast<double>(rss_during - rss_before) * 1024.0 / kConnections;
  printf("silent TLS connections: RSS %ld -> %ld KiB, %.0f bytes each\n",
         rss_before, rss_during, per_conn);
  if (!kSanitized) {
    EXPECT_LT(per_conn, 8 * 1024.0) << "per connection that never sent a byte";
  }

  for (size_t i = 0; i < kConnections; ++i) {
    std::string got;
    ASSERT_TRUE(clients[i]->wait_closed(30s, &got)) << i;
    EXPECT_EQ(got, "") << i;
  }
  clients.clear();
  for (auto until = Clock::now() + 20s;
       open_fds(pid) > fds_before && Clock::now() < until;) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_LE(open_fds(pid), fds_before);
  expect_serving(h.port());
}

// The memory an idle TLS keep-alive connection holds after its handshake
// and one request (the target is 16 KiB; measured and printed,
// with a generous bound).
TEST(TlsIdleConnections, MemoryPerIdleKeepAliveConnection) {
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  std::vector<std::string> a = {"--listen", "https://127.0.0.1:0", "--listen",
                                "http://127.0.0.1:0"};
  for (auto& s : cert.host_args()) a.push_back(s);
  for (auto& s : std::vector<std::string>{
           "--plugin", plugin_path("hello"), "--keep-alive-timeout", "120",
           "--max-connections", "5000", "--workers", "1", "--no-access-log"}) {
    a.push_back(s);
  }
  HostProcess h(a);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const pid_t pid = h.serving_pid();
  const uint16_t tls_port = h.ports()[0];
  const uint16_t plain_port = h.ports()[1];
  constexpr size_t kConnections = 500;

  // Cleartext first, for comparison: what a connection costs without TLS.
  {
    auto warm = one_request(plain_port, get("/"));
    ASSERT_TRUE(warm);
  }
  const long plain_before = rss_kib(pid);
  std::vector<std::unique_ptr<RawClient>> plain;
  for (size_t i = 0; i < kConnections; ++i) {
    plain.push_back(std::make_unique<RawClient>(plain_port));
    ASSERT_TRUE(plain.back()->send(get("/")));
    ASSERT_TRUE(plain.back()->read_response()) << i;
  }
  const long plain_after = rss_kib(pid);
  plain.clear();

  // Warm up: OpenSSL's per-thread state and caches.
  {
    std::vector<std::unique_ptr<TlsClient>> warm;
    for (int i = 0; i < 20; ++i) {
      warm.push_back(std::make_unique<TlsClient>(tls_port));
      ASSERT_TRUE(warm.back()->connected());
      ASSERT_TRUE(warm.back()->send(get("/")));
      ASSERT_TRUE(warm.back()->read_response());
    }
  }
  expect_serving(tls_port);
  const long rss_before = rss_kib(pid);
  std::vector<std::unique_ptr<TlsClient>> clients;
  for (size_t i = 0; i < kConnections; ++i) {
    clients.push_back(std::make_unique<TlsClient>(tls_port));
    ASSERT_TRUE(clients.back()->connected()) << i << clients.back()->error();
    ASSERT_TRUE(clients.back()->send(get("/")));
    auto r = clients.back()->read_response();
    ASSERT_TRUE(r) << i;
    ASSERT_EQ(r->status, 200);
  }
  const long rss_after = rss_kib(pid);
  const double per_plain =
      static_cast<double>(plain_after - plain_before) * 1024.0 / kConnections;
  const double per_conn =
      static_cast<double>(rss_after - rss_before) * 1024.0 / kConnections;
  printf(
      "idle cleartext keep-alive connections: RSS %ld -> %ld KiB over %zu, "
      "%.0f bytes each\n",
      plain_before, plain_after, kConnections, per_plain);
  printf(
      "idle TLS keep-alive connections (handshake + 1 request): "
      "RSS %ld -> %ld KiB over %zu, %.0f bytes each (target 16384)\n",
      rss_before, rss_after, kConnections, per_conn);
  RecordProperty("bytes_per_idle_tls_connection",
                 std::to_string(static_cast<long>(per_conn)));
  if (!kSanitized) {
    EXPECT_LT(per_conn, 64 * 1024.0);
  }
  // All of them are still served.
  for (auto& c : clients) {
    ASSERT_TRUE(c->send(get("/")));
    ASSERT_TRUE(c->read_response());
  }
}

}  // namespace
