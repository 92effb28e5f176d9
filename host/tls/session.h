// One TLS connection's OpenSSL state, between the socket and the HTTP
// connection: ciphertext in, plaintext out, and the reverse. No sockets and
// no loop here: the Connection lends the ciphertext it read (feed), asks for
// plaintext into the buffer the parser reads from (read), and writes the
// ciphertext that read, write and shutdown produce (`wire`). That keeps the
// parser on views into one buffer, as on cleartext, and makes this layer
// testable and fuzzable alone.
//
// The BIO under the SSL object is our own: it reads from the lent bytes
// first and from what was kept of earlier reads, and appends its writes to
// the `wire` buffer of the call in progress. Nothing is copied twice, and
// with SSL_MODE_RELEASE_BUFFERS an idle connection holds no record buffers.
//
// Owned by one loop at a time (it moves with a hand-off). Not thread-safe.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http/byte_buffer.h"
#include "tls/session_info.h"

namespace pounce::tls {

class ContextSet;

// Why a handshake failed, as /metrics counts it
// (pounce_tls_handshake_failures_total{reason}): a small fixed set, from
// the OpenSSL error that ended it, or from where the host ended it.
enum class HandshakeFailure : uint8_t {
  Version,         // no protocol version in common (too old, too new, not TLS)
  NoSharedCipher,  // no cipher, group, signature algorithm or ALPN in common
  Certificate,     // the client's certificate, or the client rejected ours
  Alert,           // the client sent another fatal alert
  Protocol,        // a malformed or unexpected handshake message
  PlainHttp,       // clear-text HTTP on a TLS listener (answered with a 400)
  Timeout,         // not done within --header-timeout
  Other,           // anything else (out of memory, a library error)
  Count
};
inline constexpr size_t kHandshakeFailures =
    static_cast<size_t>(HandshakeFailure::Count);
// The label value of a reason ("version", "no_shared_cipher", ...).
const char* handshake_failure_name(HandshakeFailure f);

class Session final : public InfoSource {
 public:
  // nullptr when OpenSSL cannot make the SSL object (out of memory).
  static std::unique_ptr<Session> create(std::shared_ptr<const ContextSet> set);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Lends `len` bytes of ciphertext read from the peer. They are used by the
  // next read() calls; keep_unread() must be called before the memory is
  // reused.
  void feed(const char* data, size_t len);
  // Copies what read() left of the lent bytes into the session's own
  // buffer. False when the memory was not there (the session is then
  // unusable: close).
  [[nodiscard]] bool keep_unread();

  enum class Status {
    Data,       // `bytes` bytes of plaintext were written to dst
    NeedInput,  // all input is used: wait for the socket
    Closed,     // the peer sent close_notify
    Failed,     // a handshake failure or a protocol error: error() says
  };
  struct ReadResult {
    Status status;
    size_t bytes = 0;
  };
  // Runs the handshake as far as the input allows, then decrypts up to
  // `cap` bytes into `dst`. Handshake messages and alerts are appended to
  // `wire`, to be sent before anything written later.
  ReadResult read(char* dst, size_t cap, ByteBuffer* wire);
  // Whether read() can make progress without more input from the socket
  // (lent or kept ciphertext, or decrypted bytes OpenSSL holds).
  bool has_buffered_input() const;

  // Encrypts `len` bytes of plaintext into records appended to `wire`.
  // False on failure (error() says).
  [[nodiscard]] bool write(const char* data, size_t len, ByteBuffer* wire);
  // Appends a close_notify alert to `wire` (once; later calls do nothing).
  void shutdown(ByteBuffer* wire);

  bool handshake_done() const;
  // The finished handshake resumed a session (a ticket or a session id).
  bool resumed() const;
  // The reason of the last failure, for the log.
  const std::string& error() const { return error_; }
  // Why the handshake failed, once read() returned Failed before
  // handshake_done().
  HandshakeFailure failure() const { return failure_; }
  SSL* ssl() const { return ssl_; }

  // What plugins and the access log learn of this connection, read from
  // OpenSSL on first use after the handshake and kept (it cannot change:
  // renegotiation is off). nullptr before the handshake or without memory.
  const SessionInfo* tls_info() override;
  std::shared_ptr<const SessionInfo> info();

 private:
  Session() = default;
  static int bio_read(BIO* b, char* out, int len);
  static int bio_write(BIO* b, const char* in, int len);
  static long bio_ctrl(BIO* b, int cmd, long num, void* ptr);
  void record_error(const char* what);

  std::shared_ptr<const ContextSet> set_;  // outlives ssl_'s SSL_CTX use
  SSL* ssl_ = nullptr;
  // Lent ciphertext (feed), then what keep_unread() kept.
  const char* lent_ = nullptr;
  size_t lent_len_ = 0;
  ByteBuffer kept_;
  size_t kept_off_ = 0;
  ByteBuffer* wire_ = nullptr;  // during read/write/shutdown only
  bool shut_down_ = false;
  bool failed_ = false;  // a fatal error: the session must not resume
  std::string error_;
  HandshakeFailure failure_ = HandshakeFailure::Other;
  std::shared_ptr<const SessionInfo> info_;
};

// True when `data` starts like a plain HTTP request (an upper-case method
// letter) rather than a TLS record (content type 0x14..0x18): nginx answers
// those with a 400 in clear text instead of an alert nobody can read.
inline bool looks_like_plain_http(const char* data, size_t len) {
  return len > 0 && data[0] >= 'A' && data[0] <= 'Z';
}

}  // namespace pounce::tls
