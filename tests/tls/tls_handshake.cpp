#include "tls_handshake.h"

#include <openssl/err.h>
#include <openssl/x509.h>

namespace pounce::test {

SslCtxPtr make_client_ctx(const ClientOptions& options) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return ctx;
  if (!options.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  if (options.max_version) {
    SSL_CTX_set_max_proto_version(ctx.get(), options.max_version);
  }
  if (!options.cert_file.empty()) {
    SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str());
    SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(),
                                SSL_FILETYPE_PEM);
  }
  // Keep sessions for resumption tests (read with SSL_get1_session).
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT);
  return ctx;
}

Handshake::Handshake(SSL_CTX* client_ctx, SSL_CTX* server_ctx)
    : client_(SSL_new(client_ctx)), server_(SSL_new(server_ctx)) {
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client_, client_bio, client_bio);
  SSL_set_bio(server_, server_bio, server_bio);
  SSL_set_connect_state(client_);
  SSL_set_accept_state(server_);
}

Handshake::~Handshake() {
  // A connection freed without close_notify marks its session not
  // resumable (OpenSSL's rule for sessions that may have been cut short):
  // end cleanly, as a real client and server do.
  if (client_done && server_done && !client_failed && !server_failed) {
    SSL_shutdown(client_);
    SSL_shutdown(server_);
  }
  ERR_clear_error();
  SSL_free(client_);
  SSL_free(server_);
}

bool Handshake::step(SSL* ssl, bool* done, bool* failed, int* reason) {
  if (*done || *failed) return false;
  ERR_clear_error();
  const int rc = SSL_do_handshake(ssl);
  if (rc == 1) {
    *done = true;
    return true;
  }
  const int err = SSL_get_error(ssl, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
  *failed = true;
  *reason = ERR_GET_REASON(ERR_peek_error());
  ERR_clear_error();
  return true;
}

bool Handshake::run() {
  for (int i = 0; i < 64; ++i) {
    step(client_, &client_done, &client_failed, &client_reason);
    step(server_, &server_done, &server_failed, &server_reason);
    if ((client_done || client_failed) && (server_done || server_failed)) {
      break;
    }
  }
  return client_done && server_done;
}

bool Handshake::exchange() {
  ERR_clear_error();
  if (SSL_write(server_, "x", 1) != 1) {
    server_failed = true;
    ERR_clear_error();
    return false;
  }
  char byte = 0;
  const int n = SSL_read(client_, &byte, 1);
  if (n != 1) {
    client_failed = true;
    client_reason = ERR_GET_REASON(ERR_peek_error());
  }
  ERR_clear_error();
  return n == 1 && byte == 'x';
}

long served_serial(SSL* client) {
  X509* cert = SSL_get0_peer_certificate(client);
  if (cert == nullptr) return -1;
  return ASN1_INTEGER_get(X509_get0_serialNumber(cert));
}

int served_key_type(SSL* client) {
  X509* cert = SSL_get0_peer_certificate(client);
  if (cert == nullptr) return 0;
  return EVP_PKEY_get_base_id(X509_get0_pubkey(cert));
}

}  // namespace pounce::test
