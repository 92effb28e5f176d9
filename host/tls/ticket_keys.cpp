#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <time.h>

#include <cstring>
#include <mutex>
#include <optional>

namespace pounce::tls {

namespace {

// RFC 5077 §4's recommended layout: a 16-byte name that finds the key, an
// AES-256-CBC key for the state and an HMAC-SHA256 key over name, IV and
// ciphertext. OpenSSL's callback interface fixes the name and IV sizes.
struct Key {
  unsigned char name[16];
  unsigned char aes[32];
  unsigned char hmac[32];
};

bool make_key(Key* key) {
  return RAND_bytes(reinterpret_cast<unsigned char*>(key), sizeof(*key)) == 1;
}

uint64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000 +
         static_cast<uint64_t>(ts.tv_nsec) / 1000000;
}

// The SSL_CTX ex_data slot holding the ring; allocated once per process.
int ring_index() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

struct TicketKeys::Impl {
  uint64_t rotation_ms;
  Clock clock;
  // Fetched once: a fetch per ticket would take the provider store's lock
  // on every handshake. EVP_CIPHER objects are immutable and shareable.
  EVP_CIPHER* cipher = nullptr;

  // Guards current, previous and current_since. Held by the ticket
  // callback (any worker thread) only to rotate if due and copy one key
  // out (about 100 bytes); the AES and HMAC work runs outside it.
  std::mutex mu;
  std::optional<Key> current;
  std::optional<Key> previous;
  uint64_t current_since = 0;  // clock value when `current` took over

  // Called with `mu` held. Rotation is lazy (no timer thread): the first
  // ticket operation after a period ends makes the new key. After two or
  // more idle periods the old current key is past its acceptance window
  // too, so it is dropped rather than kept as `previous`.
  void rotate_if_due() {
    if (!current) return;
    const uint64_t now = clock();
    if (now < current_since || now - current_since < rotation_ms) return;
    const uint64_t periods = (now - current_since) / rotation_ms;
    Key fresh;
    if (!make_key(&fresh)) return;  // keep the old key rather than none
    if (periods == 1) {
      previous = current;
    } else {
      previous.reset();
    }
    current = fresh;
    current_since += periods * rotation_ms;
  }

  int callback(unsigned char* key_name, unsigned char* iv,
               EVP_CIPHER_CTX* cipher_ctx, EVP_MAC_CTX* mac_ctx, int enc) {
    Key key;
    int result = 1;
    {
      std::lock_guard<std::mutex> lock(mu);
      rotate_if_due();
      if (!current) return enc ? -1 : 0;
      if (enc) {
        key = *current;
      } else if (std::memcmp(key_name, current->name, 16) == 0) {
        key = *current;
      } else if (previous && std::memcmp(key_name, previous->name, 16) == 0) {
        key = *previous;
        result = 2;  // valid, and re-issued under the current key
      } else {
        return 0;  // an unknown or retired key: a full handshake
      }
    }
    if (enc) {
      std::memcpy(key_name, key.name, 16);
      if (RAND_bytes(iv, 16) != 1) return -1;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac,
                                          sizeof(key.hmac)),
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                         const_cast<char*>("SHA256"), 0),
        OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(mac_ctx, params) != 1) return -1;
    const int ok =
        enc ? EVP_EncryptInit_ex(cipher_ctx, cipher, nullptr, key.aes, iv)
            : EVP_DecryptInit_ex(cipher_ctx, cipher, nullptr, key.aes, iv);
    OPENSSL_cleanse(&key, sizeof(key));
    return ok == 1 ? result : -1;
  }
};

int TicketKeys::ticket_callback(SSL* ssl, unsigned char* key_name,
                                unsigned char* iv, EVP_CIPHER_CTX* cipher_ctx,
                                EVP_MAC_CTX* mac_ctx, int enc) {
  // OpenSSL calls the callback of the SSL's session context (the context
  // it was created with) but the SNI callback may have switched the SSL to
  // another context since: every context of a set carries the ring.
  auto* impl = static_cast<TicketKeys::Impl*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_index()));
  if (impl == nullptr) return enc ? -1 : 0;
  const int result = impl->callback(key_name, iv, cipher_ctx, mac_ctx, enc);
  if (!enc && result > 0 && SSL_version(ssl) == TLS1_3_VERSION) {
    // TLS 1.3 clients use a ticket once (RFC 8446 §C.4; browsers and
    // OpenSSL do), and OpenSSL's server sends tickets after a resumption
    // only when asked to renew: without this, every other connection of
    // such a client would be a full handshake. One ticket replaces the one
    // just used (a full handshake issues OpenSSL's default two).
    SSL_set_num_tickets(ssl, 1);
    return 2;
  }
  return result;
}

TicketKeys::TicketKeys(uint64_t rotation_ms, Clock clock)
    : impl_(std::make_unique<Impl>()) {
  impl_->rotation_ms = rotation_ms ? rotation_ms : 1;
  impl_->clock = clock ? std::move(clock) : Clock(monotonic_ms);
  impl_->cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  Key key;
  if (impl_->cipher != nullptr && make_key(&key)) {
    impl_->current = key;
    impl_->current_since = impl_->clock();
  }
  OPENSSL_cleanse(&key, sizeof(key));
}

TicketKeys::~TicketKeys() {
  if (impl_->current) OPENSSL_cleanse(&*impl_->current, sizeof(Key));
  if (impl_->previous) OPENSSL_cleanse(&*impl_->previous, sizeof(Key));
  EVP_CIPHER_free(impl_->cipher);
}

bool TicketKeys::attach(SSL_CTX* ctx) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (!impl_->current) return false;
  }
  if (ring_index() < 0 ||
      SSL_CTX_set_ex_data(ctx, ring_index(), impl_.get()) != 1) {
    return false;
  }
  return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_callback) == 1;
}

uint64_t TicketKeys::rotation_ms() const {
  return impl_->rotation_ms;
}

}  // namespace pounce::tls
