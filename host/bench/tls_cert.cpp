#include "bench/tls_cert.h"

#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

namespace pounce::bench {

namespace {

// Long enough for any run, short enough that a copy left behind by a
// killed run is soon worthless.
constexpr long kValiditySeconds = 7L * 24 * 3600;
// Clock skew between the bench and a server on another clock domain is
// impossible here (same machine), but an hour back costs nothing.
constexpr long kBackdateSeconds = 3600;

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_NAME* p) const { X509_NAME_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(FILE* f) const { fclose(f); }
};
template <typename T>
using Owned = std::unique_ptr<T, Free>;

std::string openssl_error(const char* what) {
  unsigned long e = ERR_get_error();
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return std::string(what) + ": " + (e ? buf : "failed");
}

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(
      X509V3_EXT_conf_nid(nullptr, &ctx, nid, const_cast<char*>(value)));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

// A file only its owner may read (the key), created fresh.
FILE* create_private(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  FILE* f = fdopen(fd, "w");
  if (!f) close(fd);
  return f;
}

}  // namespace

bool make_throwaway_certificate(const std::string& dir, TlsCertificate* out,
                                std::string* error) {
  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (!key) {
    *error = openssl_error("EVP_EC_gen(P-256)");
    return false;
  }
  Owned<X509> cert(X509_new());
  Owned<BIGNUM> serial(BN_new());
  Owned<X509_NAME> name(X509_NAME_new());
  // 64 random bits, positive: unique per run, as CAs must make them.
  bool ok =
      cert && serial && name && X509_set_version(cert.get(), 2) == 1 &&
      BN_rand(serial.get(), 64, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -kBackdateSeconds) &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds) &&
      X509_set_pubkey(cert.get(), key.get()) == 1 &&
      X509_NAME_add_entry_by_txt(
          name.get(), "CN", MBSTRING_ASC,
          reinterpret_cast<const unsigned char*>("localhost"), -1, -1,
          0) == 1 &&
      X509_set_subject_name(cert.get(), name.get()) == 1 &&
      X509_set_issuer_name(cert.get(), name.get()) == 1 &&
      add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
      add_extension(cert.get(), NID_key_usage, "critical,digitalSignature") &&
      add_extension(cert.get(), NID_ext_key_usage, "serverAuth") &&
      add_extension(cert.get(), NID_subject_alt_name,
                    "DNS:localhost,IP:127.0.0.1") &&
      X509_sign(cert.get(), key.get(), EVP_sha256()) > 0;
  if (!ok) {
    *error = openssl_error("building the certificate");
    return false;
  }

  TlsCertificate c;
  c.cert_path = dir + "/cert.pem";
  c.key_path = dir + "/key.pem";
  c.description = "ECDSA P-256, self-signed, SHA-256, CN=localhost";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &md_len) != 1) {
    *error = openssl_error("X509_digest");
    return false;
  }
  static const char kHex[] = "0123456789abcdef";
  for (unsigned i = 0; i < md_len; ++i) {
    c.sha256 += kHex[md[i] >> 4];
    c.sha256 += kHex[md[i] & 15];
  }

  Owned<FILE> kf(create_private(c.key_path));
  if (!kf || PEM_write_PrivateKey(kf.get(), key.get(), nullptr, nullptr, 0,
                                  nullptr, nullptr) != 1) {
    *error = "cannot write " + c.key_path;
    return false;
  }
  Owned<FILE> cf(create_private(c.cert_path));
  if (!cf || PEM_write_X509(cf.get(), cert.get()) != 1) {
    *error = "cannot write " + c.cert_path;
    return false;
  }
  // Both complete on disk before any server reads them.
  if (fflush(kf.get()) != 0 || fflush(cf.get()) != 0) {
    *error = "cannot write the certificate files in " + dir;
    return false;
  }
  // Servers that drop privileges (nginx workers) read the certificate
  // in the master, as root: 0600 suits both files.
  *out = std::move(c);
  return true;
}

}  // namespace pounce::bench
