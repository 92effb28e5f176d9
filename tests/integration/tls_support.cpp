#include "tls_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "host_process.h"

namespace pounce::test {

namespace {

using Clock = std::chrono::steady_clock;

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (tolower(static_cast<unsigned char>(a[i])) !=
        tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.pop_back();
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  return s.substr(i);
}

std::string openssl_errors() {
  std::string out;
  char buf[256];
  while (unsigned long e = ERR_get_error()) {
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

// A private ClientHello extension of a chosen size: a ClientHello past the
// 16 KiB of one record, made by a real OpenSSL client.
constexpr unsigned kPaddingExtension = 0x5043;

int add_padding(SSL*, unsigned, unsigned, const unsigned char** out,
                size_t* outlen, X509*, size_t, int*, void* arg) {
  auto* pad = static_cast<std::string*>(arg);
  *out = reinterpret_cast<const unsigned char*>(pad->data());
  *outlen = pad->size();
  return 1;
}

// A socket BIO that writes with MSG_NOSIGNAL: a server that closed first
// must give this client EPIPE, not kill the test process with SIGPIPE.
int bio_sock_read(BIO* b, char* out, int len) {
  BIO_clear_retry_flags(b);
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  ssize_t n = recv(fd, out, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(b);
  }
  return static_cast<int>(n);
}

int bio_sock_write(BIO* b, const char* in, int len) {
  BIO_clear_retry_flags(b);
  int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(b)));
  ssize_t n = ::send(fd, in, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(b);
  }
  return static_cast<int>(n);
}

long bio_sock_ctrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

BIO* socket_bio(int fd) {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m =
        BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "test socket");
    BIO_meth_set_read(m, bio_sock_read);
    BIO_meth_set_write(m, bio_sock_write);
    BIO_meth_set_ctrl(m, bio_sock_ctrl);
    return m;
  }();
  BIO* b = BIO_new(method);
  if (!b) return nullptr;
  BIO_set_data(b, reinterpret_cast<void*>(static_cast<intptr_t>(fd)));
  BIO_set_init(b, 1);
  return b;
}

SSL_CTX* client_context(const TlsClientOptions& o, std::string* padding) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return nullptr;
  if (o.max_version) SSL_CTX_set_max_proto_version(ctx, o.max_version);
  if (!o.ca_file.empty()) {
    SSL_CTX_load_verify_locations(ctx, o.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!o.alpn.empty()) {
    std::string wire;
    for (const auto& p : o.alpn) {
      wire += static_cast<char>(p.size());
      wire += p;
    }
    SSL_CTX_set_alpn_protos(ctx,
                            reinterpret_cast<const unsigned char*>(wire.data()),
                            static_cast<unsigned>(wire.size()));
  }
  if (!padding->empty()) {
    SSL_CTX_add_custom_ext(ctx, kPaddingExtension, SSL_EXT_CLIENT_HELLO,
                           add_padding, nullptr, padding, nullptr, nullptr);
  }
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

}  // namespace

const char* to_string(TlsClose c) {
  switch (c) {
    case TlsClose::StillOpen:
      return "still open";
    case TlsClose::CloseNotify:
      return "close_notify";
    case TlsClose::Eof:
      return "EOF without close_notify";
    case TlsClose::Reset:
      return "reset";
    case TlsClose::Error:
      return "TLS error";
  }
  return "?";
}

// ---------------------------------------------------------------------------
// TempCert

TempCert::TempCert() {
  char tmpl[] = "/tmp/pounce-tls-XXXXXX";
  if (!mkdtemp(tmpl)) {
    error_ = std::string("mkdtemp: ") + strerror(errno);
    return;
  }
  dir_ = tmpl;
  cert_ = dir_ + "/cert.pem";
  key_ = dir_ + "/key.pem";
  CommandResult r =
      run_command({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                   "ec_paramgen_curve:P-256", "-nodes", "-keyout", key_, "-out",
                   cert_, "-days", "2", "-subj", "/CN=localhost", "-addext",
                   "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"});
  ok_ = r.status == 0;
  if (!ok_) error_ = "openssl req failed: " + r.err;
}

TempCert::~TempCert() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

// ---------------------------------------------------------------------------
// TlsClient

TlsClient::TlsClient(uint16_t port, TlsClientOptions o) {
  fd_ = socket(o.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + strerror(errno);
    return;
  }
  if (o.socket.receive_buffer > 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &o.socket.receive_buffer,
               sizeof o.socket.receive_buffer);
  }
  int rc;
  if (o.ipv6) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    rc = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (rc != 0) {
    error_ = std::string("connect: ") + strerror(errno);
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);

  padding_.assign(o.hello_padding, 'p');
  ctx_ = client_context(o, &padding_);
  ssl_ = ctx_ ? SSL_new(ctx_) : nullptr;
  if (!ssl_) {
    error_ = "SSL_new: " + openssl_errors();
    return;
  }
  SSL_set_app_data(ssl_, this);
  SSL_set_info_callback(ssl_, info_callback);
  BIO* bio = socket_bio(fd_);
  if (!bio) {
    error_ = "BIO_new failed";
    return;
  }
  SSL_set_bio(ssl_, bio, bio);
  if (!o.sni.empty()) SSL_set_tlsext_host_name(ssl_, o.sni.c_str());
  if (!o.ca_file.empty() && !o.sni.empty()) SSL_set1_host(ssl_, o.sni.c_str());
  SSL_set_connect_state(ssl_);
  handshake_ok_ = handshake(Clock::now() + o.handshake_timeout);
}

TlsClient::~TlsClient() {
  if (ssl_) SSL_free(ssl_);
  if (ctx_) SSL_CTX_free(ctx_);
  if (fd_ >= 0) close(fd_);
}

void TlsClient::info_callback(const SSL* ssl, int where, int) {
  // One per handshake (OpenSSL does not signal TLS 1.3's post-handshake
  // messages, such as tickets, as handshakes).
  if (where & SSL_CB_HANDSHAKE_START) {
    auto* c = static_cast<TlsClient*>(SSL_get_app_data(ssl));
    ++c->handshakes_;
  }
}

bool TlsClient::wait_fd(short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, events, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

bool TlsClient::handshake(Clock::time_point deadline) {
  for (;;) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) return true;
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      if (!wait_fd(POLLIN, deadline)) break;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(POLLOUT, deadline)) break;
    } else {
      error_ = "handshake failed (" + std::to_string(err) +
               "): " + openssl_errors() + " errno " + strerror(errno);
      return false;
    }
  }
  error_ = "handshake timed out";
  return false;
}

bool TlsClient::send(std::string_view bytes) {
  if (!connected()) return false;
  auto deadline = Clock::now() + std::chrono::seconds(30);
  size_t off = 0;
  while (off < bytes.size()) {
    ERR_clear_error();
    size_t n = 0;
    int rc = SSL_write_ex(ssl_, bytes.data() + off, bytes.size() - off, &n);
    if (rc == 1) {
      off += n;
      continue;
    }
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      // While the socket is full, take what the server sends meanwhile: a
      // server answering pipelined requests must not wait on us.
      pollfd p{fd_, static_cast<short>(POLLIN | POLLOUT), 0};
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - Clock::now());
      if (left.count() <= 0) return false;
      if (poll(&p, 1, static_cast<int>(left.count())) < 0 && errno != EINTR) {
        return false;
      }
      if (p.revents & POLLIN) {
        char tmp[16384];
        size_t got = 0;
        ERR_clear_error();
        if (SSL_read_ex(ssl_, tmp, sizeof tmp, &got) == 1) {
          buf_.append(tmp, got);
        }
      }
      continue;
    }
    error_ = "write failed: " + openssl_errors();
    return false;
  }
  return true;
}

bool TlsClient::send_records(const std::vector<std::string>& pieces) {
  int on = 1, off = 0;
  setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &on, sizeof on);
  bool ok = true;
  for (const auto& p : pieces) {
    if (!(ok = send(p))) break;
  }
  setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &off, sizeof off);
  return ok;
}

bool TlsClient::fill(Clock::time_point deadline) {
  if (!connected() || closed_ != TlsClose::StillOpen) return false;
  for (;;) {
    char tmp[65536];
    size_t n = 0;
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read_ex(ssl_, tmp, sizeof tmp, &n);
    if (rc == 1) {
      buf_.append(tmp, n);
      return true;
    }
    int err = SSL_get_error(ssl_, rc);
    switch (err) {
      case SSL_ERROR_WANT_READ:
        if (!wait_fd(POLLIN, deadline)) return false;
        continue;
      case SSL_ERROR_WANT_WRITE:
        if (!wait_fd(POLLOUT, deadline)) return false;
        continue;
      case SSL_ERROR_ZERO_RETURN:
        closed_ = TlsClose::CloseNotify;
        return false;
      case SSL_ERROR_SYSCALL:
        closed_ = errno == ECONNRESET ? TlsClose::Reset : TlsClose::Eof;
        return false;
      default: {
        unsigned long e = ERR_peek_error();
        closed_ = ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING
                      ? TlsClose::Eof
                      : TlsClose::Error;
        if (closed_ == TlsClose::Error) error_ = openssl_errors();
        ERR_clear_error();
        return false;
      }
    }
  }
}

bool TlsClient::read_line(std::string* line, Clock::time_point d) {
  for (;;) {
    size_t pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      *line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return true;
    }
    if (!fill(d)) return false;
  }
}

bool TlsClient::read_exact(size_t n, std::string* out, Clock::time_point d) {
  while (buf_.size() < n) {
    if (!fill(d)) return false;
  }
  out->append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

std::optional<HttpResponse> TlsClient::read_head(
    std::chrono::milliseconds timeout) {
  auto d = Clock::now() + timeout;
  HttpResponse r;
  std::string line;
  if (!read_line(&line, d)) return std::nullopt;
  size_t sp1 = line.find(' ');
  if (sp1 == std::string::npos) return std::nullopt;
  r.version = line.substr(0, sp1);
  r.status = atoi(line.c_str() + sp1 + 1);
  size_t sp2 = line.find(' ', sp1 + 1);
  r.reason = sp2 == std::string::npos ? "" : line.substr(sp2 + 1);
  for (;;) {
    if (!read_line(&line, d)) return std::nullopt;
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    r.headers.emplace_back(line.substr(0, colon), trim(line.substr(colon + 1)));
  }
  return r;
}

std::optional<std::string> TlsClient::read_chunk(
    bool* ended, std::chrono::milliseconds timeout) {
  auto d = Clock::now() + timeout;
  *ended = false;
  std::string line;
  if (!read_line(&line, d)) return std::nullopt;
  size_t size = strtoull(line.c_str(), nullptr, 16);
  if (size == 0) {
    for (;;) {
      if (!read_line(&line, d)) return std::nullopt;
      if (line.empty()) break;
    }
    *ended = true;
    return std::nullopt;
  }
  std::string data;
  if (!read_exact(size, &data, d)) return std::nullopt;
  std::string crlf;
  if (!read_exact(2, &crlf, d) || crlf != "\r\n") return std::nullopt;
  return data;
}

std::optional<HttpResponse> TlsClient::read_response(
    bool head_request, std::chrono::milliseconds timeout) {
  auto d = Clock::now() + timeout;
  std::optional<HttpResponse> head = read_head(timeout);
  if (!head) return std::nullopt;
  HttpResponse& r = *head;
  if (head_request || r.status / 100 == 1 || r.status == 204 ||
      r.status == 304) {
    return head;
  }
  auto te = r.header("Transfer-Encoding");
  if (te && iequal(*te, "chunked")) {
    bool ended = false;
    while (auto chunk = read_chunk(
               &ended, std::chrono::duration_cast<std::chrono::milliseconds>(
                           d - Clock::now()))) {
      r.body += *chunk;
    }
    if (!ended) return std::nullopt;
    return head;
  }
  if (auto cl = r.header("Content-Length")) {
    if (!read_exact(strtoull(cl->c_str(), nullptr, 10), &r.body, d)) {
      return std::nullopt;
    }
    return head;
  }
  while (fill(d)) {
  }
  r.body += buf_;
  buf_.clear();
  if (closed_ == TlsClose::StillOpen) return std::nullopt;
  return head;
}

std::string TlsClient::read_all(std::chrono::milliseconds timeout) {
  auto d = Clock::now() + timeout;
  while (fill(d)) {
  }
  std::string out;
  out.swap(buf_);
  return out;
}

std::string TlsClient::read_some(std::chrono::milliseconds timeout) {
  if (buf_.empty()) fill(Clock::now() + timeout);
  std::string out;
  out.swap(buf_);
  return out;
}

TlsClose TlsClient::wait_closed(std::chrono::milliseconds timeout,
                                std::string* extra) {
  auto d = Clock::now() + timeout;
  while (fill(d)) {
  }
  if (extra) *extra += buf_;
  buf_.clear();
  if (closed_ == TlsClose::CloseNotify) {
    // And the FIN behind it: the server's socket is closed by then.
    while (wait_fd(POLLIN, d)) {
      char tmp[4096];
      ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0 && !(n < 0 && errno == EINTR)) break;
    }
  }
  return closed_;
}

bool TlsClient::send_close_notify() {
  if (!connected()) return false;
  ERR_clear_error();
  // 0: ours is sent, the peer's not seen yet; reads go on as before.
  return SSL_shutdown(ssl_) >= 0;
}

bool TlsClient::renegotiate(std::chrono::milliseconds timeout) {
  if (!connected()) return false;
  auto d = Clock::now() + timeout;
  if (SSL_renegotiate(ssl_) != 1) {
    error_ = "SSL_renegotiate: " + openssl_errors();
    return false;
  }
  for (;;) {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_);
    if (rc == 1) return !SSL_renegotiate_pending(ssl_);
    int err = SSL_get_error(ssl_, rc);
    if (err == SSL_ERROR_WANT_READ) {
      if (!wait_fd(POLLIN, d)) break;
    } else if (err == SSL_ERROR_WANT_WRITE) {
      if (!wait_fd(POLLOUT, d)) break;
    } else {
      error_ = "renegotiation failed: " + openssl_errors();
      return false;
    }
  }
  error_ = "renegotiation timed out";
  return false;
}

// ---------------------------------------------------------------------------

std::string client_hello(const std::string& sni, size_t extra_extension) {
  TlsClientOptions o;
  std::string padding(extra_extension, 'p');
  SSL_CTX* ctx = client_context(o, &padding);
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
  SSL_set_connect_state(ssl);
  (void)SSL_do_handshake(ssl);  // WANT_READ, with the ClientHello written
  char* data = nullptr;
  long len = BIO_get_mem_data(wbio, &data);
  std::string out(data, len > 0 ? static_cast<size_t>(len) : 0);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return out;
}

long rss_kib(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace pounce::test
