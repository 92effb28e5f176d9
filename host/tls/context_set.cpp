#include "tls/context_set.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>

#include "tls/ticket_keys.h"

namespace pounce::tls {

namespace {

// Mozilla's "intermediate" TLS 1.2 list (server-side TLS guidelines, v5.7)
// without its DHE suites: we load no DH parameters, and ECDHE covers every
// client the profile targets. AEAD only; no CBC, no RSA key exchange.
constexpr char kIntermediateCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
// The same profile's groups, X25519 first (cheapest per handshake).
constexpr char kGroups[] = "X25519:P-256:P-384";

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct StoreFree {
  void operator()(X509_STORE* s) const { X509_STORE_free(s); }
};
struct NamesFree {
  void operator()(STACK_OF(X509_NAME) * n) const {
    sk_X509_NAME_pop_free(n, X509_NAME_free);
  }
};
struct OcspFree {
  void operator()(OCSP_RESPONSE* r) const { OCSP_RESPONSE_free(r); }
};
struct BasicFree {
  void operator()(OCSP_BASICRESP* r) const { OCSP_BASICRESP_free(r); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using CtxPtr = std::unique_ptr<SSL_CTX, CtxFree>;
using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;
using NamesPtr = std::unique_ptr<STACK_OF(X509_NAME), NamesFree>;

// The reason of OpenSSL's most recent error, and the queue cleared: a
// stale entry would otherwise be blamed on the next connection's SSL call
// on this thread (SSL_get_error reads the same queue).
std::string openssl_reason(const char* fallback) {
  const unsigned long code = ERR_peek_last_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return reason ? reason : fallback;
}

// Every file is read once into memory and parsed from there: the bytes
// checked (expiry, key match) are the bytes served even if the file is
// replaced while a reload reads it.
bool read_file(const std::string& path, std::string* out, std::string* error) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    *error = path + ": " + std::strerror(errno);
    return false;
  }
  out->clear();
  char buf[16384];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) out->append(buf, n);
  const bool failed = std::ferror(f) != 0;
  const int saved = errno;
  std::fclose(f);
  if (failed) {
    *error = path + ": " + std::strerror(saved);
    return false;
  }
  return true;
}

BioPtr memory_bio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// Never prompt on the terminal for an encrypted key: fail instead.
int no_password(char*, int, int, void*) {
  return -1;
}

std::string format_time(const ASN1_TIME* t) {
  tm parts{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &parts) != 1) return "?";
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return buf;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The DNS names a certificate answers for: its subjectAltName DNS entries,
// or its CN when it has no subjectAltName at all (RFC 6125 §6.4.4: a SAN
// of any type makes the CN irrelevant). Sorted, unique, lower case.
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
      if (gn->type != GEN_DNS) continue;
      const ASN1_IA5STRING* s = gn->d.dNSName;
      names.push_back(lower(std::string_view(
          reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
          static_cast<size_t>(ASN1_STRING_length(s)))));
    }
    GENERAL_NAMES_free(sans);
  } else {
    X509_NAME* subject = X509_get_subject_name(cert);
    const int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) {
      const ASN1_STRING* cn =
          X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
      unsigned char* utf8 = nullptr;
      const int len = ASN1_STRING_to_UTF8(&utf8, cn);
      if (len > 0) {
        names.push_back(lower(std::string_view(
            reinterpret_cast<const char*>(utf8), static_cast<size_t>(len))));
      }
      OPENSSL_free(utf8);
    }
  }
  ERR_clear_error();
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// One --tls-cert/--tls-key pair, parsed and checked, before any context
// exists: a bad file fails the whole build without side effects.
struct Pair {
  std::string cert_file;
  std::string key_file;
  std::string ocsp_file;
  X509Ptr leaf;
  std::vector<X509Ptr> chain;
  PkeyPtr key;
  int key_type = 0;  // EVP_PKEY_get_base_id: one certificate per type
  std::vector<std::string> names;
  std::string ocsp_der;  // "" = nothing to staple
};

bool load_certificates(const std::string& file, Pair* pair,
                       std::vector<std::string>* warnings, bool allow_expired,
                       std::string* error) {
  std::string pem;
  if (!read_file(file, &pem, error)) return false;
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  pair->leaf.reset(
      PEM_read_bio_X509_AUX(bio.get(), nullptr, no_password, nullptr));
  if (!pair->leaf) {
    *error = file + ": no PEM certificate found (" +
             openssl_reason("no start line") + ")";
    return false;
  }
  // The rest of the file is the chain, as SSL_CTX_use_certificate_chain_file
  // reads it: certificates until the end of the file.
  for (;;) {
    X509* extra = PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr);
    if (extra == nullptr) break;
    pair->chain.emplace_back(extra);
  }
  const unsigned long code = ERR_peek_last_error();
  if (ERR_GET_LIB(code) == ERR_LIB_PEM &&
      ERR_GET_REASON(code) == PEM_R_NO_START_LINE) {
    ERR_clear_error();  // the normal end of the file
  } else if (code != 0) {
    *error = file + ": bad certificate after the first one (" +
             openssl_reason("unreadable PEM") + ")";
    return false;
  }

  const ASN1_TIME* not_after = X509_get0_notAfter(pair->leaf.get());
  if (X509_cmp_current_time(not_after) <= 0) {
    const std::string text =
        file + ": certificate expired on " + format_time(not_after);
    if (!allow_expired) {
      *error = text;
      return false;
    }
    warnings->push_back(text + " (served anyway: --tls-allow-expired)");
  }
  // Not yet valid: a warning, not an error. It usually means the clock of
  // the CA or of this host is off by minutes right after issuance, and it
  // heals by itself, where an expired certificate never does. Clients
  // reject it until then, and the operator sees why in the log.
  const ASN1_TIME* not_before = X509_get0_notBefore(pair->leaf.get());
  if (X509_cmp_current_time(not_before) >= 0) {
    warnings->push_back(file + ": certificate is not valid before " +
                        format_time(not_before));
  }
  ERR_clear_error();
  pair->names = dns_names(pair->leaf.get());
  return true;
}

bool load_key(const std::string& file, Pair* pair, std::string* error) {
  std::string pem;
  if (!read_file(file, &pem, error)) return false;
  BioPtr bio = memory_bio(pem);
  ERR_clear_error();
  pair->key.reset(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, no_password, nullptr));
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!pair->key) {
    *error = file + ": no usable PEM private key (" +
             openssl_reason("no start line") +
             "; encrypted keys are not supported)";
    return false;
  }
  if (X509_check_private_key(pair->leaf.get(), pair->key.get()) != 1) {
    ERR_clear_error();
    *error = file + ": key does not match the certificate " + pair->cert_file;
    return false;
  }
  pair->key_type = EVP_PKEY_get_base_id(pair->key.get());
  return true;
}

// A DER OCSP response for the pair's certificate. Checked here, not by the
// client: a response for another certificate, or a failed one, is an error;
// one past its nextUpdate is not stapled (a client would treat a stale
// staple as worse than none) and is a warning.
bool load_ocsp(const std::string& file, Pair* pair,
               std::vector<std::string>* warnings, std::string* error) {
  std::string der;
  if (!read_file(file, &der, error)) return false;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  std::unique_ptr<OCSP_RESPONSE, OcspFree> response(
      d2i_OCSP_RESPONSE(nullptr, &p, static_cast<long>(der.size())));
  if (!response ||
      p != reinterpret_cast<const unsigned char*>(der.data()) + der.size()) {
    ERR_clear_error();
    *error = file + ": not a DER OCSP response";
    return false;
  }
  const int status = OCSP_response_status(response.get());
  if (status != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
    *error =
        file + ": OCSP response status is " + OCSP_response_status_str(status);
    return false;
  }
  std::unique_ptr<OCSP_BASICRESP, BasicFree> basic(
      OCSP_response_get1_basic(response.get()));
  if (!basic) {
    ERR_clear_error();
    *error = file + ": OCSP response has no basic response";
    return false;
  }
  const ASN1_INTEGER* serial = X509_get0_serialNumber(pair->leaf.get());
  for (int i = 0; i < OCSP_resp_count(basic.get()); ++i) {
    OCSP_SINGLERESP* single = OCSP_resp_get0(basic.get(), i);
    ASN1_INTEGER* id_serial = nullptr;
    if (OCSP_id_get0_info(
            nullptr, nullptr, nullptr, &id_serial,
            const_cast<OCSP_CERTID*>(OCSP_SINGLERESP_get0_id(single))) != 1 ||
        ASN1_INTEGER_cmp(id_serial, serial) != 0) {
      continue;
    }
    int reason = 0;
    ASN1_GENERALIZEDTIME *revoked = nullptr, *this_update = nullptr,
                         *next_update = nullptr;
    const int cert_status = OCSP_single_get0_status(single, &reason, &revoked,
                                                    &this_update, &next_update);
    if (cert_status == V_OCSP_CERTSTATUS_REVOKED) {
      warnings->push_back(file + ": the OCSP response says " + pair->cert_file +
                          " is revoked");
    }
    // Five minutes of clock skew, as OpenSSL's own ocsp tool allows.
    if (OCSP_check_validity(this_update, next_update, 300, -1) != 1) {
      ERR_clear_error();
      warnings->push_back(file + ": OCSP response is outside its validity (" +
                          format_time(this_update) + " to " +
                          format_time(next_update) + "); not stapled");
      return true;
    }
    pair->ocsp_der = std::move(der);
    return true;
  }
  *error =
      file + ": OCSP response is not for the certificate " + pair->cert_file;
  return false;
}

// The contexts of one certificate set: pairs with the same names.
struct Group {
  std::vector<std::string> names;
  std::vector<size_t> pairs;  // indexes into the pairs, in order
};

// The session id context: a digest of what a resumed session's client
// certificate was checked against. A session (ticket or cache entry) made
// under other client-auth settings is not resumed (OpenSSL compares it),
// so changing the client CA on a reload re-verifies every client; the same
// settings keep resumption across the reload.
bool session_id_context(const Config& config, const std::string& ca_bytes,
                        unsigned char out[SSL_MAX_SID_CTX_LENGTH],
                        unsigned int* out_len) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  if (md == nullptr) return false;
  const unsigned char mode = static_cast<unsigned char>(config.tls_client_auth);
  const bool ok = EVP_DigestInit_ex(md, EVP_sha256(), nullptr) == 1 &&
                  EVP_DigestUpdate(md, "pounce-sid\0", 11) == 1 &&
                  EVP_DigestUpdate(md, &mode, 1) == 1 &&
                  EVP_DigestUpdate(md, ca_bytes.data(), ca_bytes.size()) == 1 &&
                  EVP_DigestFinal_ex(md, out, out_len) == 1;
  EVP_MD_CTX_free(md);
  return ok && *out_len <= SSL_MAX_SID_CTX_LENGTH;
}

// --tls-client-auth optional: ask for a certificate and record the
// verification result (SSL_get_verify_result) without failing the
// handshake; the plugin decides.
int accept_any_chain(int, X509_STORE_CTX*) {
  return 1;
}

}  // namespace

struct ContextSet::Impl {
  std::vector<CtxPtr> contexts;  // [0] is the default
  // SNI tables, sorted by name for binary search without allocating:
  // "*.example.com" is stored as "example.com" in `wildcards`.
  std::vector<std::pair<std::string, SSL_CTX*>> exact;
  std::vector<std::pair<std::string, SSL_CTX*>> wildcards;
  // Stapled responses by certificate. The X509 is the one the context
  // holds (an SSL's certificate slots share it), so a pointer comparison
  // finds the response of whichever certificate OpenSSL selected.
  std::vector<std::pair<X509*, std::string>> ocsp;
  bool offer_h2 = false;
  // Keeps the ring alive as long as contexts that call into it.
  std::shared_ptr<TicketKeys> keys;

  ~Impl() {
    for (auto& [cert, der] : ocsp) X509_free(cert);
  }

  static SSL_CTX* find(
      const std::vector<std::pair<std::string, SSL_CTX*>>& table,
      std::string_view name) {
    auto it = std::lower_bound(
        table.begin(), table.end(), name,
        [](const auto& entry, std::string_view n) { return entry.first < n; });
    return it != table.end() && it->first == name ? it->second : nullptr;
  }

  // Exact name first, then a wildcard for the first label only ("*.a.b"
  // covers "x.a.b", not "a.b" or "y.x.a.b", as RFC 6125 §6.4.3 has it).
  SSL_CTX* lookup(const char* server_name) const {
    char buf[256];
    size_t len = std::strlen(server_name);
    if (len > 0 && server_name[len - 1] == '.') --len;  // "example.com."
    if (len == 0 || len >= sizeof(buf)) return nullptr;
    for (size_t i = 0; i < len; ++i) {
      const char c = server_name[i];
      buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    const std::string_view name(buf, len);
    if (SSL_CTX* ctx = find(exact, name)) return ctx;
    const size_t dot = name.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 >= len) {
      return nullptr;
    }
    return find(wildcards, name.substr(dot + 1));
  }

  static int on_servername(SSL* ssl, int*, void* arg) {
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;  // default context
    SSL_CTX* ctx = static_cast<const Impl*>(arg)->lookup(name);
    if (ctx == nullptr) return SSL_TLSEXT_ERR_NOACK;  // default context
    if (ctx != SSL_get_SSL_CTX(ssl) && SSL_set_SSL_CTX(ssl, ctx) == nullptr) {
      return SSL_TLSEXT_ERR_ALERT_FATAL;
    }
    return SSL_TLSEXT_ERR_OK;
  }

  // Server preference: h2 when offered and enabled, else http/1.1. A
  // client without ALPN never gets here and speaks HTTP/1.1.
  static int on_alpn(SSL*, const unsigned char** out, unsigned char* out_len,
                     const unsigned char* in, unsigned int in_len, void* arg) {
    const Impl* self = static_cast<const Impl*>(arg);
    const unsigned char* h2 = nullptr;
    const unsigned char* http11 = nullptr;
    for (unsigned int i = 0; i < in_len;) {
      const unsigned int n = in[i];
      if (n == 0 || i + 1 + n > in_len) break;  // malformed: stop
      const std::string_view proto(reinterpret_cast<const char*>(in + i + 1),
                                   n);
      if (proto == "h2") h2 = in + i + 1;
      if (proto == "http/1.1") http11 = in + i + 1;
      i += 1 + n;
    }
    if (self->offer_h2 && h2 != nullptr) {
      *out = h2;
      *out_len = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    if (http11 != nullptr) {
      *out = http11;
      *out_len = 8;
      return SSL_TLSEXT_ERR_OK;
    }
    // RFC 7301 §3.2: no_application_protocol, fatal.
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }

  // Called after OpenSSL chose the certificate (by SNI context and by the
  // client's signature algorithms), only when the client asked for status.
  static int on_status(SSL* ssl, void* arg) {
    const Impl* self = static_cast<const Impl*>(arg);
    X509* cert = SSL_get_certificate(ssl);
    for (const auto& [c, der] : self->ocsp) {
      if (c != cert) continue;
      void* copy = OPENSSL_memdup(der.data(), der.size());  // SSL frees it
      if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
      SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der.size()));
      return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
  }
};

ContextSet::ContextSet() : impl_(std::make_unique<Impl>()) {}
ContextSet::~ContextSet() = default;

SSL_CTX* ContextSet::default_context() const {
  return impl_->contexts.front().get();
}
size_t ContextSet::context_count() const {
  return impl_->contexts.size();
}
bool ContextSet::offers_h2() const {
  return impl_->offer_h2;
}

std::shared_ptr<const ContextSet> ContextSet::build(
    const Config& config, std::shared_ptr<TicketKeys> keys,
    std::vector<std::string>* warnings, std::string* error, bool offer_h2) {
  if (config.tls_certs.empty() ||
      config.tls_certs.size() != config.tls_keys.size()) {
    *error = "--tls-cert and --tls-key: one key per certificate, at least one";
    return nullptr;
  }
  ERR_clear_error();

  // 1. Every file, parsed and checked.
  std::vector<Pair> pairs(config.tls_certs.size());
  for (size_t i = 0; i < pairs.size(); ++i) {
    Pair& pair = pairs[i];
    pair.cert_file = config.tls_certs[i];
    pair.key_file = config.tls_keys[i];
    if (i < config.tls_ocsp.size()) pair.ocsp_file = config.tls_ocsp[i];
    if (!load_certificates(pair.cert_file, &pair, warnings,
                           config.tls_allow_expired, error) ||
        !load_key(pair.key_file, &pair, error)) {
      return nullptr;
    }
    if (!pair.ocsp_file.empty() &&
        !load_ocsp(pair.ocsp_file, &pair, warnings, error)) {
      return nullptr;
    }
  }

  std::string ca_bytes;
  StorePtr ca_store;
  NamesPtr ca_names;
  if (config.tls_client_auth != TlsClientAuth::None) {
    const std::string& file = config.tls_client_ca;
    if (file.empty()) {
      *error = "--tls-client-auth needs --tls-client-ca";
      return nullptr;
    }
    if (!read_file(file, &ca_bytes, error)) return nullptr;
    ca_store.reset(X509_STORE_new());
    ca_names.reset(sk_X509_NAME_new_null());
    if (!ca_store || !ca_names) {
      *error = file + ": out of memory";
      return nullptr;
    }
    BioPtr bio = memory_bio(ca_bytes);
    ERR_clear_error();
    int count = 0;
    for (;;) {
      X509Ptr ca(PEM_read_bio_X509(bio.get(), nullptr, no_password, nullptr));
      if (!ca) break;
      X509_NAME* name = X509_NAME_dup(X509_get_subject_name(ca.get()));
      if (X509_STORE_add_cert(ca_store.get(), ca.get()) != 1 ||
          name == nullptr || sk_X509_NAME_push(ca_names.get(), name) <= 0) {
        X509_NAME_free(name);
        *error = file + ": " + openssl_reason("cannot add the certificate");
        return nullptr;
      }
      ++count;
    }
    const unsigned long code = ERR_peek_last_error();
    if (count == 0 || ERR_GET_LIB(code) != ERR_LIB_PEM ||
        ERR_GET_REASON(code) != PEM_R_NO_START_LINE) {
      *error = file + ": " +
               (count == 0 ? std::string("no PEM certificate found")
                           : "bad certificate (" +
                                 openssl_reason("unreadable PEM") + ")");
      return nullptr;
    }
    ERR_clear_error();
  }

  unsigned char sid_ctx[SSL_MAX_SID_CTX_LENGTH];
  unsigned int sid_ctx_len = 0;
  if (!session_id_context(config, ca_bytes, sid_ctx, &sid_ctx_len)) {
    *error = "session id context: " + openssl_reason("digest failed");
    return nullptr;
  }

  // 2. Pairs with the same names form one certificate set (one context).
  std::vector<Group> groups;
  for (size_t i = 0; i < pairs.size(); ++i) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.names == pairs[i].names;
    });
    if (it == groups.end()) {
      groups.push_back(Group{pairs[i].names, {}});
      it = groups.end() - 1;
    }
    for (size_t other : it->pairs) {
      if (pairs[other].key_type == pairs[i].key_type) {
        *error = pairs[i].cert_file +
                 ": names the same DNS names with the same key type as " +
                 pairs[other].cert_file +
                 " (one RSA and one ECDSA certificate per name set)";
        return nullptr;
      }
    }
    it->pairs.push_back(i);
    if (i > 0 && pairs[i].names.empty()) {
      warnings->push_back(pairs[i].cert_file +
                          ": has no DNS name; SNI never selects it");
    }
  }

  // 3. One context per set, each configured alike: SSL_set_SSL_CTX moves
  // a connection's certificates and callbacks to the new context but keeps
  // the options, verify mode and session context of the first, so the sets
  // must not differ in those.
  std::shared_ptr<ContextSet> set(new ContextSet());
  Impl& impl = *set->impl_;
  impl.offer_h2 = offer_h2;
  const bool tickets = config.tls_session_tickets;
  if (tickets) impl.keys = keys;
  const uint64_t rotation_ms =
      keys ? keys->rotation_ms() : config.tls_ticket_rotation_ms;
  const long timeout_s =
      static_cast<long>(std::max<uint64_t>(1, rotation_ms / 1000));

  for (const Group& group : groups) {
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) {
      *error = "SSL_CTX_new: " + openssl_reason("failed");
      return nullptr;
    }
    SSL_CTX* c = ctx.get();
    const int min_version =
        config.tls_min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION;
    SSL_CTX_set_min_proto_version(c, min_version);
    // Renegotiation (either side starting it) and compression (CRIME) off.
    // OpenSSL 3 refuses client-initiated renegotiation unless
    // SSL_OP_ALLOW_CLIENT_RENEGOTIATION is set: cleared here in case a
    // system openssl.cnf sets it. The intermediate profile leaves the cipher
    // choice to the client (all offered suites are strong, and a client
    // without AES hardware prefers ChaCha20).
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_clear_options(c, SSL_OP_ALLOW_CLIENT_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE |
                                 SSL_OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION);
    // RELEASE_BUFFERS: an idle connection holds no 16 KiB+ record buffers
    // (the per-connection idle memory target). NO_AUTO_CHAIN: the chain
    // served is the one in the file; without it OpenSSL would complete a
    // short chain from the client-CA store, serving other certificates
    // than configured.
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);

    const std::string& ciphers =
        config.tls_ciphers.empty() ? kIntermediateCiphers : config.tls_ciphers;
    if (SSL_CTX_set_cipher_list(c, ciphers.c_str()) != 1) {
      *error = "--tls-ciphers " + ciphers + ": " +
               openssl_reason("no cipher matches");
      return nullptr;
    }
    if (!config.tls_ciphersuites.empty() &&
        SSL_CTX_set_ciphersuites(c, config.tls_ciphersuites.c_str()) != 1) {
      *error = "--tls-ciphersuites " + config.tls_ciphersuites + ": " +
               openssl_reason("no cipher suite matches");
      return nullptr;
    }
    if (SSL_CTX_set1_groups_list(c, kGroups) != 1) {
      *error = std::string("groups ") + kGroups + ": " +
               openssl_reason("unsupported");
      return nullptr;
    }

    for (size_t index : group.pairs) {
      Pair& pair = pairs[index];
      // What SSL_CTX_use_certificate_chain_file does, from the bytes read
      // above: the leaf picks the slot (RSA or ECDSA), the chain and the
      // key go to that slot.
      bool ok = SSL_CTX_use_certificate(c, pair.leaf.get()) == 1 &&
                SSL_CTX_clear_chain_certs(c) == 1;
      for (const X509Ptr& extra : pair.chain) {
        ok = ok && SSL_CTX_add1_chain_cert(c, extra.get()) == 1;
      }
      ok = ok && SSL_CTX_use_PrivateKey(c, pair.key.get()) == 1;
      if (!ok || SSL_CTX_check_private_key(c) != 1) {
        *error = pair.key_file + ": " +
                 openssl_reason("key does not match the certificate");
        return nullptr;
      }
      if (!pair.ocsp_der.empty()) {
        X509_up_ref(pair.leaf.get());
        impl.ocsp.emplace_back(pair.leaf.get(), std::move(pair.ocsp_der));
      }
    }

    // Session resumption (docs/tls.md, "Session resumption"). Tickets on:
    // stateless tickets only, no server-side cache (no shared cache lock
    // between the workers, no memory per session, and tickets outlive a
    // reload through the shared ring). Tickets off: no TLS 1.3 tickets at
    // all (a stateful TLS 1.3 ticket would need the cache), and TLS 1.2
    // clients resume by session ID from OpenSSL's in-memory cache of the
    // default context, shared by the workers (under OpenSSL's lock) and
    // dropped with this generation on reload.
    if (tickets) {
      SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
      if (keys && !keys->attach(c)) {
        *error = "session ticket keys: " + openssl_reason("unavailable");
        return nullptr;
      }
    } else {
      SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
      SSL_CTX_set_num_tickets(c, 0);
      SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
    }
    // A session lives no longer than its ticket key is sure to be kept.
    SSL_CTX_set_timeout(c, timeout_s);
    if (SSL_CTX_set_session_id_context(c, sid_ctx, sid_ctx_len) != 1) {
      *error = "session id context: " + openssl_reason("failed");
      return nullptr;
    }

    if (config.tls_client_auth != TlsClientAuth::None) {
      X509_STORE_up_ref(ca_store.get());
      SSL_CTX_set_cert_store(c, ca_store.get());
      STACK_OF(X509_NAME)* names = SSL_dup_CA_list(ca_names.get());
      if (names == nullptr) {
        *error = config.tls_client_ca + ": out of memory";
        return nullptr;
      }
      SSL_CTX_set_client_CA_list(c, names);
      if (config.tls_client_auth == TlsClientAuth::Required) {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           nullptr);
      } else {
        SSL_CTX_set_verify(c, SSL_VERIFY_PEER, accept_any_chain);
      }
    }

    // Callbacks on every context: OpenSSL reads some from the context the
    // SSL started with and others from the one SNI switched it to.
    SSL_CTX_set_tlsext_servername_callback(c, Impl::on_servername);
    SSL_CTX_set_tlsext_servername_arg(c, &impl);
    SSL_CTX_set_alpn_select_cb(c, Impl::on_alpn, &impl);
    SSL_CTX_set_tlsext_status_cb(c, Impl::on_status);
    SSL_CTX_set_tlsext_status_arg(c, &impl);

    // 4. SNI: the first set to claim a name keeps it.
    for (const std::string& name : group.names) {
      const bool wildcard = name.size() > 2 && name.compare(0, 2, "*.") == 0;
      auto& table = wildcard ? impl.wildcards : impl.exact;
      const std::string key = wildcard ? name.substr(2) : name;
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const auto& e) { return e.first == key; });
      if (it != table.end()) {
        warnings->push_back(pairs[group.pairs.front()].cert_file + ": " + name +
                            " is already served by an earlier certificate; "
                            "the earlier one is used");
        continue;
      }
      table.emplace_back(key, c);
    }
    impl.contexts.push_back(std::move(ctx));
  }
  std::sort(impl.exact.begin(), impl.exact.end());
  std::sort(impl.wildcards.begin(), impl.wildcards.end());
  ERR_clear_error();
  return set;
}

}  // namespace pounce::tls
