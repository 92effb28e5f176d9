// ContextSet and TicketKeys, through real handshakes: what a client is
// served (certificate, protocol, ALPN, OCSP), what resumes, what fails and
// which file the error names.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_certs.h"
#include "tls/context_set.h"
#include "tls/ticket_keys.h"
#include "tls_handshake.h"

namespace pounce::test {
namespace {

using tls::ContextSet;
using tls::TicketKeys;

constexpr uint64_t kHour = 3600 * 1000;

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One PKI for the whole suite: RSA key generation is slow.
struct Pki {
  std::string dir;
  TestPki pki;
  CertFiles ecdsa;     // localhost, default.test   serial 0x1001
  CertFiles rsa;       // localhost, default.test   serial 0x1002
  CertFiles exact;     // exact.example.test        serial 0x1003
  CertFiles wildcard;  // *.wild.test               serial 0x1004
  CertFiles cn_only;   // CN=cn.example.test, no SAN serial 0x1005
  CertFiles expired;
  CertFiles future;
  CertFiles client;
  CertFiles stranger;  // a client certificate from the other CA
  std::string ecdsa_ocsp;
  std::string rsa_ocsp;
};

Pki* g_pki = nullptr;

class TlsContextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (g_pki != nullptr) return;
    char tmpl[] = "/tmp/pounce-tls-test-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    ASSERT_NE(dir, nullptr);
    TestPki pki = TestPki::create(dir);
    auto* p = new Pki{dir, pki, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}};
    p->ecdsa = p->pki.server_cert({"localhost", "default.test"}, KeyType::Ecdsa,
                                  0x1001);
    p->rsa =
        p->pki.server_cert({"localhost", "default.test"}, KeyType::Rsa, 0x1002);
    p->exact =
        p->pki.server_cert({"exact.example.test"}, KeyType::Ecdsa, 0x1003);
    p->wildcard = p->pki.server_cert({"*.wild.test"}, KeyType::Ecdsa, 0x1004);
    CertRequest cn;
    cn.dns_names = {"cn.example.test"};
    cn.san = false;
    cn.serial = 0x1005;
    p->cn_only = p->pki.issue(cn);
    p->expired = p->pki.expired_cert({"expired.test"});
    CertRequest future;
    future.dns_names = {"future.test"};
    future.validity = Validity::NotYetValid;
    p->future = p->pki.issue(future);
    p->client = p->pki.client_cert("alice");
    p->stranger = p->pki.client_cert("mallory", /*other_ca=*/true);
    p->ecdsa_ocsp = p->pki.ocsp_response(p->ecdsa);
    p->rsa_ocsp = p->pki.ocsp_response(p->rsa);
    g_pki = p;
  }

  static void TearDownTestSuite() {
    if (g_pki == nullptr) return;
    std::filesystem::remove_all(g_pki->dir);
    delete g_pki;
    g_pki = nullptr;
  }

  const Pki& pki() const { return *g_pki; }

  // The default pair (ECDSA and RSA for the same names), then the SNI sets.
  Config base_config() const {
    Config c;
    c.tls_certs = {pki().ecdsa.cert_path, pki().rsa.cert_path,
                   pki().exact.cert_path, pki().wildcard.cert_path,
                   pki().cn_only.cert_path};
    c.tls_keys = {pki().ecdsa.key_path, pki().rsa.key_path,
                  pki().exact.key_path, pki().wildcard.key_path,
                  pki().cn_only.key_path};
    return c;
  }

  std::shared_ptr<const ContextSet> build(
      const Config& c, std::shared_ptr<TicketKeys> keys = nullptr,
      bool offer_h2 = false) {
    warnings_.clear();
    error_.clear();
    if (!keys && c.tls_session_tickets) {
      keys = std::make_shared<TicketKeys>(c.tls_ticket_rotation_ms);
    }
    auto set = ContextSet::build(c, keys, &warnings_, &error_, offer_h2);
    EXPECT_EQ(ERR_peek_error(), 0u) << "build left an OpenSSL error queued";
    return set;
  }

  SslCtxPtr client(int max_version = 0) const {
    ClientOptions o;
    o.ca_file = pki().pki.ca_cert();
    o.max_version = max_version;
    return make_client_ctx(o);
  }

  std::vector<std::string> warnings_;
  std::string error_;
};

// --- certificates and SNI -------------------------------------------------

struct SniCase {
  const char* server_name;  // nullptr: no SNI
  long serial;
};

class SniTest : public TlsContextTest,
                public ::testing::WithParamInterface<SniCase> {};

TEST_P(SniTest, ServesTheCertificateTheNameSelects) {
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  EXPECT_EQ(set->context_count(), 4u);  // ECDSA+RSA share one
  auto ctx = client();
  // ECDSA only, so that the default set answers with its ECDSA certificate.
  Handshake h(ctx.get(), set->default_context());
  SSL_set1_sigalgs_list(h.client(), "ecdsa_secp256r1_sha256");
  if (GetParam().server_name != nullptr) {
    SSL_set_tlsext_host_name(h.client(), GetParam().server_name);
  }
  ASSERT_TRUE(h.run()) << h.client_reason << " " << h.server_reason;
  EXPECT_EQ(served_serial(h.client()), GetParam().serial);
}

INSTANTIATE_TEST_SUITE_P(
    Names, SniTest,
    ::testing::Values(SniCase{nullptr, 0x1001},  // no SNI: the default
                      SniCase{"localhost", 0x1001},
                      SniCase{"exact.example.test", 0x1003},
                      SniCase{"EXACT.Example.Test", 0x1003},   // case-blind
                      SniCase{"exact.example.test.", 0x1003},  // root dot
                      SniCase{"a.wild.test", 0x1004},
                      SniCase{"b.wild.test", 0x1004},
                      SniCase{"a.b.wild.test", 0x1001},  // one label only
                      SniCase{"wild.test", 0x1001},
                      SniCase{"cn.example.test", 0x1005},  // CN without SAN
                      SniCase{"unknown.test", 0x1001}));

TEST_F(TlsContextTest, ClientSignatureAlgorithmsChooseRsaOrEcdsa) {
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    auto ctx = client(version);
    {
      Handshake h(ctx.get(), set->default_context());
      SSL_set1_sigalgs_list(h.client(), "rsa_pss_rsae_sha256:RSA+SHA256");
      ASSERT_TRUE(h.run()) << version;
      EXPECT_EQ(served_serial(h.client()), 0x1002) << version;
      EXPECT_EQ(served_key_type(h.client()), EVP_PKEY_RSA) << version;
    }
    {
      Handshake h(ctx.get(), set->default_context());
      SSL_set1_sigalgs_list(h.client(), "ecdsa_secp256r1_sha256");
      ASSERT_TRUE(h.run()) << version;
      EXPECT_EQ(served_serial(h.client()), 0x1001) << version;
      EXPECT_EQ(served_key_type(h.client()), EVP_PKEY_EC) << version;
    }
  }
}

// --- errors name the file ---------------------------------------------------

TEST_F(TlsContextTest, KeyNotMatchingItsCertificateNamesTheKeyFile) {
  Config c;
  c.tls_certs = {pki().ecdsa.cert_path};
  c.tls_keys = {pki().exact.key_path};
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_, pki().exact.key_path +
                        ": key does not match the certificate " +
                        pki().ecdsa.cert_path);
}

TEST_F(TlsContextTest, RsaKeyForAnEcdsaCertificateIsAMismatch) {
  Config c;
  c.tls_certs = {pki().ecdsa.cert_path};
  c.tls_keys = {pki().rsa.key_path};
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_.rfind(pki().rsa.key_path + ": key does not match", 0), 0u)
      << error_;
}

TEST_F(TlsContextTest, UnreadableFileIsNamed) {
  Config c = base_config();
  c.tls_certs[2] = pki().dir + "/missing.pem";
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_, pki().dir + "/missing.pem: No such file or directory");

  c = base_config();
  c.tls_keys[1] = pki().dir + "/missing.key";
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_, pki().dir + "/missing.key: No such file or directory");
}

TEST_F(TlsContextTest, FileWithoutPemIsNamed) {
  const std::string junk = pki().dir + "/junk.pem";
  std::ofstream(junk) << "not a certificate\n";
  Config c = base_config();
  c.tls_certs[0] = junk;
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_.rfind(junk + ": no PEM certificate found", 0), 0u) << error_;

  c = base_config();
  c.tls_keys[0] = junk;
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_.rfind(junk + ": no usable PEM private key", 0), 0u)
      << error_;
}

TEST_F(TlsContextTest, ExpiredCertificateIsAnErrorUnlessAllowed) {
  Config c = base_config();
  c.tls_certs.push_back(pki().expired.cert_path);
  c.tls_keys.push_back(pki().expired.key_path);
  EXPECT_FALSE(build(c));
  EXPECT_EQ(
      error_.rfind(pki().expired.cert_path + ": certificate expired on ", 0),
      0u)
      << error_;

  c.tls_allow_expired = true;
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(warnings_[0].rfind(
                pki().expired.cert_path + ": certificate expired on ", 0),
            0u)
      << warnings_[0];
}

TEST_F(TlsContextTest, NotYetValidCertificateIsAWarning) {
  Config c = base_config();
  c.tls_certs.push_back(pki().future.cert_path);
  c.tls_keys.push_back(pki().future.key_path);
  ASSERT_TRUE(build(c)) << error_;
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_EQ(
      warnings_[0].rfind(
          pki().future.cert_path + ": certificate is not valid before ", 0),
      0u)
      << warnings_[0];
}

TEST_F(TlsContextTest, SameNamesAndKeyTypeTwiceIsAnError) {
  Config c;
  c.tls_certs = {pki().ecdsa.cert_path, pki().ecdsa.cert_path};
  c.tls_keys = {pki().ecdsa.key_path, pki().ecdsa.key_path};
  EXPECT_FALSE(build(c));
  EXPECT_EQ(
      error_.rfind(pki().ecdsa.cert_path + ": names the same DNS names", 0), 0u)
      << error_;
}

TEST_F(TlsContextTest, BadCipherListIsAnError) {
  Config c = base_config();
  c.tls_ciphers = "NO-SUCH-CIPHER";
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_.rfind("--tls-ciphers NO-SUCH-CIPHER: ", 0), 0u) << error_;
}

// --- protocol ---------------------------------------------------------------

TEST_F(TlsContextTest, MinVersion13RefusesATls12OnlyClient) {
  Config c = base_config();
  c.tls_min_version = "1.3";
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  auto old_client = client(TLS1_2_VERSION);
  Handshake refused(old_client.get(), set->default_context());
  EXPECT_FALSE(refused.run());
  EXPECT_TRUE(refused.server_failed);
  EXPECT_EQ(refused.server_reason, SSL_R_UNSUPPORTED_PROTOCOL);

  auto modern = client();
  Handshake ok(modern.get(), set->default_context());
  ASSERT_TRUE(ok.run());
  EXPECT_EQ(SSL_version(ok.server()), TLS1_3_VERSION);
}

TEST_F(TlsContextTest, Tls12UsesAnEcdheAeadCipherByDefault) {
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  auto ctx = client(TLS1_2_VERSION);
  Handshake h(ctx.get(), set->default_context());
  ASSERT_TRUE(h.run());
  const std::string cipher = SSL_get_cipher_name(h.server());
  EXPECT_EQ(cipher.rfind("ECDHE-", 0), 0u) << cipher;
  EXPECT_TRUE(cipher.find("GCM") != std::string::npos ||
              cipher.find("CHACHA20") != std::string::npos)
      << cipher;

  // A client that only knows CBC suites is refused.
  Handshake cbc(ctx.get(), set->default_context());
  SSL_set_cipher_list(cbc.client(), "ECDHE-ECDSA-AES128-SHA:AES128-SHA");
  EXPECT_FALSE(cbc.run());
}

TEST_F(TlsContextTest, CiphersuitesOverrideTls13Suites) {
  Config c = base_config();
  c.tls_ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  auto ctx = client();
  Handshake h(ctx.get(), set->default_context());
  ASSERT_TRUE(h.run());
  EXPECT_STREQ(SSL_get_cipher_name(h.server()), "TLS_CHACHA20_POLY1305_SHA256");
}

TEST_F(TlsContextTest, RenegotiationIsRefused) {
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  auto ctx = client(TLS1_2_VERSION);
  Handshake h(ctx.get(), set->default_context());
  ASSERT_TRUE(h.run());
  ASSERT_EQ(SSL_renegotiate(h.client()), 1);
  // The client sends its new ClientHello; the server answers
  // no_renegotiation; the client's renegotiation fails.
  bool client_failed = false;
  int reason = 0;
  char buf[16];
  for (int i = 0; i < 8 && !client_failed; ++i) {
    ERR_clear_error();
    const int rc = SSL_do_handshake(h.client());
    if (rc <= 0 && SSL_get_error(h.client(), rc) == SSL_ERROR_SSL) {
      client_failed = true;
      reason = ERR_GET_REASON(ERR_peek_error());
      break;
    }
    ERR_clear_error();
    SSL_read(h.server(), buf, sizeof(buf));  // processes the ClientHello
  }
  ERR_clear_error();
  EXPECT_TRUE(client_failed);
  EXPECT_EQ(reason, SSL_R_NO_RENEGOTIATION);
  EXPECT_EQ(SSL_num_renegotiations(h.server()), 0);
}

// --- ALPN -------------------------------------------------------------------

std::string selected_alpn(SSL* ssl) {
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl, &p, &n);
  return std::string(reinterpret_cast<const char*>(p), n);
}

TEST_F(TlsContextTest, AlpnChoosesHttp11UnlessH2IsOffered) {
  static const unsigned char kH2AndHttp11[] = "\x02h2\x08http/1.1";
  auto ctx = client();
  auto without_h2 = build(base_config());
  ASSERT_TRUE(without_h2) << error_;
  {
    Handshake h(ctx.get(), without_h2->default_context());
    ASSERT_EQ(SSL_set_alpn_protos(h.client(), kH2AndHttp11, 12), 0);
    ASSERT_TRUE(h.run());
    EXPECT_EQ(selected_alpn(h.client()), "http/1.1");
  }
  auto with_h2 = build(base_config(), nullptr, /*offer_h2=*/true);
  ASSERT_TRUE(with_h2) << error_;
  EXPECT_TRUE(with_h2->offers_h2());
  {
    Handshake h(ctx.get(), with_h2->default_context());
    ASSERT_EQ(SSL_set_alpn_protos(h.client(), kH2AndHttp11, 12), 0);
    ASSERT_TRUE(h.run());
    EXPECT_EQ(selected_alpn(h.client()), "h2");
  }
  {
    // No ALPN at all: the handshake succeeds, nothing is selected (HTTP/1.1).
    Handshake h(ctx.get(), without_h2->default_context());
    ASSERT_TRUE(h.run());
    EXPECT_EQ(selected_alpn(h.server()), "");
  }
}

TEST_F(TlsContextTest, OnlyUnknownProtocolsGetNoApplicationProtocol) {
  static const unsigned char kSpdy[] = "\x06spdy/3";
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  auto ctx = client();
  Handshake h(ctx.get(), set->default_context());
  ASSERT_EQ(SSL_set_alpn_protos(h.client(), kSpdy, 7), 0);
  EXPECT_FALSE(h.run());
  EXPECT_TRUE(h.client_failed);
  EXPECT_EQ(h.client_reason, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL);
}

// --- session resumption -----------------------------------------------------

// A full handshake on `server_ctx`; returns the session the client keeps.
SessionPtr first_session(SSL_CTX* client_ctx, SSL_CTX* server_ctx) {
  Handshake h(client_ctx, server_ctx);
  if (!h.run() || !h.exchange()) return nullptr;
  return SessionPtr(SSL_get1_session(h.client()));
}

// Whether `session` resumes on `server_ctx`; `renewed` gets the client's
// session after the handshake.
bool resumes(SSL_CTX* client_ctx, SSL_CTX* server_ctx, SSL_SESSION* session,
             SessionPtr* renewed = nullptr) {
  Handshake h(client_ctx, server_ctx);
  SSL_set_session(h.client(), session);
  if (!h.run() || !h.exchange()) return false;
  if (renewed) renewed->reset(SSL_get1_session(h.client()));
  return SSL_session_reused(h.client()) == 1 &&
         SSL_session_reused(h.server()) == 1;
}

class ResumptionTest : public TlsContextTest,
                       public ::testing::WithParamInterface<int> {};

TEST_P(ResumptionTest, TicketResumesAcrossAReloadWithTheSameRing) {
  auto keys = std::make_shared<TicketKeys>(kHour);
  auto before = build(base_config(), keys);
  auto after = build(base_config(), keys);
  ASSERT_TRUE(before && after) << error_;
  auto ctx = client(GetParam());
  SessionPtr session = first_session(ctx.get(), before->default_context());
  ASSERT_TRUE(session);
  EXPECT_TRUE(SSL_SESSION_has_ticket(session.get()));
  EXPECT_TRUE(resumes(ctx.get(), after->default_context(), session.get()));

  // A ring of another process (another generation without the shared
  // ring) cannot read the ticket: a full handshake.
  auto stranger = build(base_config(), std::make_shared<TicketKeys>(kHour));
  ASSERT_TRUE(stranger) << error_;
  EXPECT_FALSE(resumes(ctx.get(), stranger->default_context(), session.get()));
}

TEST_P(ResumptionTest, PreviousKeyIsAcceptedForOneRotationOnly) {
  auto now = std::make_shared<std::atomic<uint64_t>>(5);
  auto keys =
      std::make_shared<TicketKeys>(kHour, [now] { return now->load(); });
  auto set = build(base_config(), keys);
  ASSERT_TRUE(set) << error_;
  auto ctx = client(GetParam());
  SessionPtr issued = first_session(ctx.get(), set->default_context());
  ASSERT_TRUE(issued);

  now->store(5 + kHour + 1);  // one rotation: the issuing key is previous
  SessionPtr renewed;
  EXPECT_TRUE(
      resumes(ctx.get(), set->default_context(), issued.get(), &renewed));
  ASSERT_TRUE(renewed);

  now->store(5 + 2 * kHour + 1);  // two rotations: the issuing key is gone
  EXPECT_FALSE(resumes(ctx.get(), set->default_context(), issued.get()));
  // The ticket renewed under the then-current key still resumes.
  EXPECT_TRUE(resumes(ctx.get(), set->default_context(), renewed.get()));
}

TEST_P(ResumptionTest, IdleForTwoRotationsForgetsBothKeys) {
  auto now = std::make_shared<std::atomic<uint64_t>>(0);
  auto keys =
      std::make_shared<TicketKeys>(kHour, [now] { return now->load(); });
  auto set = build(base_config(), keys);
  ASSERT_TRUE(set) << error_;
  auto ctx = client(GetParam());
  SessionPtr issued = first_session(ctx.get(), set->default_context());
  ASSERT_TRUE(issued);
  // No ticket operation in between: the ring rotates twice at once.
  now->store(2 * kHour + 1);
  EXPECT_FALSE(resumes(ctx.get(), set->default_context(), issued.get()));
}

TEST_P(ResumptionTest, ResumedConnectionLeavesTheClientAResumableSession) {
  // TLS 1.3 clients use a ticket once: a resumption must bring a new one,
  // or every other connection is a full handshake. TLS 1.2 keeps reusing.
  auto set = build(base_config());
  ASSERT_TRUE(set) << error_;
  auto ctx = client(GetParam());
  SessionPtr session = first_session(ctx.get(), set->default_context());
  ASSERT_TRUE(session);
  for (int i = 0; i < 3; ++i) {
    SessionPtr next;
    ASSERT_TRUE(
        resumes(ctx.get(), set->default_context(), session.get(), &next))
        << "resumption " << i;
    ASSERT_TRUE(next);
    EXPECT_TRUE(SSL_SESSION_is_resumable(next.get())) << i;
    session = std::move(next);
  }
}

TEST_P(ResumptionTest, TicketsOffIssueNoTicket) {
  Config c = base_config();
  c.tls_session_tickets = false;
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  auto ctx = client(GetParam());
  SessionPtr session = first_session(ctx.get(), set->default_context());
  ASSERT_TRUE(session);
  EXPECT_FALSE(SSL_SESSION_has_ticket(session.get()));
  if (GetParam() == TLS1_3_VERSION) {
    // No NewSessionTicket: nothing to resume with.
    EXPECT_FALSE(SSL_SESSION_is_resumable(session.get()));
  } else {
    // TLS 1.2 keeps session-ID resumption from the in-process cache.
    EXPECT_TRUE(resumes(ctx.get(), set->default_context(), session.get()));
  }
}

INSTANTIATE_TEST_SUITE_P(Versions, ResumptionTest,
                         ::testing::Values(TLS1_3_VERSION, TLS1_2_VERSION),
                         [](const auto& info) {
                           return info.param == TLS1_3_VERSION
                                      ? std::string("Tls13")
                                      : std::string("Tls12");
                         });

TEST_F(TlsContextTest, TicketsResumeFromManyThreadsAtOnce) {
  // The ticket callback runs on every worker thread against one ring.
  auto keys = std::make_shared<TicketKeys>(kHour);
  auto set = build(base_config(), keys);
  ASSERT_TRUE(set) << error_;
  std::atomic<int> resumed{0};
  const int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto ctx = client();
      SessionPtr s = first_session(ctx.get(), set->default_context());
      for (int i = 0; s && i < 10; ++i) {
        SessionPtr next;
        if (resumes(ctx.get(), set->default_context(), s.get(), &next)) {
          ++resumed;
        }
        if (next) s = std::move(next);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(resumed.load(), 40);
}

// --- client certificates ----------------------------------------------------

class ClientAuthTest : public TlsContextTest {
 protected:
  std::shared_ptr<const ContextSet> build_auth(TlsClientAuth mode) {
    Config c = base_config();
    c.tls_client_ca = pki().pki.ca_cert();
    c.tls_client_auth = mode;
    return build(c);
  }
  SslCtxPtr client_with(const CertFiles* cert) const {
    ClientOptions o;
    o.ca_file = pki().pki.ca_cert();
    if (cert) {
      o.cert_file = cert->cert_path;
      o.key_file = cert->key_path;
    }
    return make_client_ctx(o);
  }
};

TEST_F(ClientAuthTest, RequiredNeedsACertificateFromTheCa) {
  auto set = build_auth(TlsClientAuth::Required);
  ASSERT_TRUE(set) << error_;
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    {
      auto ctx = client_with(nullptr);
      SSL_CTX_set_max_proto_version(ctx.get(), version);
      Handshake h(ctx.get(), set->default_context());
      h.run();
      EXPECT_TRUE(h.server_failed) << version;
    }
    {
      auto ctx = client_with(&pki().client);
      SSL_CTX_set_max_proto_version(ctx.get(), version);
      Handshake h(ctx.get(), set->default_context());
      ASSERT_TRUE(h.run()) << version;
      EXPECT_EQ(SSL_get_verify_result(h.server()), X509_V_OK);
      EXPECT_NE(SSL_get0_peer_certificate(h.server()), nullptr);
    }
    {
      auto ctx = client_with(&pki().stranger);
      SSL_CTX_set_max_proto_version(ctx.get(), version);
      Handshake h(ctx.get(), set->default_context());
      h.run();
      EXPECT_TRUE(h.server_failed) << version;
    }
  }
}

TEST_F(ClientAuthTest, OptionalReportsABadChainWithoutFailing) {
  auto set = build_auth(TlsClientAuth::Optional);
  ASSERT_TRUE(set) << error_;
  {
    auto ctx = client_with(&pki().stranger);
    Handshake h(ctx.get(), set->default_context());
    ASSERT_TRUE(h.run());
    ASSERT_TRUE(h.exchange());
    EXPECT_NE(SSL_get0_peer_certificate(h.server()), nullptr);
    EXPECT_NE(SSL_get_verify_result(h.server()), X509_V_OK);
  }
  {
    auto ctx = client_with(&pki().client);
    Handshake h(ctx.get(), set->default_context());
    ASSERT_TRUE(h.run());
    EXPECT_EQ(SSL_get_verify_result(h.server()), X509_V_OK);
  }
  {
    auto ctx = client_with(nullptr);
    Handshake h(ctx.get(), set->default_context());
    ASSERT_TRUE(h.run());
    ASSERT_TRUE(h.exchange());
    EXPECT_EQ(SSL_get0_peer_certificate(h.server()), nullptr);
  }
}

TEST_F(ClientAuthTest, ServerSendsTheCaNamesAndAppliesThemUnderSni) {
  auto set = build_auth(TlsClientAuth::Required);
  ASSERT_TRUE(set) << error_;
  auto ctx = client_with(&pki().stranger);
  Handshake h(ctx.get(), set->default_context());
  SSL_set_tlsext_host_name(h.client(), "a.wild.test");
  h.run();
  EXPECT_TRUE(h.server_failed);  // the SNI context verifies too

  auto good = client_with(&pki().client);
  Handshake ok(good.get(), set->default_context());
  SSL_set_tlsext_host_name(ok.client(), "a.wild.test");
  ASSERT_TRUE(ok.run());
  EXPECT_EQ(served_serial(ok.client()), 0x1004);
  const STACK_OF(X509_NAME)* names = SSL_get0_peer_CA_list(ok.client());
  ASSERT_NE(names, nullptr);
  EXPECT_EQ(sk_X509_NAME_num(names), 1);
}

TEST_F(ClientAuthTest, ChangedClientCaDoesNotResumeOldSessions) {
  auto keys = std::make_shared<TicketKeys>(kHour);
  Config c = base_config();
  c.tls_client_ca = pki().pki.ca_cert();
  c.tls_client_auth = TlsClientAuth::Optional;
  auto before = build(c, keys);
  c.tls_client_ca = pki().pki.other_ca_cert();
  auto after = build(c, keys);
  ASSERT_TRUE(before && after) << error_;
  auto ctx = client_with(&pki().client);
  SessionPtr session = first_session(ctx.get(), before->default_context());
  ASSERT_TRUE(session);
  EXPECT_TRUE(resumes(ctx.get(), before->default_context(), session.get()));
  EXPECT_FALSE(resumes(ctx.get(), after->default_context(), session.get()));
}

// --- OCSP stapling ----------------------------------------------------------

std::string stapled(SSL* client) {
  const unsigned char* p = nullptr;
  const long n = SSL_get_tlsext_status_ocsp_resp(client, &p);
  if (n <= 0 || p == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(n));
}

TEST_F(TlsContextTest, StaplesTheResponseOfTheSelectedCertificate) {
  Config c = base_config();
  c.tls_ocsp = {pki().ecdsa_ocsp, pki().rsa_ocsp};
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  EXPECT_TRUE(warnings_.empty());
  auto ctx = client();
  struct {
    const char* sigalgs;
    std::string expected;
  } cases[] = {{"ecdsa_secp256r1_sha256", read_bytes(pki().ecdsa_ocsp)},
               {"rsa_pss_rsae_sha256", read_bytes(pki().rsa_ocsp)}};
  for (const auto& k : cases) {
    Handshake h(ctx.get(), set->default_context());
    SSL_set1_sigalgs_list(h.client(), k.sigalgs);
    SSL_set_tlsext_status_type(h.client(), TLSEXT_STATUSTYPE_ocsp);
    ASSERT_TRUE(h.run());
    EXPECT_FALSE(k.expected.empty());
    EXPECT_EQ(stapled(h.client()), k.expected) << k.sigalgs;
  }
  {
    // An SNI set without a response staples nothing.
    Handshake h(ctx.get(), set->default_context());
    SSL_set_tlsext_host_name(h.client(), "exact.example.test");
    SSL_set_tlsext_status_type(h.client(), TLSEXT_STATUSTYPE_ocsp);
    ASSERT_TRUE(h.run());
    EXPECT_EQ(stapled(h.client()), "");
  }
}

TEST_F(TlsContextTest, OcspResponseForAnotherCertificateIsAnError) {
  Config c = base_config();
  c.tls_ocsp = {pki().rsa_ocsp};  // pairs with the ECDSA certificate
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_, pki().rsa_ocsp +
                        ": OCSP response is not for the certificate " +
                        pki().ecdsa.cert_path);

  c.tls_ocsp = {pki().ecdsa.cert_path};  // PEM, not a DER response
  EXPECT_FALSE(build(c));
  EXPECT_EQ(error_, pki().ecdsa.cert_path + ": not a DER OCSP response");
}

TEST_F(TlsContextTest, EmptyOcspEntryMeansNone) {
  Config c = base_config();
  c.tls_ocsp = {"", pki().rsa_ocsp};
  auto set = build(c);
  ASSERT_TRUE(set) << error_;
  auto ctx = client();
  Handshake h(ctx.get(), set->default_context());
  SSL_set1_sigalgs_list(h.client(), "ecdsa_secp256r1_sha256");
  SSL_set_tlsext_status_type(h.client(), TLSEXT_STATUSTYPE_ocsp);
  ASSERT_TRUE(h.run());
  EXPECT_EQ(stapled(h.client()), "");
}

// --- lifetime ---------------------------------------------------------------

TEST_F(TlsContextTest, SetOutlivesItsConfigurationAndFreesOnRelease) {
  std::weak_ptr<const ContextSet> weak;
  {
    auto set = build(base_config());
    ASSERT_TRUE(set) << error_;
    weak = set;
    auto ctx = client();
    Handshake h(ctx.get(), set->default_context());
    ASSERT_TRUE(h.run());
  }
  EXPECT_TRUE(weak.expired());  // ASan reports any SSL_CTX leaked
}

}  // namespace
}  // namespace pounce::test
