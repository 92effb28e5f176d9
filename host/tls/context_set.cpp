// TEMPORARY (lead's local stand-in until the tlsctx helper's version lands).
#include "tls/context_set.h"
#include "tls/ticket_keys.h"
#include <openssl/err.h>
namespace pounce::tls {
struct ContextSet::Impl { SSL_CTX* ctx = nullptr; };
ContextSet::ContextSet() : impl_(new Impl) {}
ContextSet::~ContextSet() { if (impl_->ctx) SSL_CTX_free(impl_->ctx); }
SSL_CTX* ContextSet::default_context() const { return impl_->ctx; }
bool ContextSet::offers_h2() const { return false; }
static int alpn_cb(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen, void*) {
  static const unsigned char h11[] = "\x08http/1.1";
  unsigned char* o = nullptr;
  if (SSL_select_next_proto(&o, outlen, h11, 9, in, inlen) != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
  *out = o; return SSL_TLSEXT_ERR_OK;
}
std::shared_ptr<const ContextSet> ContextSet::build(const Config& c, std::shared_ptr<TicketKeys>, std::vector<std::string>*, std::string* error) {
  std::shared_ptr<ContextSet> s(new ContextSet());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  s->impl_->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx, c.tls_certs[0].c_str()) != 1) { *error = c.tls_certs[0] + ": cannot load"; return nullptr; }
  if (SSL_CTX_use_PrivateKey_file(ctx, c.tls_keys[0].c_str(), SSL_FILETYPE_PEM) != 1) { *error = c.tls_keys[0] + ": cannot load"; return nullptr; }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, nullptr);
  return s;
}
struct TicketKeys::Impl {};
TicketKeys::TicketKeys(uint64_t) {}
TicketKeys::~TicketKeys() {}
void TicketKeys::attach(SSL_CTX*) {}
}
