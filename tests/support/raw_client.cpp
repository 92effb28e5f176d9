#include "raw_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pounce::test {

namespace {

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

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (iequal(n, name)) return v;
  }
  return std::nullopt;
}

size_t HttpResponse::header_count(std::string_view name) const {
  size_t c = 0;
  for (const auto& [n, v] : headers) c += iequal(n, name);
  return c;
}

RawClient::RawClient(uint16_t port, ClientSocketOptions options) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (options.receive_buffer > 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &options.receive_buffer,
               sizeof options.receive_buffer);
  }
  if (options.max_segment > 0) {
    setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &options.max_segment,
               sizeof options.max_segment);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawClient::~RawClient() {
  if (fd_ >= 0) close(fd_);
}

bool RawClient::send(std::string_view bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n =
        ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

void RawClient::shutdown_write() {
  ::shutdown(fd_, SHUT_WR);
}

bool RawClient::fill(std::chrono::steady_clock::time_point deadline) {
  if (eof_) return false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[65536];
    ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n < 0 && errno == ECONNRESET) reset_ = true;
      eof_ = true;
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

bool RawClient::read_line(std::string* line,
                          std::chrono::steady_clock::time_point d) {
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

bool RawClient::read_exact(size_t n, std::string* out,
                           std::chrono::steady_clock::time_point d) {
  while (buf_.size() < n) {
    if (!fill(d)) return false;
  }
  out->append(buf_, 0, n);
  buf_.erase(0, n);
  return true;
}

std::optional<HttpResponse> RawClient::read_head(
    std::chrono::milliseconds timeout) {
  auto d = std::chrono::steady_clock::now() + timeout;
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

std::optional<std::string> RawClient::read_chunk(
    bool* ended, std::chrono::milliseconds timeout) {
  auto d = std::chrono::steady_clock::now() + timeout;
  *ended = false;
  std::string line;
  if (!read_line(&line, d)) return std::nullopt;
  size_t size = strtoull(line.c_str(), nullptr, 16);
  if (size == 0) {
    for (;;) {  // trailers
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

std::optional<HttpResponse> RawClient::read_response(
    bool head_request, std::chrono::milliseconds timeout) {
  auto d = std::chrono::steady_clock::now() + timeout;
  std::optional<HttpResponse> head = read_head(timeout);
  if (!head) return std::nullopt;
  HttpResponse& r = *head;
  std::string line;
  if (head_request || r.status / 100 == 1 || r.status == 204 ||
      r.status == 304) {
    return head;
  }
  auto te = r.header("Transfer-Encoding");
  if (te && iequal(*te, "chunked")) {
    for (;;) {
      if (!read_line(&line, d)) return std::nullopt;
      size_t size = strtoull(line.c_str(), nullptr, 16);
      if (size == 0) break;
      if (!read_exact(size, &r.body, d)) return std::nullopt;
      std::string crlf;
      if (!read_exact(2, &crlf, d) || crlf != "\r\n") return std::nullopt;
    }
    for (;;) {
      if (!read_line(&line, d)) return std::nullopt;
      if (line.empty()) break;
      size_t colon = line.find(':');
      r.trailers.emplace_back(line.substr(0, colon),
                              trim(line.substr(colon + 1)));
    }
    return r;
  }
  auto cl = r.header("Content-Length");
  if (cl) {
    if (!read_exact(static_cast<size_t>(std::stoull(*cl)), &r.body, d))
      return std::nullopt;
    return r;
  }
  // Close-delimited.
  while (fill(d)) {
  }
  r.body = buf_;
  buf_.clear();
  return r;
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout,
                            std::string* extra) {
  auto d = std::chrono::steady_clock::now() + timeout;
  while (fill(d)) {
  }
  if (extra) *extra = buf_;
  return eof_;
}

std::string RawClient::read_all(std::chrono::milliseconds timeout) {
  auto d = std::chrono::steady_clock::now() + timeout;
  while (fill(d)) {
  }
  std::string out = buf_;
  buf_.clear();
  return out;
}

std::string RawClient::read_some(std::chrono::milliseconds timeout) {
  if (buf_.empty()) fill(std::chrono::steady_clock::now() + timeout);
  std::string out;
  out.swap(buf_);
  return out;
}

bool RawClient::stays_open(std::chrono::milliseconds quiet) {
  auto d = std::chrono::steady_clock::now() + quiet;
  size_t before = buf_.size();
  fill(d);
  return !eof_ && buf_.size() == before;
}

std::optional<HttpResponse> one_request(uint16_t port, std::string_view bytes) {
  RawClient c(port);
  if (!c.connected() || !c.send(bytes)) return std::nullopt;
  return c.read_response();
}

}  // namespace pounce::test
