// What a plugin may learn about a TLS connection (host->request_tls,
// pounce_tls_info_t): extracted once from the SSL object after the
// handshake, on the connection's loop, then immutable. A blocking-mode
// request keeps a reference (the connection may close while the handler
// runs on the pool).
#pragma once

#include <openssl/ssl.h>
#include <pounce/pounce.h>

#include <memory>
#include <string>
#include <utility>

namespace pounce::tls {

struct SessionInfo {
  std::string version;  // "TLSv1.3"
  std::string cipher;   // "TLS_AES_128_GCM_SHA256"
  std::string sni;      // "" without SNI
  std::string alpn;     // "http/1.1", "h2", or ""
  bool resumed = false;
  // Client certificate (--tls-client-ca): present when the client sent one.
  bool has_client_cert = false;
  std::string subject;      // RFC 2253 DN
  std::string issuer;       // RFC 2253 DN
  std::string serial;       // hex, upper case
  std::string sha256;       // hex, lower case, of the DER certificate
  long verify_result = 0;   // X509_V_OK (0) or the X509_V_ERR_* code
  std::string verify_text;  // "ok" or X509_verify_cert_error_string
};

// Reads the facts above from a connection whose handshake finished.
std::shared_ptr<const SessionInfo> describe(SSL* ssl);

// Fills the ABI struct from `info` (sized: fields beyond out->size stay
// untouched). The strings point into `info`, which must outlive their use.
void fill_abi(const SessionInfo& info, pounce_tls_info_t* out);

// What request_tls reports on cleartext: every field within out->size that
// is a string becomes {NULL, 0}, every flag 0.
void clear_abi(pounce_tls_info_t* out);

// Where the plugin glue (pounce_request::tls, request_tls) reads a
// request's TLS facts from, on the thread running the hook. The
// connection's TLS session implements it and describes its SSL on first
// use (most requests never ask); a blocking job, which runs off the loop
// that owns the SSL, holds an InfoSnapshot taken on the loop. nullptr from
// tls_info() means the facts could not be read (out of memory).
class InfoSource {
 public:
  virtual const SessionInfo* tls_info() = 0;

 protected:
  ~InfoSource() = default;
};

// A SessionInfo kept alive by reference, for a request whose connection
// may close (or be reused) while its handler runs.
class InfoSnapshot final : public InfoSource {
 public:
  InfoSnapshot() = default;
  explicit InfoSnapshot(std::shared_ptr<const SessionInfo> info)
      : info_(std::move(info)) {}
  void reset(std::shared_ptr<const SessionInfo> info = nullptr) {
    info_ = std::move(info);
  }
  const SessionInfo* tls_info() override { return info_.get(); }

 private:
  std::shared_ptr<const SessionInfo> info_;
};

}  // namespace pounce::tls
