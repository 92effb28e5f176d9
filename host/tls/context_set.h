// The TLS settings of one generation: an SSL_CTX per certificate set, built
// from the configuration at startup and again on each SIGHUP (all or
// nothing), then shared read-only by every loop. A connection keeps the set
// it started its handshake with (shared_ptr) until it closes, so a reload
// never changes the certificate of an open connection.
//
// Certificates pair with keys in order. Pairs whose certificates name the
// same DNS names (subjectAltName, or the CN without one) share one SSL_CTX,
// which may hold an RSA and an ECDSA certificate: OpenSSL picks the one the
// client's signature algorithms allow. The first pair's SSL_CTX is the
// default; the servername callback switches to the set whose names match
// the SNI (exact first, then a "*.example.com" wildcard for one label); an
// unknown name, or none, stays on the default.
//
// Every callback installed on the contexts (SNI, ALPN, OCSP status, session
// tickets) points into this object: an SSL made from default_context() must
// not outlive it. Destroying the set frees the contexts.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "cli/config.h"

namespace pounce::tls {

class TicketKeys;

class ContextSet {
 public:
  // Reads every file the configuration names (certificates, keys, OCSP
  // responses, the client CA) and builds the contexts. Returns nullptr with
  // *error = "<file>: <reason>" when a file is unreadable or not PEM (DER
  // for OCSP), a key does not match its certificate, or a certificate
  // expired (a warning in *warnings instead with --tls-allow-expired); a
  // bad --tls-ciphers/--tls-ciphersuites list is an error naming the flag.
  // A certificate not yet valid, an OCSP response past its nextUpdate (then
  // not stapled) and a name already served by an earlier pair are warnings.
  // `keys` is the process's ticket key ring, shared by every generation so
  // that resumption survives a reload; may be null with
  // --no-tls-session-tickets (with tickets on and no ring, OpenSSL's own
  // per-context keys are used: no rotation, and a reload drops them).
  // `offer_h2`: ALPN may select "h2" (HTTP/2, once it lands).
  // Runs on any one thread; the result is then immutable and its contexts
  // are used by every worker at once.
  static std::shared_ptr<const ContextSet> build(
      const Config& config, std::shared_ptr<TicketKeys> keys,
      std::vector<std::string>* warnings, std::string* error,
      bool offer_h2 = false);

  ~ContextSet();
  ContextSet(const ContextSet&) = delete;
  ContextSet& operator=(const ContextSet&) = delete;

  // The context a new connection's SSL starts with (SSL_new); the SNI
  // callback may move the SSL to another of this set's contexts.
  SSL_CTX* default_context() const;

  // The distinct contexts (certificate sets), the default first.
  size_t context_count() const;

  // ALPN: "h2" is offered only when set (HTTP/2, once it lands).
  bool offers_h2() const;

 private:
  ContextSet();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pounce::tls
