#include "tls/session_info.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstddef>
#include <new>

namespace pounce::tls {

namespace {

// An X509_NAME as one RFC 2253 line ("CN=alice,O=Example"). The RFC 2253
// flags escape control characters and non-ASCII bytes, so that a name
// cannot forge a log line or a JSON field downstream.
std::string name_text(const X509_NAME* name) {
  if (!name) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) throw std::bad_alloc();
  std::string out;
  if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253) >= 0) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    if (len > 0 && data) out.assign(data, static_cast<size_t>(len));
  }
  BIO_free(bio);
  return out;
}

std::string serial_text(const X509* cert) {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  if (!serial) return {};
  BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr);
  if (!bn) throw std::bad_alloc();
  char* hex = BN_bn2hex(bn);  // upper case, "-" for a (bogus) negative one
  BN_free(bn);
  if (!hex) throw std::bad_alloc();
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

std::string sha256_text(const X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!X509_digest(cert, EVP_sha256(), md, &n)) return {};
  static const char kHex[] = "0123456789abcdef";
  std::string out(2 * static_cast<size_t>(n), '\0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kHex[md[i] >> 4];
    out[2 * i + 1] = kHex[md[i] & 0xf];
  }
  return out;
}

// Whether `field` (at `offset`, `len` bytes long) lies wholly within the
// plugin's out->size: the host never writes past what the plugin allocated.
bool fits(const pounce_tls_info_t* out, size_t offset, size_t len) {
  return out->size >= offset + len;
}

#define POUNCE_TLS_SET(out, field, value)                                    \
  do {                                                                       \
    if (fits(out, offsetof(pounce_tls_info_t, field), sizeof(out->field))) { \
      (out)->field = (value);                                                \
    }                                                                        \
  } while (0)

// An absent string is {NULL, 0}; a present one is NUL-terminated too (the
// std::string's own terminator), as pounce.h promises.
pounce_str_t view(const std::string& s) {
  return s.empty() ? pounce_str_t{nullptr, 0}
                   : pounce_str_t{s.c_str(), s.size()};
}

}  // namespace

std::shared_ptr<const SessionInfo> describe(SSL* ssl) {
  if (!ssl) return nullptr;
  try {
    auto info = std::make_shared<SessionInfo>();
    if (const char* v = SSL_get_version(ssl)) info->version = v;
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl)) {
      if (const char* name = SSL_CIPHER_get_name(c)) info->cipher = name;
    }
    if (const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) {
      info->sni = sni;
    }
    const unsigned char* alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn && alpn_len) {
      info->alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    }
    info->resumed = SSL_session_reused(ssl) == 1;
    // On a resumed session this is the certificate the original handshake
    // verified, with its verify result: both live in the SSL_SESSION.
    if (X509* cert = SSL_get0_peer_certificate(ssl)) {
      info->has_client_cert = true;
      info->subject = name_text(X509_get_subject_name(cert));
      info->issuer = name_text(X509_get_issuer_name(cert));
      info->serial = serial_text(cert);
      info->sha256 = sha256_text(cert);
      info->verify_result = SSL_get_verify_result(ssl);
      info->verify_text =
          info->verify_result == X509_V_OK
              ? "ok"
              : X509_verify_cert_error_string(info->verify_result);
    }
    return info;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

void fill_abi(const SessionInfo& info, pounce_tls_info_t* out) {
  POUNCE_TLS_SET(out, resumed, info.resumed ? 1 : 0);
  POUNCE_TLS_SET(out, version, view(info.version));
  POUNCE_TLS_SET(out, cipher, view(info.cipher));
  POUNCE_TLS_SET(out, sni, view(info.sni));
  POUNCE_TLS_SET(out, alpn, view(info.alpn));
  const bool cert = info.has_client_cert;
  const std::string none;
  POUNCE_TLS_SET(out, client_cert, cert ? 1 : 0);
  POUNCE_TLS_SET(out, verify_result,
                 cert ? static_cast<int32_t>(info.verify_result) : 0);
  POUNCE_TLS_SET(out, client_subject, view(cert ? info.subject : none));
  POUNCE_TLS_SET(out, client_issuer, view(cert ? info.issuer : none));
  POUNCE_TLS_SET(out, client_serial, view(cert ? info.serial : none));
  POUNCE_TLS_SET(out, client_sha256, view(cert ? info.sha256 : none));
  POUNCE_TLS_SET(out, verify_text, view(cert ? info.verify_text : none));
}

void clear_abi(pounce_tls_info_t* out) {
  fill_abi(SessionInfo{}, out);
}

}  // namespace pounce::tls
