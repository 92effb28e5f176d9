// What request_tls reports (issue 12 §4): tls::describe() on real handshakes
// between two in-memory SSL objects, fill_abi()'s sized writes, and the
// host's request_tls on cleartext, TLS, and an out-of-memory source.
// Certificates are made at run time with the openssl command (never
// committed): a CA, a server certificate, a client certificate the CA
// signed, and one an unknown CA signed.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "plugin/host_api.h"
#include "plugin/request_response.h"
#include "tls/session_info.h"

namespace {

namespace fs = std::filesystem;
using pounce::tls::describe;
using pounce::tls::SessionInfo;

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char buf[512];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) out = "FAILED: " + cmd;
  return out;
}

// The certificates of the whole suite, made once.
class Certs {
 public:
  static const Certs& get() {
    static Certs certs;
    return certs;
  }
  std::string dir;
  bool ok = false;
  std::string path(const char* name) const { return dir + "/" + name; }

 private:
  Certs() {
    char tmpl[] = "/tmp/pounce-tls-info-XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    const std::string d = dir + "/";
    const std::string ec =
        " -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    auto ca = [&](const std::string& name, const std::string& cn) {
      return run("openssl req -x509" + ec + " -keyout " + d + name +
                 ".key -out " + d + name + ".pem -days 2 -subj '/CN=" + cn +
                 "'");
    };
    // A leaf signed by `ca`, with `serial` and a SAN when given.
    auto leaf = [&](const std::string& name, const std::string& subj,
                    const std::string& ca_name, const std::string& serial,
                    const std::string& san) {
      std::string r =
          run("openssl req" + ec + " -keyout " + d + name + ".key -out " + d +
              name + ".csr -subj '" + subj + "'");
      std::string ext;
      if (!san.empty()) {
        FILE* f = fopen((d + name + ".ext").c_str(), "w");
        if (!f) return std::string("FAILED: ext");
        fprintf(f, "subjectAltName=%s\n", san.c_str());
        fclose(f);
        ext = " -extfile " + d + name + ".ext";
      }
      return r +
             run("openssl x509 -req -in " + d + name + ".csr -CA " + d +
                 ca_name + ".pem -CAkey " + d + ca_name + ".key -set_serial " +
                 serial + " -days 2 -out " + d + name + ".pem" + ext);
    };
    // One after the other: the leaves need their CA's files.
    std::string all = ca("ca", "Pounce Test CA");
    all += ca("other-ca", "Unknown CA");
    all += leaf("server", "/CN=localhost", "ca", "0x01",
                "DNS:localhost,DNS:api.example.test");
    all += leaf("alice", "/O=Example, Inc./CN=alice", "ca", "0x1A2B3C4D5E", "");
    all += leaf("mallory", "/CN=mallory", "other-ca", "0x0BAD", "");
    ok = all.find("FAILED") == std::string::npos;
    if (!ok) fprintf(stderr, "%s\n", all.c_str());
  }
  ~Certs() {
    if (!dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

// "sha256 Fingerprint=AB:CD:..." as the lower-case hex request_tls uses.
std::string openssl_fingerprint(const std::string& pem) {
  std::string out =
      run("openssl x509 -in " + pem + " -noout -fingerprint -sha256");
  std::string hex;
  for (char c : out.substr(out.find('=') + 1)) {
    if (isxdigit(static_cast<unsigned char>(c))) {
      hex += static_cast<char>(tolower(static_cast<unsigned char>(c)));
    }
  }
  return hex;
}

// A client offering "h2" and "http/1.1": the server picks http/1.1, the one
// protocol it speaks.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                const unsigned char* in, unsigned int inlen, void*) {
  static const unsigned char kWant[] = "\x08http/1.1";
  unsigned char* sel = nullptr;
  if (SSL_select_next_proto(&sel, outlen, kWant, sizeof kWant - 1, in, inlen) !=
      OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  *out = sel;
  return SSL_TLSEXT_ERR_OK;
}

// --tls-client-auth optional: any chain completes the handshake, and the
// verify result carries the verdict.
int accept_any(int, X509_STORE_CTX*) {
  return 1;
}

struct Handshake {
  SSL* server = nullptr;
  SSL* client = nullptr;
  // A connection that ends without close_notify marks its session
  // unresumable (OpenSSL's rule against truncation attacks).
  ~Handshake() {
    if (client) SSL_shutdown(client);
    if (server) SSL_shutdown(server);
    SSL_free(server);
    SSL_free(client);
  }
};

class TlsSessionInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    const Certs& c = Certs::get();
    ASSERT_TRUE(c.ok) << "the openssl command could not make certificates";
    server_ctx_ = SSL_CTX_new(TLS_server_method());
    ASSERT_TRUE(server_ctx_);
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_,
                                                 c.path("server.pem").c_str()),
              1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(
                  server_ctx_, c.path("server.key").c_str(), SSL_FILETYPE_PEM),
              1);
    ASSERT_EQ(SSL_CTX_load_verify_locations(server_ctx_,
                                            c.path("ca.pem").c_str(), nullptr),
              1);
    SSL_CTX_set_verify(server_ctx_, SSL_VERIFY_PEER, accept_any);
    static const unsigned char kCtx[] = "pounce-test";
    SSL_CTX_set_session_id_context(server_ctx_, kCtx, sizeof kCtx - 1);
    SSL_CTX_set_alpn_select_cb(server_ctx_, select_alpn, nullptr);
  }
  void TearDown() override {
    SSL_SESSION_free(session_);
    SSL_CTX_free(server_ctx_);
    SSL_CTX_free(client_ctx_);
  }

  // A client context presenting `cert` ("" for none), at most `max_version`.
  void make_client(const std::string& cert, int max_version = 0) {
    const Certs& c = Certs::get();
    SSL_CTX_free(client_ctx_);
    client_ctx_ = SSL_CTX_new(TLS_client_method());
    ASSERT_TRUE(client_ctx_);
    if (max_version) SSL_CTX_set_max_proto_version(client_ctx_, max_version);
    SSL_CTX_set_session_cache_mode(client_ctx_, SSL_SESS_CACHE_CLIENT);
    if (!cert.empty()) {
      ASSERT_EQ(SSL_CTX_use_certificate_file(
                    client_ctx_, c.path((cert + ".pem").c_str()).c_str(),
                    SSL_FILETYPE_PEM),
                1);
      ASSERT_EQ(SSL_CTX_use_PrivateKey_file(
                    client_ctx_, c.path((cert + ".key").c_str()).c_str(),
                    SSL_FILETYPE_PEM),
                1);
    }
  }

  // Runs a handshake through a BIO pair, then one byte from the server to
  // the client (which makes the client read a TLS 1.3 ticket). Keeps the
  // client's session for a later resumption.
  void connect(Handshake* h, const char* sni, bool offer_alpn,
               SSL_SESSION* resume = nullptr) {
    h->server = SSL_new(server_ctx_);
    h->client = SSL_new(client_ctx_);
    ASSERT_TRUE(h->server && h->client);
    BIO* sb = nullptr;
    BIO* cb = nullptr;
    ASSERT_EQ(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
    SSL_set_bio(h->server, sb, sb);
    SSL_set_bio(h->client, cb, cb);
    SSL_set_accept_state(h->server);
    SSL_set_connect_state(h->client);
    if (sni) SSL_set_tlsext_host_name(h->client, sni);
    if (offer_alpn) {
      static const unsigned char kOffer[] = "\x02h2\x08http/1.1";
      SSL_set_alpn_protos(h->client, kOffer, sizeof kOffer - 1);
    }
    if (resume) SSL_set_session(h->client, resume);
    bool server_done = false, client_done = false;
    for (int i = 0; i < 50 && !(server_done && client_done); ++i) {
      if (!client_done) {
        int rc = SSL_do_handshake(h->client);
        client_done = rc == 1;
        int err = SSL_get_error(h->client, rc);
        ASSERT_TRUE(rc == 1 || err == SSL_ERROR_WANT_READ ||
                    err == SSL_ERROR_WANT_WRITE)
            << "client handshake error " << err;
      }
      if (!server_done) {
        int rc = SSL_do_handshake(h->server);
        server_done = rc == 1;
        int err = SSL_get_error(h->server, rc);
        ASSERT_TRUE(rc == 1 || err == SSL_ERROR_WANT_READ ||
                    err == SSL_ERROR_WANT_WRITE)
            << "server handshake error " << err;
      }
    }
    ASSERT_TRUE(server_done && client_done);
    ASSERT_EQ(SSL_write(h->server, "x", 1), 1);
    char byte = 0;
    ASSERT_EQ(SSL_read(h->client, &byte, 1), 1);
    SSL_SESSION_free(session_);
    session_ = SSL_get1_session(h->client);
  }

  SSL_CTX* server_ctx_ = nullptr;
  SSL_CTX* client_ctx_ = nullptr;
  SSL_SESSION* session_ = nullptr;
};

TEST_F(TlsSessionInfo, AFullTls13HandshakeWithoutAClientCertificate) {
  make_client("");
  Handshake h;
  connect(&h, nullptr, false);
  auto info = describe(h.server);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->version, "TLSv1.3");
  EXPECT_EQ(info->cipher,
            SSL_CIPHER_get_name(SSL_get_current_cipher(h.client)));
  EXPECT_EQ(info->cipher.rfind("TLS_", 0), 0u) << info->cipher;
  EXPECT_EQ(info->sni, "");
  EXPECT_EQ(info->alpn, "");
  EXPECT_FALSE(info->resumed);
  EXPECT_FALSE(info->has_client_cert);
  EXPECT_EQ(info->subject, "");
  EXPECT_EQ(info->verify_result, 0);
}

TEST_F(TlsSessionInfo, Tls12ReportsItsVersionAndCipherName) {
  make_client("", TLS1_2_VERSION);
  Handshake h;
  connect(&h, nullptr, false);
  auto info = describe(h.server);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->version, "TLSv1.2");
  // OpenSSL's name of a TLS 1.2 ECDHE suite, as the access log prints it.
  EXPECT_NE(info->cipher.find("ECDHE-ECDSA-"), std::string::npos)
      << info->cipher;
}

TEST_F(TlsSessionInfo, SniAndAlpnAreWhatTheClientAskedForAndGot) {
  make_client("");
  Handshake h;
  connect(&h, "api.example.test", true);
  auto info = describe(h.server);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->sni, "api.example.test");
  EXPECT_EQ(info->alpn, "http/1.1");
}

TEST_F(TlsSessionInfo, AClientCertificateTheCaSignedVerifies) {
  make_client("alice");
  Handshake h;
  connect(&h, nullptr, false);
  auto info = describe(h.server);
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->has_client_cert);
  EXPECT_EQ(info->subject, "CN=alice,O=Example\\, Inc.");
  EXPECT_EQ(info->issuer, "CN=Pounce Test CA");
  EXPECT_EQ(info->serial, "1A2B3C4D5E");
  const std::string fp = openssl_fingerprint(Certs::get().path("alice.pem"));
  ASSERT_EQ(fp.size(), 64u);
  EXPECT_EQ(info->sha256, fp);
  EXPECT_EQ(info->verify_result, X509_V_OK);
  EXPECT_EQ(info->verify_text, "ok");
}

TEST_F(TlsSessionInfo, AnUntrustedClientCertificateCarriesTheVerifyError) {
  make_client("mallory");
  Handshake h;
  connect(&h, nullptr, false);
  auto info = describe(h.server);
  ASSERT_TRUE(info);
  ASSERT_TRUE(info->has_client_cert);
  EXPECT_EQ(info->subject, "CN=mallory");
  EXPECT_EQ(info->issuer, "CN=Unknown CA");
  EXPECT_EQ(info->serial, "0BAD");
  EXPECT_EQ(info->verify_result, X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE);
  EXPECT_EQ(info->verify_text, X509_verify_cert_error_string(
                                   X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE));
}

// A resumed session reports resumed, and the client certificate (and its
// verdict) of the handshake it resumes: both live in the session.
TEST_F(TlsSessionInfo, AResumedSessionKeepsItsClientCertificate) {
  make_client("alice");
  {
    Handshake first;
    connect(&first, "api.example.test", true);
    auto info = describe(first.server);
    ASSERT_TRUE(info);
    EXPECT_FALSE(info->resumed);
  }
  ASSERT_TRUE(session_);
  SSL_SESSION* saved = SSL_SESSION_dup(session_);
  Handshake second;
  connect(&second, "api.example.test", true, saved);
  SSL_SESSION_free(saved);
  auto info = describe(second.server);
  ASSERT_TRUE(info);
  EXPECT_TRUE(info->resumed);
  EXPECT_EQ(info->version, "TLSv1.3");
  EXPECT_EQ(info->sni, "api.example.test");
  EXPECT_EQ(info->alpn, "http/1.1");
  ASSERT_TRUE(info->has_client_cert);
  EXPECT_EQ(info->subject, "CN=alice,O=Example\\, Inc.");
  EXPECT_EQ(info->serial, "1A2B3C4D5E");
  EXPECT_EQ(info->verify_result, X509_V_OK);
}

TEST_F(TlsSessionInfo, ATls12SessionResumes) {
  make_client("", TLS1_2_VERSION);
  {
    Handshake first;
    connect(&first, nullptr, false);
  }
  ASSERT_TRUE(session_);
  SSL_SESSION* saved = SSL_SESSION_dup(session_);
  Handshake second;
  connect(&second, nullptr, false, saved);
  SSL_SESSION_free(saved);
  auto info = describe(second.server);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->version, "TLSv1.2");
  EXPECT_TRUE(info->resumed);
}

// ---- fill_abi and request_tls ----

SessionInfo sample() {
  SessionInfo s;
  s.version = "TLSv1.3";
  s.cipher = "TLS_AES_128_GCM_SHA256";
  s.sni = "api.example.test";
  s.alpn = "http/1.1";
  s.resumed = true;
  s.has_client_cert = true;
  s.subject = "CN=alice";
  s.issuer = "CN=Pounce Test CA";
  s.serial = "1A2B";
  s.sha256 = std::string(64, 'a');
  s.verify_result = 20;
  s.verify_text = "unable to get local issuer certificate";
  return s;
}

std::string_view sv(pounce_str_t s) {
  return s.data ? std::string_view(s.data, s.len) : std::string_view();
}

TEST(TlsFillAbi, AFullSizeStructGetsEveryField) {
  const SessionInfo s = sample();
  pounce_tls_info_t out;
  memset(&out, 0xAB, sizeof out);
  out.size = sizeof out;
  pounce::tls::fill_abi(s, &out);
  EXPECT_EQ(out.size, sizeof out);
  EXPECT_EQ(out.resumed, 1);
  EXPECT_EQ(sv(out.version), "TLSv1.3");
  EXPECT_EQ(sv(out.cipher), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(sv(out.sni), "api.example.test");
  EXPECT_EQ(sv(out.alpn), "http/1.1");
  EXPECT_EQ(out.client_cert, 1);
  EXPECT_EQ(out.verify_result, 20);
  EXPECT_EQ(sv(out.client_subject), "CN=alice");
  EXPECT_EQ(sv(out.client_issuer), "CN=Pounce Test CA");
  EXPECT_EQ(sv(out.client_serial), "1A2B");
  EXPECT_EQ(sv(out.client_sha256), std::string(64, 'a'));
  EXPECT_EQ(sv(out.verify_text), "unable to get local issuer certificate");
  // pounce.h promises NUL-terminated bytes too.
  EXPECT_EQ(out.version.data[out.version.len], '\0');
  EXPECT_EQ(out.client_subject.data[out.client_subject.len], '\0');
}

TEST(TlsFillAbi, AbsentStringsAreNullAndClientFieldsEmptyWithoutACert) {
  SessionInfo s = sample();
  s.sni.clear();
  s.alpn.clear();
  s.has_client_cert = false;  // the other client fields must not leak out
  pounce_tls_info_t out;
  memset(&out, 0xAB, sizeof out);
  out.size = sizeof out;
  pounce::tls::fill_abi(s, &out);
  EXPECT_EQ(out.sni.data, nullptr);
  EXPECT_EQ(out.sni.len, 0u);
  EXPECT_EQ(out.alpn.data, nullptr);
  EXPECT_EQ(out.client_cert, 0);
  EXPECT_EQ(out.verify_result, 0);
  EXPECT_EQ(out.client_subject.data, nullptr);
  EXPECT_EQ(out.client_sha256.data, nullptr);
  EXPECT_EQ(out.verify_text.data, nullptr);
}

// A plugin built against an older, smaller struct gets only its own
// fields: nothing past its size is written, not even a field that would
// start inside it.
TEST(TlsFillAbi, ASmallerStructGetsOnlyTheFieldsItHas) {
  const SessionInfo s = sample();
  struct {
    pounce_tls_info_t info;
    unsigned char guard[16];
  } buf;
  const uint32_t sizes[] = {
      static_cast<uint32_t>(offsetof(pounce_tls_info_t, client_cert)),
      static_cast<uint32_t>(offsetof(pounce_tls_info_t, cipher) + 4),
      static_cast<uint32_t>(sizeof(uint32_t)),
  };
  for (uint32_t size : sizes) {
    memset(&buf, 0xAB, sizeof buf);
    buf.info.size = size;
    pounce::tls::fill_abi(s, &buf.info);
    const unsigned char* bytes = reinterpret_cast<const unsigned char*>(&buf);
    for (size_t i = size; i < sizeof buf; ++i) {
      ASSERT_EQ(bytes[i], 0xAB) << "byte " << i << " written, size " << size;
    }
    if (size >= offsetof(pounce_tls_info_t, client_cert)) {
      EXPECT_EQ(sv(buf.info.version), "TLSv1.3");
      EXPECT_EQ(sv(buf.info.alpn), "http/1.1");
      EXPECT_EQ(buf.info.resumed, 1);
    } else if (size > offsetof(pounce_tls_info_t, cipher)) {
      EXPECT_EQ(sv(buf.info.version), "TLSv1.3");
    }
  }
}

class RequestTls : public ::testing::Test {
 protected:
  int call(pounce_request* req, pounce_tls_info_t* out) {
    const pounce_host_api_t* host = pounce::host_api();
    EXPECT_TRUE(POUNCE_HOST_HAS(host, request_tls));
    return host->request_tls(req, out);
  }
};

TEST_F(RequestTls, CleartextAnswers0WithEveryFieldEmpty) {
  pounce_request req;
  pounce_tls_info_t out;
  memset(&out, 0xAB, sizeof out);
  out.size = sizeof out;
  EXPECT_EQ(call(&req, &out), 0);
  EXPECT_EQ(out.version.data, nullptr);
  EXPECT_EQ(out.cipher.data, nullptr);
  EXPECT_EQ(out.sni.data, nullptr);
  EXPECT_EQ(out.alpn.data, nullptr);
  EXPECT_EQ(out.client_subject.data, nullptr);
  EXPECT_EQ(out.verify_text.data, nullptr);
  EXPECT_EQ(out.resumed, 0);
  EXPECT_EQ(out.client_cert, 0);
  EXPECT_EQ(out.verify_result, 0);
}

TEST_F(RequestTls, ATlsConnectionAnswers1WithItsSnapshot) {
  pounce::tls::InfoSnapshot snap(std::make_shared<SessionInfo>(sample()));
  pounce_request req;
  req.tls = &snap;
  pounce_tls_info_t out{};
  out.size = sizeof out;
  EXPECT_EQ(call(&req, &out), 1);
  EXPECT_EQ(sv(out.version), "TLSv1.3");
  EXPECT_EQ(sv(out.client_serial), "1A2B");
}

TEST_F(RequestTls, BadArgumentsAreInvalidAndWriteNothing) {
  pounce_request req;
  pounce_tls_info_t out;
  memset(&out, 0xAB, sizeof out);
  out.size = 2;  // not even `size` itself
  EXPECT_EQ(call(&req, &out), POUNCE_ERR_INVALID);
  EXPECT_EQ(out.resumed, static_cast<int32_t>(0xABABABAB));
  out.size = sizeof out;
  EXPECT_EQ(call(nullptr, &out), POUNCE_ERR_INVALID);
  EXPECT_EQ(call(&req, nullptr), POUNCE_ERR_INVALID);
}

TEST_F(RequestTls, ASourceThatCouldNotReadTheSessionIsOutOfMemory) {
  pounce::tls::InfoSnapshot empty;
  pounce_request req;
  req.tls = &empty;
  pounce_tls_info_t out;
  memset(&out, 0xAB, sizeof out);
  out.size = sizeof out;
  EXPECT_EQ(call(&req, &out), POUNCE_ERR_NOMEM);
  EXPECT_EQ(out.version.data, nullptr);
}

}  // namespace
