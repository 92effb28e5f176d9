// `bench --tls` pieces without a socket: the throwaway certificate, and the
// load generator's TlsStream against an in-process OpenSSL server over
// memory BIOs (handshake, data both ways, record boundaries split anywhere,
// close_notify, session resumption, a version mismatch). Also the options
// and the baseline rule that keep TLS figures apart from cleartext ones.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bench/baseline.h"
#include "bench/options.h"
#include "bench/tls_cert.h"
#include "bench/tls_client.h"
#include "bench/workload.h"

using namespace pounce::bench;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bench-tls-test.XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A TLS server in memory: ciphertext in through `in`, out through `out`.
class MemoryServer {
 public:
  explicit MemoryServer(SSL_CTX* ctx) {
    ssl_ = SSL_new(ctx);
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);
    BIO_set_mem_eof_return(out_, -1);
    SSL_set_bio(ssl_, in_, out_);
    SSL_set_accept_state(ssl_);
  }
  ~MemoryServer() { SSL_free(ssl_); }
  MemoryServer(const MemoryServer&) = delete;
  MemoryServer& operator=(const MemoryServer&) = delete;

  void take(std::string_view bytes) {
    if (!bytes.empty()) {
      BIO_write(in_, bytes.data(), static_cast<int>(bytes.size()));
    }
  }
  std::string give() {
    std::string out;
    char buf[4096];
    int n;
    while ((n = BIO_read(out_, buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }
  // Handshake done (or failed: *failed).
  bool step(bool* failed) {
    int r = SSL_do_handshake(ssl_);
    if (r == 1) return true;
    *failed = SSL_get_error(ssl_, r) != SSL_ERROR_WANT_READ;
    return false;
  }
  std::string read_all() {
    std::string out;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl_, buf, sizeof buf)) > 0) out.append(buf, n);
    return out;
  }
  SSL* ssl() { return ssl_; }

 private:
  SSL* ssl_;
  BIO* in_;
  BIO* out_;
};

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen,
                  const unsigned char* in, unsigned inlen, void*) {
  unsigned char* sel = nullptr;
  static const unsigned char kProtos[] = {8,   'h', 't', 't', 'p',
                                          '/', '1', '.', '1'};
  if (SSL_select_next_proto(&sel, outlen, kProtos, sizeof kProtos, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

class TlsStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    ASSERT_TRUE(make_throwaway_certificate(dir_.path(), &cert_, &error))
        << error;
    server_ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_EQ(SSL_CTX_use_certificate_file(server_ctx_, cert_.cert_path.c_str(),
                                           SSL_FILETYPE_PEM),
              1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(server_ctx_, cert_.key_path.c_str(),
                                          SSL_FILETYPE_PEM),
              1);
    SSL_CTX_set_alpn_select_cb(server_ctx_, select_http11, nullptr);
  }
  void TearDown() override { SSL_CTX_free(server_ctx_); }

  std::unique_ptr<TlsClientContext> client(bool resume) {
    TlsClientOptions o;
    o.resume = resume;
    std::string error;
    auto c = TlsClientContext::create(o, &error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  // Runs both handshakes to their end, handing the client the server's
  // bytes `chunk` at a time (records split anywhere).
  bool handshake(TlsStream& c, MemoryServer& s, size_t chunk = 1 << 20) {
    bool server_done = false, client_done = false;
    for (int turn = 0; turn < 20 && !(server_done && client_done); ++turn) {
      if (!client_done) {
        auto h = c.handshake();
        if (h == TlsStream::Handshake::Failed) return false;
        client_done = h == TlsStream::Handshake::Done;
      }
      s.take(c.output());
      c.consume_output();
      bool failed = false;
      if (!server_done) server_done = s.step(&failed);
      std::string back = s.give();
      if (failed) {
        // The server's alert reaches the client, which fails with it.
        c.feed(back.data(), back.size());
        c.handshake();
        return false;
      }
      for (size_t at = 0; at < back.size(); at += chunk) {
        c.feed(back.data() + at, std::min(chunk, back.size() - at));
        if (!client_done) {
          auto h = c.handshake();
          if (h == TlsStream::Handshake::Failed) return false;
          client_done = h == TlsStream::Handshake::Done;
        }
        // Post-handshake messages (tickets): consumed like data.
        char buf[256];
        while (client_done && c.read(buf, sizeof buf) > 0) {
        }
      }
    }
    s.take(c.output());
    c.consume_output();
    return server_done && client_done;
  }

  // Server bytes to the client, then every plaintext byte it yields.
  std::string client_reads(TlsStream& c, const std::string& wire,
                           size_t chunk) {
    std::string plain;
    char buf[64];
    long n = TlsStream::kWantMore;
    for (size_t at = 0; at < wire.size(); at += chunk) {
      c.feed(wire.data() + at, std::min(chunk, wire.size() - at));
      while ((n = c.read(buf, sizeof buf)) > 0) plain.append(buf, n);
      if (n != TlsStream::kWantMore) {
        ADD_FAILURE() << "read: " << n << " " << c.error();
        break;
      }
    }
    return plain;
  }

  TempDir dir_;
  TlsCertificate cert_;
  SSL_CTX* server_ctx_ = nullptr;
};

}  // namespace

TEST(TlsCertificate, IsAnEcdsaP256SelfSignedPairForLocalhost) {
  TempDir dir;
  TlsCertificate c;
  std::string error;
  ASSERT_TRUE(make_throwaway_certificate(dir.path(), &c, &error)) << error;
  struct stat st {};
  ASSERT_EQ(stat(c.key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the key must be private";
  EXPECT_EQ(c.sha256.size(), 64u);

  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_EQ(
      SSL_CTX_use_certificate_file(ctx, c.cert_path.c_str(), SSL_FILETYPE_PEM),
      1);
  ASSERT_EQ(
      SSL_CTX_use_PrivateKey_file(ctx, c.key_path.c_str(), SSL_FILETYPE_PEM),
      1);
  EXPECT_EQ(SSL_CTX_check_private_key(ctx), 1) << "key and cert must match";
  X509* x = SSL_CTX_get0_certificate(ctx);
  ASSERT_NE(x, nullptr);
  EVP_PKEY* key = X509_get0_pubkey(x);
  char group[64];
  size_t len = 0;
  ASSERT_EQ(EVP_PKEY_get_group_name(key, group, sizeof group, &len), 1);
  EXPECT_STREQ(group, "prime256v1");
  EXPECT_EQ(X509_check_host(x, "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
  // Self-signed: it verifies with its own key.
  EXPECT_EQ(X509_verify(x, key), 1);
  EXPECT_LE(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
  EXPECT_GE(X509_cmp_current_time(X509_get0_notAfter(x)), 0);
  SSL_CTX_free(ctx);

  // Another run gets another key (nothing reused across runs).
  TempDir dir2;
  TlsCertificate c2;
  ASSERT_TRUE(make_throwaway_certificate(dir2.path(), &c2, &error)) << error;
  EXPECT_NE(c.sha256, c2.sha256);
}

TEST_F(TlsStreamTest, HandshakesTls13AndCarriesDataBothWays) {
  auto ctx = client(false);
  TlsStream c;
  ASSERT_TRUE(c.begin(*ctx));
  MemoryServer s(server_ctx_);
  ASSERT_TRUE(handshake(c, s)) << c.error();

  TlsFacts f = c.facts();
  EXPECT_EQ(f.version, "TLSv1.3");
  EXPECT_EQ(f.cipher, "TLS_AES_128_GCM_SHA256");
  EXPECT_FALSE(f.group.empty());
  EXPECT_EQ(f.peer_key, "EC prime256v1");
  EXPECT_EQ(f.peer_cert_sha256, cert_.sha256);
  EXPECT_EQ(f.alpn, "http/1.1");
  EXPECT_FALSE(c.resumed());

  const std::string request = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.write(request.data(), request.size()));
  s.take(c.output());
  c.consume_output();
  EXPECT_TRUE(c.output().empty());
  EXPECT_EQ(s.read_all(), request);

  const std::string response(40000, 'r');  // several records
  ASSERT_EQ(
      SSL_write(s.ssl(), response.data(), static_cast<int>(response.size())),
      static_cast<int>(response.size()));
  std::string wire = s.give();
  // Whole, and one byte at a time: the slice BIO keeps partial records.
  std::string got =
      client_reads(c, wire.substr(0, wire.size() / 2), wire.size());
  got += client_reads(c, wire.substr(wire.size() / 2), 1);
  EXPECT_EQ(got.size(), response.size());
  EXPECT_TRUE(got == response);  // not printed: 40,000 bytes

  // The server's close_notify is an orderly end.
  SSL_shutdown(s.ssl());
  std::string wire2 = s.give();
  c.feed(wire2.data(), wire2.size());
  char buf[64];
  EXPECT_EQ(c.read(buf, sizeof buf), TlsStream::kClosed) << c.error();
}

TEST_F(TlsStreamTest, HandshakeSurvivesOneByteReads) {
  auto ctx = client(false);
  TlsStream c;
  ASSERT_TRUE(c.begin(*ctx));
  MemoryServer s(server_ctx_);
  ASSERT_TRUE(handshake(c, s, 1)) << c.error();
  EXPECT_EQ(c.facts().version, "TLSv1.3");
}

TEST_F(TlsStreamTest, ResumeOffersThePreviousSessionOnTheNextConnection) {
  // The server issues TLS 1.3 tickets (OpenSSL's default).
  auto ctx = client(true);
  TlsStream c;
  ASSERT_TRUE(c.begin(*ctx));
  {
    MemoryServer s(server_ctx_);
    ASSERT_TRUE(handshake(c, s)) << c.error();
    EXPECT_FALSE(c.resumed());
  }
  for (int i = 0; i < 3; ++i) {
    // The same stream reconnects, as a Connection does after a close.
    ASSERT_TRUE(c.begin(*ctx));
    MemoryServer s(server_ctx_);
    ASSERT_TRUE(handshake(c, s)) << c.error();
    EXPECT_TRUE(c.resumed()) << "connection " << i + 2;
    EXPECT_EQ(SSL_session_reused(s.ssl()), 1);
  }
}

TEST_F(TlsStreamTest, WithoutResumeEveryConnectionIsAFullHandshake) {
  auto ctx = client(false);
  TlsStream c;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.begin(*ctx));
    MemoryServer s(server_ctx_);
    ASSERT_TRUE(handshake(c, s)) << c.error();
    EXPECT_FALSE(c.resumed());
  }
}

TEST_F(TlsStreamTest, AServerWithoutTls13FailsTheHandshakeWithAReason) {
  SSL_CTX_set_max_proto_version(server_ctx_, TLS1_2_VERSION);
  auto ctx = client(false);
  TlsStream c;
  ASSERT_TRUE(c.begin(*ctx));
  MemoryServer s(server_ctx_);
  EXPECT_FALSE(handshake(c, s));
  EXPECT_FALSE(c.error().empty());
}

TEST_F(TlsStreamTest, PinnedToTls12WhenAsked) {
  TlsClientOptions o;
  o.version = tls_version_from_text("1.2");
  std::string error;
  auto ctx = TlsClientContext::create(o, &error);
  ASSERT_TRUE(ctx) << error;
  TlsStream c;
  ASSERT_TRUE(c.begin(*ctx));
  MemoryServer s(server_ctx_);
  ASSERT_TRUE(handshake(c, s)) << c.error();
  EXPECT_EQ(c.facts().version, "TLSv1.2");
  EXPECT_EQ(c.facts().cipher, "ECDHE-ECDSA-AES128-GCM-SHA256");
}

TEST(BenchTlsOptions, FlagsAndTheirRules) {
  auto parse = [](std::vector<std::string> args, BenchOptions* o) {
    args.insert(args.begin(), "bench");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::string text;
    return parse_bench_options(static_cast<int>(argv.size()), argv.data(), o,
                               &text);
  };
  BenchOptions o;
  ASSERT_EQ(parse({}, &o), ParseOutcome::Run);
  EXPECT_FALSE(o.tls);
  EXPECT_FALSE(o.new_conn);
  ASSERT_EQ(parse({"--tls", "--new-conn", "--tls-resume"}, &o),
            ParseOutcome::Run);
  EXPECT_TRUE(o.tls);
  EXPECT_TRUE(o.new_conn);
  EXPECT_TRUE(o.tls_resume);
  EXPECT_EQ(o.tls_version, "1.3");
  ASSERT_EQ(parse({"--url", "https://127.0.0.1:8443/hello"}, &o),
            ParseOutcome::Run);
  EXPECT_TRUE(o.tls) << "an https URL is a TLS run";
  EXPECT_EQ(parse({"--tls-resume"}, &o), ParseOutcome::Error);
  EXPECT_EQ(parse({"--tls", "--tls-resume"}, &o), ParseOutcome::Error);
  EXPECT_EQ(parse({"--tls", "--tls-version", "1.1"}, &o), ParseOutcome::Error);
  EXPECT_EQ(parse({"--tls", "--url", "http://127.0.0.1:80/"}, &o),
            ParseOutcome::Error);
}

TEST(BenchTlsOptions, NewConnAsksForConnectionClose) {
  WorkloadParams p;
  p.host_header = "127.0.0.1:1";
  const Workload* hello = find_workload("hello");
  const Workload* echo = find_workload("echo");
  EXPECT_EQ(hello->request(p).find("Connection: close"), std::string::npos);
  p.close_connection = true;
  EXPECT_NE(hello->request(p).find("\r\nConnection: close\r\n\r\n"),
            std::string::npos);
  std::string post = echo->request(p);
  EXPECT_NE(post.find("\r\nConnection: close\r\n"), std::string::npos);
  // The body is still the last thing, whole.
  EXPECT_EQ(post.substr(post.size() - 1024), echo->expected_body(p));
}

TEST(BenchTlsBaseline, TlsAndCleartextArtifactsAreIncomparable) {
  nlohmann::json a;
  a["ratios"] = nlohmann::json::array({{{"workload", "hello"},
                                        {"peer", "nginx"},
                                        {"req_per_s", {{"median", 1.0}}}}});
  nlohmann::json tls = a;
  tls["transport"] = "https";
  auto v = compare_with_baseline(a, tls);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.record["verdict"], "incomparable");
  EXPECT_NE(v.record["why"].get<std::string>().find("transport"),
            std::string::npos);
  nlohmann::json newconn = tls;
  newconn["connection_mode"] = "new connection per request";
  EXPECT_EQ(compare_with_baseline(tls, newconn).record["verdict"],
            "incomparable");
  // Same transport: the ordinary rule applies.
  EXPECT_EQ(compare_with_baseline(tls, tls).record["verdict"], "pass");
}
