#include "tls/session.h"

#include <openssl/err.h>

#include <climits>
#include <cstring>

#include "tls/context_set.h"

namespace pounce::tls {

namespace {

// One method table for every session's BIO, made on first use (C++ makes
// the initialization thread-safe) and never freed.
BIO_METHOD* session_bio_method(int (*rd)(BIO*, char*, int),
                               int (*wr)(BIO*, const char*, int),
                               long (*ctrl)(BIO*, int, long, void*)) {
  static BIO_METHOD* method = [&] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "pounce-session");
    if (m) {
      BIO_meth_set_read(m, rd);
      BIO_meth_set_write(m, wr);
      BIO_meth_set_ctrl(m, ctrl);
    }
    return m;
  }();
  return method;
}

}  // namespace

std::unique_ptr<Session> Session::create(
    std::shared_ptr<const ContextSet> set) {
  std::unique_ptr<Session> s(new Session());
  BIO_METHOD* method = session_bio_method(bio_read, bio_write, bio_ctrl);
  if (!method || !set) return nullptr;
  s->ssl_ = SSL_new(set->default_context());
  if (!s->ssl_) return nullptr;
  BIO* bio = BIO_new(method);
  if (!bio) return nullptr;
  BIO_set_data(bio, s.get());
  BIO_set_init(bio, 1);
  SSL_set_bio(s->ssl_, bio, bio);  // one reference, used both ways
  SSL_set_accept_state(s->ssl_);
  s->set_ = std::move(set);
  return s;
}

Session::~Session() {
  if (!ssl_) return;
  if (!failed_ && handshake_done() && !shut_down_) {
    // Freed without SSL_shutdown, OpenSSL takes the session for a broken
    // one and drops it from the session-ID cache: a browser that just closes
    // its socket could not resume. A quiet shutdown sends nothing.
    SSL_set_quiet_shutdown(ssl_, 1);
    (void)SSL_shutdown(ssl_);
    ERR_clear_error();
  }
  SSL_free(ssl_);
}

void Session::feed(const char* data, size_t len) {
  lent_ = data;
  lent_len_ = len;
}

bool Session::keep_unread() {
  if (lent_len_ > 0) {
    if (kept_off_ > 0) {
      kept_.consume(kept_off_);
      kept_off_ = 0;
    }
    bool ok = kept_.append(lent_, lent_len_);
    lent_ = nullptr;
    lent_len_ = 0;
    if (!ok) return false;
  }
  lent_ = nullptr;
  return true;
}

bool Session::has_buffered_input() const {
  return lent_len_ > 0 || kept_off_ < kept_.size() ||
         (ssl_ && SSL_has_pending(ssl_));
}

int Session::bio_read(BIO* b, char* out, int len) {
  auto* s = static_cast<Session*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (len <= 0) return 0;
  size_t want = static_cast<size_t>(len);
  size_t got = 0;
  if (s->kept_off_ < s->kept_.size()) {
    // Kept bytes are older than the lent ones: they go first.
    size_t n = std::min(want, s->kept_.size() - s->kept_off_);
    memcpy(out, s->kept_.data() + s->kept_off_, n);
    s->kept_off_ += n;
    got += n;
    if (s->kept_off_ == s->kept_.size()) {
      s->kept_.release();  // idle connections keep nothing
      s->kept_off_ = 0;
    }
  }
  if (got < want && s->lent_len_ > 0) {
    size_t n = std::min(want - got, s->lent_len_);
    memcpy(out + got, s->lent_, n);
    s->lent_ += n;
    s->lent_len_ -= n;
    got += n;
  }
  if (got == 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  return static_cast<int>(got);
}

int Session::bio_write(BIO* b, const char* in, int len) {
  auto* s = static_cast<Session*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  // Every write happens inside read(), write() or shutdown(), which name
  // the buffer; one outside them would be a bug, and fails the session.
  if (!s->wire_ || len < 0 || !s->wire_->append(in, static_cast<size_t>(len))) {
    return -1;
  }
  return len;
}

long Session::bio_ctrl(BIO*, int cmd, long, void*) {
  switch (cmd) {
    case BIO_CTRL_FLUSH:
      return 1;  // the wire buffer is written by the connection
    case BIO_CTRL_PENDING:
    case BIO_CTRL_WPENDING:
      return 0;
    default:
      return 0;
  }
}

namespace {

// The reason an OpenSSL error `e` gives, sorted into HandshakeFailure.
HandshakeFailure classify(unsigned long e) {
  if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL) return HandshakeFailure::Other;
  const int reason = ERR_GET_REASON(e);
  // A fatal alert from the peer: SSL_AD_REASON_OFFSET + its code.
  if (reason > SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
    switch (reason - SSL_AD_REASON_OFFSET) {
      case SSL_AD_BAD_CERTIFICATE:
      case SSL_AD_UNSUPPORTED_CERTIFICATE:
      case SSL_AD_CERTIFICATE_REVOKED:
      case SSL_AD_CERTIFICATE_EXPIRED:
      case SSL_AD_CERTIFICATE_UNKNOWN:
      case SSL_AD_UNKNOWN_CA:
      case SSL_AD_CERTIFICATE_REQUIRED:
        return HandshakeFailure::Certificate;
      case SSL_AD_PROTOCOL_VERSION:
        return HandshakeFailure::Version;
      case SSL_AD_HANDSHAKE_FAILURE:
      case SSL_AD_INSUFFICIENT_SECURITY:
      case SSL_AD_NO_APPLICATION_PROTOCOL:
        return HandshakeFailure::NoSharedCipher;
      default:
        return HandshakeFailure::Alert;
    }
  }
  switch (reason) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return HandshakeFailure::Version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_NO_APPLICATION_PROTOCOL:
    case SSL_R_NO_CIPHERS_AVAILABLE:
      return HandshakeFailure::NoSharedCipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return HandshakeFailure::Certificate;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return HandshakeFailure::PlainHttp;
    default:
      return HandshakeFailure::Protocol;
  }
}

}  // namespace

const char* handshake_failure_name(HandshakeFailure f) {
  switch (f) {
    case HandshakeFailure::Version:
      return "version";
    case HandshakeFailure::NoSharedCipher:
      return "no_shared_cipher";
    case HandshakeFailure::Certificate:
      return "certificate";
    case HandshakeFailure::Alert:
      return "alert";
    case HandshakeFailure::Protocol:
      return "protocol";
    case HandshakeFailure::PlainHttp:
      return "plain_http";
    case HandshakeFailure::Timeout:
      return "timeout";
    case HandshakeFailure::Other:
    case HandshakeFailure::Count:
      break;
  }
  return "other";
}

void Session::record_error(const char* what) {
  failed_ = true;
  unsigned long e = ERR_peek_last_error();
  failure_ = classify(e);
  char buf[256];
  if (e != 0) {
    ERR_error_string_n(e, buf, sizeof buf);
    error_ = std::string(what) + ": " + buf;
  } else {
    error_ = what;
  }
  ERR_clear_error();
}

Session::ReadResult Session::read(char* dst, size_t cap, ByteBuffer* wire) {
  wire_ = wire;
  size_t n = 0;
  ERR_clear_error();
  int rc = SSL_read_ex(ssl_, dst, std::min<size_t>(cap, INT_MAX), &n);
  wire_ = nullptr;
  if (rc == 1) return {Status::Data, n};
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ:
      return {Status::NeedInput};
    case SSL_ERROR_ZERO_RETURN:
      return {Status::Closed};
    case SSL_ERROR_WANT_WRITE:
      // Our BIO takes every write unless memory ran out.
      record_error("out of memory for TLS output");
      return {Status::Failed};
    default:
      record_error(handshake_done() ? "TLS error" : "TLS handshake failed");
      return {Status::Failed};
  }
}

bool Session::write(const char* data, size_t len, ByteBuffer* wire) {
  wire_ = wire;
  ERR_clear_error();
  bool ok = true;
  while (len > 0) {
    size_t done = 0;
    if (SSL_write_ex(ssl_, data, std::min<size_t>(len, INT_MAX), &done) != 1) {
      record_error("TLS write failed");
      ok = false;
      break;
    }
    data += done;
    len -= done;
  }
  wire_ = nullptr;
  return ok;
}

void Session::shutdown(ByteBuffer* wire) {
  if (shut_down_ || !handshake_done()) return;
  shut_down_ = true;
  wire_ = wire;
  ERR_clear_error();
  (void)SSL_shutdown(ssl_);  // 0: sent, the peer's not awaited
  ERR_clear_error();
  wire_ = nullptr;
}

std::shared_ptr<const SessionInfo> Session::info() {
  if (!info_ && handshake_done()) info_ = describe(ssl_);
  return info_;
}

const SessionInfo* Session::tls_info() {
  return info().get();
}

bool Session::resumed() const {
  return ssl_ && SSL_session_reused(ssl_) == 1;
}

bool Session::handshake_done() const {
  return ssl_ && SSL_is_init_finished(ssl_);
}

}  // namespace pounce::tls
