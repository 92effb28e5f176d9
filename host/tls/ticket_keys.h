// The session ticket keys of the process (TLS 1.3 and TLS 1.2 tickets): one
// ring shared by every worker and every generation, so that a ticket issued
// by one worker resumes on another, and across a reload. A new key is made
// every --tls-ticket-rotation; the previous one still decrypts (and the
// ticket is then renewed under the current key), so a ticket stays valid for
// at least one and at most two rotation periods. Older keys are forgotten.
// A TLS 1.3 resumption always gets one new ticket (TLS 1.3 clients use each
// ticket once); a TLS 1.2 ticket is re-issued only when its key is the
// previous one (TLS 1.2 clients reuse a ticket until it is replaced).
//
// Threading: attach() runs where the contexts are built; the ticket
// callback it installs runs on every worker thread at once (one call per
// ticket issued or presented, never per request). A mutex guards the ring.
// Keys live only in this process's memory: a server process restarted by
// the supervisor starts a new ring, and its clients do full handshakes once.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace pounce::tls {

class TicketKeys {
 public:
  // Milliseconds of a monotonic clock; tests inject one to rotate at will.
  using Clock = std::function<uint64_t()>;

  // `clock` defaults to CLOCK_MONOTONIC. It is called with the ring's lock
  // held, from any worker thread.
  explicit TicketKeys(uint64_t rotation_ms, Clock clock = {});
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // Installs the ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb) on
  // `ctx`, with this ring as its key source. The ring must outlive `ctx`
  // (ContextSet keeps a shared_ptr to it). Returns false (with nothing
  // installed) if the ring has no key: the system's random source failed
  // when it was made.
  bool attach(SSL_CTX* ctx);

  uint64_t rotation_ms() const;

 private:
  struct Impl;
  // The SSL_CTX_set_tlsext_ticket_key_evp_cb callback.
  static int ticket_callback(SSL* ssl, unsigned char* key_name,
                             unsigned char* iv, EVP_CIPHER_CTX* cipher_ctx,
                             EVP_MAC_CTX* mac_ctx, int enc);
  std::unique_ptr<Impl> impl_;
};

}  // namespace pounce::tls
