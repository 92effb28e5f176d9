// The session ticket keys of the process (TLS 1.3 and TLS 1.2 tickets): one
// ring shared by every worker and every generation, so that a ticket issued
// by one worker resumes on another, and across a reload. A new key is made
// every --tls-ticket-rotation; the previous one still decrypts, so tickets
// stay valid for up to two rotation periods.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>

namespace pounce::tls {

class TicketKeys {
 public:
  explicit TicketKeys(uint64_t rotation_ms);
  ~TicketKeys();

  // Installs the ticket callback (SSL_CTX_set_tlsext_ticket_key_evp_cb) on
  // `ctx`, with this ring as its key source. The ring must outlive `ctx`.
  void attach(SSL_CTX* ctx);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pounce::tls
