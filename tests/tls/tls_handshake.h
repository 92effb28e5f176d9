// A client and a server SSL joined by a BIO pair: a real handshake, in
// memory, on the test's thread.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

namespace pounce::test {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

struct ClientOptions {
  std::string ca_file;    // trusted; the server's chain must verify
  int max_version = 0;    // e.g. TLS1_2_VERSION; 0 = no limit
  std::string cert_file;  // client certificate, if any
  std::string key_file;
};

// A client context that verifies the server against `ca_file`.
SslCtxPtr make_client_ctx(const ClientOptions& options);

class Handshake {
 public:
  Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  SSL* client() const { return client_; }
  SSL* server() const { return server_; }

  // Drives both sides until each has finished or failed. True when both
  // finished.
  bool run();
  // The server sends one byte and the client reads it: the client then
  // has processed what followed the handshake (TLS 1.3 tickets, alerts).
  bool exchange();

  bool client_done = false, client_failed = false;
  bool server_done = false, server_failed = false;
  // The first OpenSSL error each side failed with (ERR_GET_REASON of it).
  int client_reason = 0, server_reason = 0;

 private:
  bool step(SSL* ssl, bool* done, bool* failed, int* reason);
  SSL* client_;
  SSL* server_;
};

// The serial of the certificate the client was served, or -1.
long served_serial(SSL* client);
// EVP_PKEY_EC or EVP_PKEY_RSA: the key type of the served certificate.
int served_key_type(SSL* client);

}  // namespace pounce::test
