#include "bench/idle_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "bench/proc_stats.h"

namespace pounce::bench {

namespace {

// Blocking I/O on loopback: a server that takes this long to answer a
// handshake is broken, not slow.
constexpr int kIoTimeoutS = 5;

// The server's memory after the last connection is read until it stops
// moving (it may still be accepting the last ones), at most this long.
constexpr auto kSettleStep = std::chrono::milliseconds(200);
constexpr int kSettleSteps = 10;

struct Conn {
  int fd = -1;
  SSL* ssl = nullptr;
  nghttp2_session* session = nullptr;
  bool got_settings = false;  // the server's (non-ACK) SETTINGS
  bool goaway = false;

  ~Conn() {
    if (session) nghttp2_session_del(session);
    if (ssl) SSL_free(ssl);
    if (fd >= 0) close(fd);
  }
};

int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame, void* data) {
  Conn* c = static_cast<Conn*>(data);
  if (frame->hd.type == NGHTTP2_SETTINGS &&
      !(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
    c->got_settings = true;
  }
  if (frame->hd.type == NGHTTP2_GOAWAY) c->goaway = true;
  return 0;
}

bool write_all(Conn* c, const uint8_t* data, size_t len) {
  while (len > 0) {
    ssize_t n;
    if (c->ssl) {
      n = SSL_write(c->ssl, data, static_cast<int>(len));
    } else {
      n = send(c->fd, data, len, MSG_NOSIGNAL);
    }
    if (n <= 0) return false;
    data += n;
    len -= static_cast<size_t>(n);
  }
  return true;
}

// > 0: bytes; 0: EOF or error; -1: nothing now (non-blocking only).
ssize_t read_some(Conn* c, uint8_t* buf, size_t cap) {
  if (c->ssl) {
    int n = SSL_read(c->ssl, buf, static_cast<int>(cap));
    if (n > 0) return n;
    int e = SSL_get_error(c->ssl, n);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? -1 : 0;
  }
  ssize_t n = recv(c->fd, buf, cap, 0);
  if (n > 0) return n;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return -1;
  return 0;
}

// What nghttp2 has queued (the preface and SETTINGS, then the ACK).
bool flush(Conn* c) {
  for (;;) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) return false;
    if (n == 0) return true;
    if (!write_all(c, data, static_cast<size_t>(n))) return false;
  }
}

bool open_one(const IdleConfig& config, SSL_CTX* ctx,
              nghttp2_session_callbacks* callbacks, Conn* c,
              std::string* error) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return false;
  }
  timeval tv{kIoTimeoutS, 0};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(config.port);
  inet_pton(AF_INET, config.host.c_str(), &sa.sin_addr);
  if (connect(c->fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    *error = std::string("connect: ") + strerror(errno);
    return false;
  }
  if (ctx) {
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    if (SSL_connect(c->ssl) != 1) {
      *error = "TLS handshake failed";
      return false;
    }
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(c->ssl, &alpn, &alpn_len);
    if (config.h2 && !(alpn_len == 2 && memcmp(alpn, "h2", 2) == 0)) {
      *error = "the server did not select ALPN h2";
      return false;
    }
  }
  if (!config.h2) return true;
  if (nghttp2_session_client_new(&c->session, callbacks, c) != 0 ||
      nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, nullptr, 0) != 0 ||
      !flush(c)) {
    *error = "cannot send the HTTP/2 preface";
    return false;
  }
  uint8_t buf[4096];
  while (!c->got_settings) {
    ssize_t n = read_some(c, buf, sizeof buf);
    if (n <= 0) {
      *error = "no SETTINGS from the server";
      return false;
    }
    if (nghttp2_session_mem_recv(c->session, buf, static_cast<size_t>(n)) < 0) {
      *error = "the server's first frames are not HTTP/2";
      return false;
    }
  }
  if (c->goaway || !flush(c)) {  // the SETTINGS ACK
    *error = "the server refused the connection (GOAWAY)";
    return false;
  }
  return true;
}

// True when the server has closed `c`, or sent GOAWAY on it, by now.
bool closed_by_server(Conn* c) {
  int flags = fcntl(c->fd, F_GETFL);
  fcntl(c->fd, F_SETFL, flags | O_NONBLOCK);
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = read_some(c, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0) break;
    if (c->session &&
        nghttp2_session_mem_recv(c->session, buf, static_cast<size_t>(n)) < 0) {
      return true;
    }
  }
  return c->goaway;
}

}  // namespace

uint64_t tree_rss_kib(pid_t root) {
  uint64_t total = 0;
  for (pid_t p : process_tree(root)) {
    std::ifstream in("/proc/" + std::to_string(p) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        total += std::strtoull(line.c_str() + 6, nullptr, 10);
        break;
      }
    }
  }
  return total;
}

IdleResult measure_idle(const IdleConfig& config, pid_t server) {
  IdleResult r;
  r.protocol = config.h2 ? (config.tls ? "h2" : "h2c") : "http/1.1";
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(nullptr, SSL_CTX_free);
  if (config.tls) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    // Length-prefixed ALPN lists.
    static const unsigned char kH2[] = "\x02h2";
    static const unsigned char kH1[] = "\x08http/1.1";
    if (config.h2) {
      SSL_CTX_set_alpn_protos(ctx.get(), kH2, sizeof kH2 - 1);
    } else {
      SSL_CTX_set_alpn_protos(ctx.get(), kH1, sizeof kH1 - 1);
    }
  }
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks,
                                                       on_frame_recv);

  r.rss_before_kib = tree_rss_kib(server);
  std::vector<std::unique_ptr<Conn>> conns;
  conns.reserve(config.connections);
  for (unsigned i = 0; i < config.connections; ++i) {
    auto c = std::make_unique<Conn>();
    std::string why;
    if (open_one(config, ctx.get(), callbacks, c.get(), &why)) {
      conns.push_back(std::move(c));
    } else {
      ++r.failed;
      if (r.error.empty()) r.error = why;
    }
  }
  r.opened = static_cast<unsigned>(conns.size());
  // Until two reads agree: the server may still be accepting the last.
  uint64_t last = tree_rss_kib(server);
  for (int i = 0; i < kSettleSteps; ++i) {
    std::this_thread::sleep_for(kSettleStep);
    uint64_t now = tree_rss_kib(server);
    if (now == last) break;
    last = now;
  }
  r.rss_after_kib = last;
  for (auto& c : conns) {
    if (closed_by_server(c.get())) ++r.closed;
  }
  if (r.closed && r.error.empty()) {
    r.error = std::to_string(r.closed) +
              " connections were closed by the server before their memory "
              "was read";
  }
  if (r.opened > 0 && r.rss_before_kib > 0) {
    double delta = static_cast<double>(r.rss_after_kib) -
                   static_cast<double>(r.rss_before_kib);
    r.bytes_per_connection = delta * 1024 / r.opened;
  }
  nghttp2_session_callbacks_del(callbacks);
  return r;
}

}  // namespace pounce::bench
