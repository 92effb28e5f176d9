// libFuzzer target: the TLS record -> HTTP glue (host/tls/session), the way
// net/connection.cpp drives it. A server tls::Session, built from a
// ContextSet, gets the input as the client's byte stream, in pieces the
// input chooses; it is read into a small buffer, keeps what it did not use,
// resumes from what it kept (as the loop's idle handle does), answers with
// plaintext once the handshake is done, and is shut down at the end.
//
// Input layout: byte 0 is the mode (below), byte 1 seeds how the rest is
// cut into reads, the rest is what the client sends.
//
// Checked, besides "no crash, no leak, no UB" (ASan/UBSan):
// - read() never reports more than `cap` bytes, nor 0 bytes as Data, nor
//   plaintext before the handshake is done; Failed comes with a reason;
// - read(), write() and shutdown() only append to the wire buffer: what
//   was queued before the call is untouched;
// - a second shutdown() writes nothing.
//
// Deterministic: OpenSSL's randomness comes from a counter that restarts
// with each input (see DeterministicRandom), and the certificates are made
// once per process with fixed dates, so that a recorded client flight
// replays exactly: its Finished and its application data verify, and the
// fuzzer reaches the records after the handshake. Seeds are recorded by
// this binary itself:
//
//   POUNCE_TLS_FUZZ_WRITE_SEEDS=DIR tls_session_fuzz
//
// runs in-memory OpenSSL clients (TLS 1.3 and 1.2, SNI, ALPN) against the
// server session, writes their flights to DIR, checks that each one replays
// to a finished handshake and its plaintext, and exits. run_tls_fuzzer
// does this before each run, so the seeds follow the ContextSet in use.

// RAND_set_rand_method is deprecated in OpenSSL 3 but still consulted
// first by RAND_bytes_ex and RAND_priv_bytes_ex, which is what makes the
// handshake replayable; a provider would do the same with far more code.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/config.h"
#include "http/byte_buffer.h"
#include "tls/context_set.h"
#include "tls/session.h"
#include "tls/ticket_keys.h"

namespace {

using pounce::ByteBuffer;
using pounce::tls::ContextSet;
using pounce::tls::Session;

#define CHECK(cond)                                                     \
  do {                                                                  \
    if (!(cond)) {                                                      \
      fprintf(stderr, "check failed: %s (line %d)\n", #cond, __LINE__); \
      abort();                                                          \
    }                                                                   \
  } while (0)

// ---------------------------------------------------------------------------
// Deterministic randomness

uint64_t splitmix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t label_hash(const char* label) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (const char* p = label; *p; ++p) {
    h = (h ^ static_cast<unsigned char>(*p)) * 0x100000001b3ull;
  }
  return h;
}

// Two streams: the server's, restarted for each input, and the recording
// clients', so that a client's draws do not shift the server's.
uint64_t g_server_state = 0;
uint64_t g_client_state = 0;
uint64_t* g_state = &g_server_state;

int det_bytes(unsigned char* buf, int num) {
  for (int i = 0; i < num; i += 8) {
    uint64_t v = splitmix64(g_state);
    int n = num - i < 8 ? num - i : 8;
    memcpy(buf + i, &v, static_cast<size_t>(n));
  }
  return 1;
}
int det_seed(const void*, int) {
  return 1;
}
int det_add(const void*, int, double) {
  return 1;
}
int det_status() {
  return 1;
}

const RAND_METHOD kDeterministicRandom = {det_seed, det_bytes, nullptr,
                                          det_add,  det_bytes, det_status};

void restart_server_random(const char* label) {
  g_server_state = label_hash(label);
}

// Draws from the clients' stream while alive.
struct ClientRandom {
  ClientRandom() { g_state = &g_client_state; }
  ~ClientRandom() { g_state = &g_server_state; }
};

// ---------------------------------------------------------------------------
// Certificates, made once per process

struct PemFiles {
  std::string cert;
  std::string key;
};

// A P-256 key and a self-signed certificate for `names` (a subjectAltName
// value), valid 2024..2099 so that its bytes do not depend on the date.
PemFiles make_certificate(const std::string& dir, const std::string& stem,
                          const char* cn, const char* names, long serial) {
  restart_server_random(stem.c_str());
  EVP_PKEY* key = EVP_EC_gen("P-256");
  CHECK(key != nullptr);
  X509* x = X509_new();
  CHECK(x != nullptr);
  CHECK(X509_set_version(x, 2) == 1);
  CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1);
  CHECK(ASN1_TIME_set_string_X509(X509_getm_notBefore(x), "20240101000000Z"));
  CHECK(ASN1_TIME_set_string_X509(X509_getm_notAfter(x), "20991231235959Z"));
  X509_NAME* name = X509_get_subject_name(x);
  CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn),
                                   -1, -1, 0) == 1);
  CHECK(X509_set_issuer_name(x, name) == 1);
  CHECK(X509_set_pubkey(x, key) == 1);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* san =
      X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, names);
  CHECK(san != nullptr);
  CHECK(X509_add_ext(x, san, -1) == 1);
  X509_EXTENSION_free(san);
  CHECK(X509_sign(x, key, EVP_sha256()) > 0);

  PemFiles files{dir + "/" + stem + ".pem", dir + "/" + stem + ".key"};
  FILE* f = fopen(files.cert.c_str(), "w");
  CHECK(f != nullptr);
  CHECK(PEM_write_X509(f, x) == 1);
  fclose(f);
  f = fopen(files.key.c_str(), "w");
  CHECK(f != nullptr);
  CHECK(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) ==
        1);
  fclose(f);
  X509_free(x);
  EVP_PKEY_free(key);
  return files;
}

// The server's contexts: a default certificate for localhost and one for
// *.fuzz.test (SNI), built by the ContextSet the host uses. The key files
// live in a temporary directory only while it reads them.
std::shared_ptr<const ContextSet> g_contexts;
std::shared_ptr<pounce::tls::TicketKeys> g_ticket_keys;

void build_contexts() {
  char tmpl[] = "/tmp/pounce-tls-fuzz-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  CHECK(dir != nullptr);
  PemFiles main_pair = make_certificate(dir, "localhost", "localhost",
                                        "DNS:localhost,IP:127.0.0.1", 1);
  PemFiles sni_pair =
      make_certificate(dir, "wildcard", "*.fuzz.test", "DNS:*.fuzz.test", 2);
  pounce::Config config;
  config.tls_certs = {main_pair.cert, sni_pair.cert};
  config.tls_keys = {main_pair.key, sni_pair.key};
  restart_server_random("contexts");
  g_ticket_keys =
      std::make_shared<pounce::tls::TicketKeys>(config.tls_ticket_rotation_ms);
  std::vector<std::string> warnings;
  std::string error;
  g_contexts = ContextSet::build(config, g_ticket_keys, &warnings, &error);
  std::filesystem::remove_all(dir);
  if (!g_contexts) {
    fprintf(stderr, "tls_session_fuzz: ContextSet::build: %s\n", error.c_str());
    abort();
  }
}

// The server as it was before the first input. A TLS 1.2 server draws a
// session ID and draws again while the ID is in its session cache (which
// is the default context's, whatever the SNI chose): with the same draws
// for every input, the cache an earlier input filled would change the
// handshake of the next one.
void start_connection() {
  SSL_CTX_flush_sessions(g_contexts->default_context(), 0);
  restart_server_random("input");
}

// ---------------------------------------------------------------------------
// The connection's way of driving a session

// Byte 0 of the input.
struct Mode {
  size_t cap;        // bits 0-2: the plaintext room per read()
  bool respond;      // bit 3: write() a response after each Data
  bool shutdown;     // bit 4: shutdown() at the end
  bool pause;        // bit 5: stop after one Data, as when a response
                     // is in flight, and resume from the kept bytes
  size_t max_piece;  // bits 6-7: pieces of 1..max_piece bytes (0: whole)
  explicit Mode(uint8_t b) {
    static const size_t kCaps[8] = {16384, 1, 7, 100, 1024, 4096, 16385, 65536};
    static const size_t kPieces[4] = {0, 16, 1024, 8192};
    cap = kCaps[b & 7];
    respond = (b & 8) != 0;
    shutdown = (b & 16) != 0;
    pause = (b & 32) != 0;
    max_piece = kPieces[b >> 6];
  }
};

constexpr char kResponse[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n"
    "\r\nhello";

// Stands for output queued before the call (a response being written).
constexpr char kQueued[] = "queued-before";

struct Outcome {
  bool handshake_done = false;
  bool failed = false;
  bool closed = false;
  std::string plaintext;
  std::string wire;  // everything the server sent
};

class Driver {
 public:
  Driver(Mode mode, std::unique_ptr<Session> s)
      : mode_(mode), s_(std::move(s)), dst_(new char[mode.cap]) {}

  bool done() const { return out_.failed || out_.closed; }
  Outcome& outcome() { return out_; }

  // One socket read: lend it, drain, keep the rest.
  void on_read(const char* data, size_t len) {
    s_->feed(data, len);
    drain();
    if (!done()) CHECK(s_->keep_unread());
  }

  // The idle handle's turn: read what the session holds.
  void resume() {
    if (!done() && s_->has_buffered_input()) drain();
  }

  void finish() {
    // The rest of what was kept, as the loop would, one Data at a time
    // when pausing; bounded: each Data takes at least one kept byte.
    for (size_t guard = 0; guard < 1 + kept_bound_ && !done(); ++guard) {
      if (!s_->has_buffered_input()) break;
      const size_t before = out_.plaintext.size();
      drain();
      if (out_.plaintext.size() == before) break;
    }
    if (mode_.shutdown && !out_.failed) {
      call_with_wire([&](ByteBuffer* w) { s_->shutdown(w); });
      // close_notify goes once.
      const size_t sent = out_.wire.size();
      call_with_wire([&](ByteBuffer* w) { s_->shutdown(w); });
      CHECK(out_.wire.size() == sent);
    }
    out_.handshake_done = s_->handshake_done();
  }

  void note_input(size_t len) { kept_bound_ += len; }

 private:
  // Runs `fn` with a wire buffer that already holds queued bytes, and
  // checks that it only appended to it.
  template <typename Fn>
  void call_with_wire(Fn fn) {
    ByteBuffer wire;
    CHECK(wire.append(kQueued, sizeof kQueued - 1));
    fn(&wire);
    CHECK(wire.size() >= sizeof kQueued - 1);
    CHECK(memcmp(wire.data(), kQueued, sizeof kQueued - 1) == 0);
    out_.wire.append(wire.data() + sizeof kQueued - 1,
                     wire.size() - (sizeof kQueued - 1));
  }

  void drain() {
    for (;;) {
      Session::ReadResult r{Session::Status::NeedInput, 0};
      call_with_wire(
          [&](ByteBuffer* w) { r = s_->read(dst_.get(), mode_.cap, w); });
      switch (r.status) {
        case Session::Status::Data:
          CHECK(r.bytes > 0 && r.bytes <= mode_.cap);
          CHECK(s_->handshake_done());
          out_.plaintext.append(dst_.get(), r.bytes);
          if (mode_.respond) {
            bool ok = true;
            call_with_wire([&](ByteBuffer* w) {
              ok = s_->write(kResponse, sizeof kResponse - 1, w);
            });
            if (!ok) {
              CHECK(!s_->error().empty());
              out_.failed = true;
              return;
            }
          }
          if (mode_.pause) return;
          continue;
        case Session::Status::NeedInput:
          CHECK(r.bytes == 0);
          return;
        case Session::Status::Closed:
          out_.closed = true;
          return;
        case Session::Status::Failed:
          CHECK(!s_->error().empty());
          out_.failed = true;
          return;
      }
    }
  }

  Mode mode_;
  std::unique_ptr<Session> s_;
  std::unique_ptr<char[]> dst_;  // exactly cap bytes: ASan sees overruns
  Outcome out_;
  size_t kept_bound_ = 0;
};

Outcome run(const uint8_t* data, size_t size) {
  Outcome none;
  if (size < 2) return none;
  const Mode mode(data[0]);
  uint64_t cut_state = data[1];
  data += 2;
  size -= 2;
  // The connection answers plain HTTP before making a session.
  if (pounce::tls::looks_like_plain_http(reinterpret_cast<const char*>(data),
                                         size)) {
    return none;
  }
  start_connection();
  std::unique_ptr<Session> s = Session::create(g_contexts);
  CHECK(s != nullptr);
  Driver d(mode, std::move(s));
  size_t at = 0;
  bool resume_next = false;
  while (at < size && !d.done()) {
    size_t n = size - at;
    if (mode.max_piece) {
      n = std::min<size_t>(n, 1 + splitmix64(&cut_state) % mode.max_piece);
    }
    // Each piece from its own exact-size copy, reused by nothing after:
    // the session must have kept what it needs.
    std::unique_ptr<char[]> piece(new char[n]);
    memcpy(piece.get(), data + at, n);
    at += n;
    d.note_input(n);
    d.on_read(piece.get(), n);
    piece.reset();
    // A paused connection resumes from what it kept on some turns only,
    // so that kept bytes and newly lent ones meet in one read.
    if (mode.pause && resume_next) d.resume();
    resume_next = (splitmix64(&cut_state) & 1) != 0;
  }
  d.finish();
  return std::move(d.outcome());
}

// ---------------------------------------------------------------------------
// Seeds: real client flights, recorded against the server session

struct ClientSpec {
  const char* file;
  int max_version;
  const char* ciphers;  // TLS 1.2 list, or nullptr
  const char* sni;      // or nullptr
  std::string alpn;     // wire format, or empty
  std::vector<std::string> requests;
  bool close_notify;
  uint8_t mode;
  bool expect_handshake;
};

std::string alpn(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names) {
    out += static_cast<char>(strlen(n));
    out += n;
  }
  return out;
}

// Runs an OpenSSL client against a server session until the handshake is
// done and the requests are sent; returns everything the client sent.
std::string record_flight(const ClientSpec& spec) {
  SSL_CTX* ctx;
  SSL* ssl;
  BIO* in;
  BIO* out;
  {
    ClientRandom rnd;
    g_client_state = label_hash(spec.file);
    ctx = SSL_CTX_new(TLS_client_method());
    CHECK(ctx != nullptr);
    SSL_CTX_set_max_proto_version(ctx, spec.max_version);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);  // see the TLS 1.2 seeds
    if (spec.ciphers) CHECK(SSL_CTX_set_cipher_list(ctx, spec.ciphers) == 1);
    ssl = SSL_new(ctx);
    CHECK(ssl != nullptr);
    if (spec.sni) CHECK(SSL_set_tlsext_host_name(ssl, spec.sni) == 1);
    if (!spec.alpn.empty()) {
      CHECK(SSL_set_alpn_protos(
                ssl, reinterpret_cast<const unsigned char*>(spec.alpn.data()),
                static_cast<unsigned>(spec.alpn.size())) == 0);
    }
    in = BIO_new(BIO_s_mem());
    out = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl, in, out);
    SSL_set_connect_state(ssl);
  }
  start_connection();
  std::unique_ptr<Session> server = Session::create(g_contexts);
  CHECK(server != nullptr);
  std::string flight;
  bool server_failed = false;
  // Moves the client's output to the server and the server's back.
  auto exchange = [&] {
    char buf[16384];
    std::string sent;
    int n;
    while ((n = BIO_read(out, buf, sizeof buf)) > 0) sent.append(buf, n);
    flight += sent;
    if (sent.empty() || server_failed) return;
    server->feed(sent.data(), sent.size());
    ByteBuffer wire;
    for (;;) {
      auto r = server->read(buf, sizeof buf, &wire);
      if (r.status != Session::Status::Data) {
        server_failed = r.status == Session::Status::Failed;
        break;
      }
    }
    CHECK(server_failed || server->keep_unread());
    if (!wire.empty())
      BIO_write(in, wire.data(), static_cast<int>(wire.size()));
  };
  {
    ClientRandom rnd;
    for (int i = 0; i < 20 && !SSL_is_init_finished(ssl); ++i) {
      ERR_clear_error();
      SSL_do_handshake(ssl);
      {
        struct ServerRandom {
          ServerRandom() { g_state = &g_server_state; }
          ~ServerRandom() { g_state = &g_client_state; }
        } srv;
        exchange();
      }
      if (server_failed) break;
    }
    if (SSL_is_init_finished(ssl)) {
      for (const std::string& req : spec.requests) {
        CHECK(SSL_write(ssl, req.data(), static_cast<int>(req.size())) > 0);
      }
      if (spec.close_notify) SSL_shutdown(ssl);
    }
    char buf[16384];
    int n;
    while ((n = BIO_read(out, buf, sizeof buf)) > 0) flight.append(buf, n);
    ERR_clear_error();
    SSL_free(ssl);
    SSL_CTX_free(ctx);
  }
  return flight;
}

[[noreturn]] void write_seeds(const char* dir) {
  const std::string get =
      "GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: fuzz\r\n\r\n";
  const std::string post_head =
      "POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 40000\r\n"
      "\r\n";
  const std::string h11 = alpn({"http/1.1"});
  // TLS 1.2 clients send no session ticket extension: a ticket carries the
  // time, and in TLS 1.2 it is part of the handshake the Finished covers.
  const std::vector<ClientSpec> specs = {
      {"tls13_sni_alpn",
       TLS1_3_VERSION,
       nullptr,
       "localhost",
       h11,
       {get, get},
       true,
       0x18,
       true},
      {"tls13_pieces_small_reads",
       TLS1_3_VERSION,
       nullptr,
       "localhost",
       h11,
       {get, get},
       true,
       0x59,
       true},
      {"tls13_paused_large_body",
       TLS1_3_VERSION,
       nullptr,
       "localhost",
       h11,
       {post_head, std::string(40000, 'b')},
       true,
       0xbc,
       true},
      {"tls13_wildcard_sni",
       TLS1_3_VERSION,
       nullptr,
       "www.fuzz.test",
       alpn({"h2", "http/1.1"}),
       {get},
       true,
       0x18,
       true},
      {"tls13_no_sni_no_alpn",
       TLS1_3_VERSION,
       nullptr,
       nullptr,
       "",
       {get},
       false,
       0x08,
       true},
      {"tls13_alpn_unsupported",
       TLS1_3_VERSION,
       nullptr,
       "localhost",
       alpn({"spdy/3", "h3"}),
       {get},
       true,
       0x18,
       false},
      {"tls12_ecdsa_gcm",
       TLS1_2_VERSION,
       "ECDHE-ECDSA-AES128-GCM-SHA256",
       "localhost",
       h11,
       {get, get},
       true,
       0x18,
       true},
      {"tls12_chacha_pieces",
       TLS1_2_VERSION,
       "ECDHE-ECDSA-CHACHA20-POLY1305",
       "localhost",
       h11,
       {get},
       true,
       0x7a,
       true},
      {"tls12_wildcard_paused",
       TLS1_2_VERSION,
       "ECDHE-ECDSA-AES256-GCM-SHA384",
       "api.fuzz.test",
       h11,
       {get, get},
       true,
       0xb8,
       true},
  };
  std::filesystem::create_directories(dir);
  for (const ClientSpec& spec : specs) {
    std::string input;
    input += static_cast<char>(spec.mode);
    input += static_cast<char>(0x5a);
    input += record_flight(spec);
    // It must replay: the same handshake, then the requests.
    Outcome o =
        run(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    std::string expected;
    for (const std::string& r : spec.requests) expected += r;
    const bool good = spec.expect_handshake ? o.handshake_done && !o.failed &&
                                                  o.plaintext == expected
                                            : o.failed && !o.handshake_done;
    fprintf(stderr,
            "tls_session_fuzz: seed %-26s %6zu bytes: handshake %s, "
            "%zu plaintext bytes%s%s\n",
            spec.file, input.size(), o.handshake_done ? "done" : "not done",
            o.plaintext.size(), o.closed ? ", close_notify" : "",
            good ? "" : "  <- does not replay as expected");
    if (!good) exit(1);
    const std::string path = std::string(dir) + "/" + spec.file;
    FILE* f = fopen(path.c_str(), "wb");
    CHECK(f != nullptr);
    CHECK(fwrite(input.data(), 1, input.size(), f) == input.size());
    fclose(f);
  }
  exit(0);
}

bool g_verbose = false;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // POUNCE_TLS_FUZZ_VERBOSE=1: one line per input, to see how far a replayed
  // input gets (e.g. that a checked-in seed still finishes its handshake).
  g_verbose = getenv("POUNCE_TLS_FUZZ_VERBOSE") != nullptr;
  CHECK(RAND_set_rand_method(&kDeterministicRandom) == 1);
  build_contexts();
  if (const char* dir = getenv("POUNCE_TLS_FUZZ_WRITE_SEEDS"); dir && *dir) {
    write_seeds(dir);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Outcome o = run(data, size);
  if (g_verbose) {
    fprintf(stderr,
            "tls_session_fuzz: %zu bytes: handshake %s, %zu plaintext bytes, "
            "%zu bytes sent%s%s\n",
            size, o.handshake_done ? "done" : "not done", o.plaintext.size(),
            o.wire.size(), o.failed ? ", failed" : "",
            o.closed ? ", close_notify" : "");
  }
  ERR_clear_error();
  return 0;
}
