// The load generator's TLS client: OpenSSL over memory BIOs, so that a
// connection keeps its libuv socket and event loop (no thread, no blocking
// call per connection). Ciphertext read from the socket goes in with
// feed(); ciphertext to send is taken from output() and written by the
// connection's ordinary write path, together with the plaintext that
// produced it (one write for the client Finished and the first request).
//
// One TlsClientContext (SSL_CTX) per load thread: connections share its
// configuration and nothing mutable across threads.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace pounce::bench {

struct TlsClientOptions {
  // Pinned to one version (min = max): the figures say which one they are.
  int version = TLS1_3_VERSION;
  // Keep the last session (ticket) of each connection and offer it when the
  // connection opens again (--tls-resume).
  bool resume = false;
  std::string sni = "localhost";  // "" sends none
};

// "1.2" / "1.3" -> TLS1_2_VERSION / TLS1_3_VERSION, or 0.
int tls_version_from_text(std::string_view text);

class TlsClientContext {
 public:
  static std::unique_ptr<TlsClientContext> create(
      const TlsClientOptions& options, std::string* error);
  ~TlsClientContext();
  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  SSL_CTX* get() const { return ctx_; }
  const TlsClientOptions& options() const { return options_; }

 private:
  TlsClientContext(SSL_CTX* ctx, TlsClientOptions options)
      : ctx_(ctx), options_(std::move(options)) {}
  SSL_CTX* ctx_;
  TlsClientOptions options_;
};

// Where the connection's BIO reads and writes (tls_client.cpp): the bytes
// just read from the socket, and the ciphertext to send.
struct TlsBioSlice {
  const char* data = nullptr;
  size_t len = 0;
  std::string* out = nullptr;
};

// What a handshake agreed on, for the artifact.
struct TlsFacts {
  std::string version;           // "TLSv1.3"
  std::string cipher;            // "TLS_AES_128_GCM_SHA256"
  std::string group;             // key exchange: "X25519"
  std::string peer_key;          // "EC P-256" (the server certificate)
  std::string peer_cert_sha256;  // lower-case hex, "" when none was sent
  std::string alpn;              // "http/1.1" or ""
  bool empty() const { return version.empty(); }
};

// The TLS state of one connection, across its reconnections.
class TlsStream {
 public:
  TlsStream() = default;
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  // A new session on a fresh socket (the previous one, if any, is freed):
  // offers the saved session when the context resumes. False when OpenSSL
  // cannot allocate.
  bool begin(const TlsClientContext& context);
  bool active() const { return ssl_ != nullptr; }

  enum class Handshake { InProgress, Done, Failed };
  // Advances the handshake with what feed() gave; output() then holds what
  // to send.
  Handshake handshake();

  // Ciphertext from the socket, read in place: drive handshake() and
  // read() until they want more (or fail) before the bytes go away.
  void feed(const char* data, size_t len);

  // Plaintext: > 0 bytes read; kWantMore when every record fed so far is
  // consumed; kClosed on the peer's close_notify; kError otherwise.
  static constexpr long kWantMore = 0;
  static constexpr long kClosed = -1;
  static constexpr long kError = -2;
  long read(char* buf, size_t cap);

  // Encrypts all of `data` into output(). False on error.
  bool write(const char* data, size_t len);

  // Ciphertext waiting to be sent; consume_output() once it is handed to
  // the socket (which copies what it cannot write at once).
  std::string_view output() const;
  void consume_output();

  // After Handshake::Done.
  bool resumed() const;
  TlsFacts facts() const;
  // The reason of the last failure (OpenSSL's error queue), for a note.
  const std::string& error() const { return error_; }

  SSL* ssl() const { return ssl_; }

  // SSL_CTX_sess_set_new_cb (--tls-resume): keeps the newest session.
  static int on_new_session_cb(SSL* ssl, SSL_SESSION* session);

 private:
  void release();
  void set_error(const char* what);

  SSL* ssl_ = nullptr;  // owns the BIO over slice_
  TlsBioSlice slice_;
  std::string out_;  // ciphertext not yet handed to the socket
  // The newest session the server gave (a TLS 1.3 ticket arrives after the
  // handshake, with the first records read): offered on the next begin().
  SSL_SESSION* saved_ = nullptr;
  std::string error_;
};

}  // namespace pounce::bench
