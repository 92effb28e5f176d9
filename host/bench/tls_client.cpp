#include "bench/tls_client.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace pounce::bench {

namespace {

// Browsers' TLS 1.3 order (AES-128-GCM first): what a server mostly pays
// for in production, and the cheapest suite for the client too.
constexpr char kCipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
    "TLS_CHACHA20_POLY1305_SHA256";
// TLS 1.2 (--tls-version 1.2): forward-secret AEAD suites for ECDSA and RSA
// certificates, the "intermediate" profile's first choices.
constexpr char kCiphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// ALPN: HTTP/1.1 only, in wire format.
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

std::string drain_errors(const char* what) {
  std::string text = what;
  unsigned long e;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    text += first ? ": " : "; ";
    text += buf;
    first = false;
  }
  return text;
}

std::string hex(const unsigned char* p, unsigned n) {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += kHex[p[i] >> 4];
    out += kHex[p[i] & 15];
  }
  return out;
}

// ---- A BIO over the connection's buffers ----
//
// Input is the slice the socket just read, consumed in place (no copy into
// a BIO of its own); output is appended to a string that the connection
// hands to its write path, cleared without a memset (a memory BIO's reset
// wipes its whole buffer every time).

int slice_write(BIO* b, const char* data, int len) {
  auto* s = static_cast<TlsBioSlice*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  s->out->append(data, static_cast<size_t>(len));
  return len;
}

int slice_read(BIO* b, char* data, int len) {
  auto* s = static_cast<TlsBioSlice*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (s->len == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  size_t n = std::min(s->len, static_cast<size_t>(len));
  memcpy(data, s->data, n);
  s->data += n;
  s->len -= n;
  return static_cast<int>(n);
}

long slice_ctrl(BIO* b, int cmd, long, void*) {
  auto* s = static_cast<TlsBioSlice*>(BIO_get_data(b));
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // output is in memory already
    case BIO_CTRL_PENDING:
      return s ? static_cast<long>(s->len) : 0;
    case BIO_CTRL_WPENDING:
      return 0;
    default:
      return 0;
  }
}

int slice_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* slice_method() {
  // Built once, then read-only: shared by every thread.
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "pounce-bench slice");
    BIO_meth_set_write(m, slice_write);
    BIO_meth_set_read(m, slice_read);
    BIO_meth_set_ctrl(m, slice_ctrl);
    BIO_meth_set_create(m, slice_create);
    return m;
  }();
  return method;
}

}  // namespace

int tls_version_from_text(std::string_view text) {
  if (text == "1.2") return TLS1_2_VERSION;
  if (text == "1.3") return TLS1_3_VERSION;
  return 0;
}

// ---- TlsClientContext ----

std::unique_ptr<TlsClientContext> TlsClientContext::create(
    const TlsClientOptions& options, std::string* error) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) {
    *error = drain_errors("SSL_CTX_new");
    return nullptr;
  }
  // The figures are for one named version, whatever both sides could do.
  bool ok = SSL_CTX_set_min_proto_version(ctx, options.version) == 1 &&
            SSL_CTX_set_max_proto_version(ctx, options.version) == 1 &&
            SSL_CTX_set_ciphersuites(ctx, kCipherSuites) == 1 &&
            SSL_CTX_set_cipher_list(ctx, kCiphers12) == 1 &&
            SSL_CTX_set_alpn_protos(ctx, kAlpn, sizeof kAlpn) == 0;
  if (!ok) {
    *error = drain_errors("configuring the client SSL_CTX");
    SSL_CTX_free(ctx);
    return nullptr;
  }
  // The certificate is the run's own throwaway one (or, with --url, the
  // user's): the load generator measures, it does not authenticate. The
  // run records the server certificate's fingerprint instead.
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  // Fewer, larger reads from the BIO: whole records per call.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (options.resume) {
    // No shared cache: each connection keeps its own newest session, as a
    // browser tab reconnecting to one origin would.
    SSL_CTX_set_session_cache_mode(
        ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &TlsStream::on_new_session_cb);
  } else {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  }
  return std::unique_ptr<TlsClientContext>(new TlsClientContext(ctx, options));
}

TlsClientContext::~TlsClientContext() {
  SSL_CTX_free(ctx_);
}

// ---- TlsStream ----

TlsStream::~TlsStream() {
  release();
  if (saved_) SSL_SESSION_free(saved_);
}

void TlsStream::release() {
  if (!ssl_) return;
  // The load generator ends a connection by closing its socket, without a
  // close_notify of its own; OpenSSL would then mark the connection's
  // session not resumable when the SSL is freed, and --tls-resume would
  // never resume. The connection is over either way: say it shut down.
  SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
  ssl_ = nullptr;
}

int TlsStream::on_new_session_cb(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<TlsStream*>(SSL_get_app_data(ssl));
  if (!self) return 0;
  if (self->saved_) SSL_SESSION_free(self->saved_);
  self->saved_ = session;
  return 1;  // we keep the reference
}

bool TlsStream::begin(const TlsClientContext& context) {
  release();
  slice_ = {};
  out_.clear();
  error_.clear();
  SSL* ssl = SSL_new(context.get());
  BIO* bio = ssl ? BIO_new(slice_method()) : nullptr;
  if (!bio) {
    if (ssl) SSL_free(ssl);
    set_error("SSL_new");
    return false;
  }
  slice_.out = &out_;
  BIO_set_data(bio, &slice_);
  // One BIO for both directions: SSL_set_bio takes its one reference.
  SSL_set_bio(ssl, bio, bio);
  SSL_set_app_data(ssl, this);
  const TlsClientOptions& o = context.options();
  if (!o.sni.empty()) SSL_set_tlsext_host_name(ssl, o.sni.c_str());
  if (o.resume && saved_ && SSL_SESSION_is_resumable(saved_)) {
    SSL_set_session(ssl, saved_);
  }
  SSL_set_connect_state(ssl);
  ssl_ = ssl;
  return true;
}

void TlsStream::feed(const char* data, size_t len) {
  slice_.data = data;
  slice_.len = len;
}

TlsStream::Handshake TlsStream::handshake() {
  int r = SSL_do_handshake(ssl_);
  if (r == 1) return Handshake::Done;
  if (SSL_get_error(ssl_, r) == SSL_ERROR_WANT_READ) {
    return Handshake::InProgress;
  }
  set_error("handshake");
  return Handshake::Failed;
}

long TlsStream::read(char* buf, size_t cap) {
  int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(cap, INT_MAX)));
  if (n > 0) return n;
  switch (SSL_get_error(ssl_, n)) {
    case SSL_ERROR_WANT_READ:
      return kWantMore;
    case SSL_ERROR_ZERO_RETURN:
      return kClosed;
    default:
      set_error("read");
      return kError;
  }
}

bool TlsStream::write(const char* data, size_t len) {
  if (len > INT_MAX) return false;
  int n = SSL_write(ssl_, data, static_cast<int>(len));
  if (n == static_cast<int>(len)) return true;
  set_error("write");
  return false;
}

std::string_view TlsStream::output() const {
  return out_;
}

void TlsStream::consume_output() {
  out_.clear();  // keeps its capacity: no allocation per request
}

bool TlsStream::resumed() const {
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

TlsFacts TlsStream::facts() const {
  TlsFacts f;
  if (!ssl_) return f;
  f.version = SSL_get_version(ssl_);
  if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_)) {
    f.cipher = SSL_CIPHER_get_name(c);
  }
  int group = SSL_get_negotiated_group(ssl_);
  if (group > 0) {
    const char* name = SSL_group_to_name(ssl_, group);
    if (!name) name = OBJ_nid2sn(group);
    if (name) f.group = name;
  }
  if (X509* peer = SSL_get0_peer_certificate(ssl_)) {
    if (EVP_PKEY* key = X509_get0_pubkey(peer)) {
      const char* type = EVP_PKEY_get0_type_name(key);
      f.peer_key = type ? type : "?";
      char group_name[64];
      size_t len = 0;
      if (EVP_PKEY_get_group_name(key, group_name, sizeof group_name, &len) ==
          1) {
        f.peer_key += ' ';
        f.peer_key.append(group_name, len);
      } else {
        f.peer_key += ' ';
        f.peer_key += std::to_string(EVP_PKEY_get_bits(key));
        f.peer_key += " bits";
      }
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned md_len = 0;
    if (X509_digest(peer, EVP_sha256(), md, &md_len) == 1) {
      f.peer_cert_sha256 = hex(md, md_len);
    }
  }
  const unsigned char* alpn = nullptr;
  unsigned alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn) f.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  return f;
}

void TlsStream::set_error(const char* what) {
  error_ = drain_errors(what);
}

}  // namespace pounce::bench
