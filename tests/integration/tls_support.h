// TLS clients for the integration tests that talk to https listeners: a
// throwaway certificate made with the `openssl` CLI, an HTTP/1.1 client over
// a real OpenSSL client session (exact bytes, record boundaries and how the
// server closed), and raw ClientHello bytes for the bad-input tests.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "raw_client.h"

namespace pounce::test {

// A self-signed ECDSA P-256 certificate for "localhost" (and 127.0.0.1 and
// ::1) in a fresh temporary directory, removed with the object. Keys are
// made at run time, never committed.
class TempCert {
 public:
  TempCert();
  ~TempCert();
  TempCert(const TempCert&) = delete;
  TempCert& operator=(const TempCert&) = delete;

  bool ok() const { return ok_; }
  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }
  const std::string& cert() const { return cert_; }
  const std::string& key() const { return key_; }
  // The host arguments that serve this certificate.
  std::vector<std::string> host_args() const {
    return {"--tls-cert", cert_, "--tls-key", key_};
  }

 private:
  bool ok_ = false;
  std::string error_;
  std::string dir_;
  std::string cert_;
  std::string key_;
};

struct TlsClientOptions {
  bool ipv6 = false;              // connect to [::1] instead of 127.0.0.1
  std::string sni = "localhost";  // empty: no server_name extension
  int max_version = 0;            // e.g. TLS1_2_VERSION; 0: the library's
  std::string ca_file;            // verify the server against it when set
  std::vector<std::string> alpn = {"http/1.1"};
  ClientSocketOptions socket;
  // > 0: a private ClientHello extension of this many bytes (a ClientHello
  // past one record's 16 KiB).
  size_t hello_padding = 0;
  std::chrono::milliseconds handshake_timeout = std::chrono::seconds(10);
};

// How the server ended the connection, as the client saw it.
enum class TlsClose {
  StillOpen,    // nothing within the timeout
  CloseNotify,  // a close_notify alert (then, usually, the FIN)
  Eof,          // the FIN without a close_notify
  Reset,        // ECONNRESET
  Error,        // a TLS error (an alert, a bad record)
};
const char* to_string(TlsClose c);

class TlsClient {
 public:
  // Connects and completes the handshake; connected() tells whether both
  // worked, error() why not.
  explicit TlsClient(uint16_t port, TlsClientOptions options = {});
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return ssl_ != nullptr && handshake_ok_; }
  const std::string& error() const { return error_; }
  SSL* ssl() const { return ssl_; }
  int fd() const { return fd_; }
  // Handshakes started on this connection (the first one included): a
  // renegotiation or a second handshake would count.
  int handshakes() const { return handshakes_; }

  // One SSL_write: OpenSSL cuts it into records of at most 16 KiB.
  bool send(std::string_view bytes);
  // Each piece its own record (SSL_write per piece), all of them sent in
  // one TCP write where the kernel allows (corked): the server sees several
  // records in one read, split wherever the pieces split.
  bool send_records(const std::vector<std::string>& pieces);

  std::optional<HttpResponse> read_response(
      bool head_request = false,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<HttpResponse> read_head(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::optional<std::string> read_chunk(
      bool* ended,
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Plaintext until the connection ends or the timeout passes.
  std::string read_all(
      std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Buffered plaintext, or what arrives next (at least one byte unless the
  // connection ended or the timeout passed).
  std::string read_some(std::chrono::milliseconds timeout);
  // Waits for the end of the connection; *extra gets plaintext that came
  // first. StillOpen on timeout. After a close_notify, also waits for the
  // FIN (the server's socket is closed then).
  TlsClose wait_closed(
      std::chrono::milliseconds timeout = std::chrono::seconds(10),
      std::string* extra = nullptr);
  // How the connection ended, once it did (StillOpen before).
  TlsClose close_kind() const { return closed_; }

  // Sends this side's close_notify (the end of what it sends).
  bool send_close_notify();

  // A TLS 1.2 renegotiation from this side: true when the server completed
  // it (which it must not).
  bool renegotiate(std::chrono::milliseconds timeout);

 private:
  bool handshake(std::chrono::steady_clock::time_point deadline);
  bool wait_fd(short events, std::chrono::steady_clock::time_point deadline);
  bool fill(std::chrono::steady_clock::time_point deadline);
  bool read_line(std::string* line, std::chrono::steady_clock::time_point d);
  bool read_exact(size_t n, std::string* out,
                  std::chrono::steady_clock::time_point d);
  static void info_callback(const SSL* ssl, int where, int ret);

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool handshake_ok_ = false;
  int handshakes_ = 0;
  TlsClose closed_ = TlsClose::StillOpen;
  std::string padding_;  // the extension's bytes, while ctx_ lives
  std::string buf_;
  std::string error_;
};

// The ClientHello a real OpenSSL client sends first, as bytes on the wire
// (one or more handshake records). `extra_extension` > 0 adds a private
// extension of that many bytes (a ClientHello past 16 KiB spans records).
std::string client_hello(const std::string& sni = "localhost",
                         size_t extra_extension = 0);

// The serving process's resident set, in KiB (VmRSS); 0 when unreadable.
long rss_kib(pid_t pid);

}  // namespace pounce::test
