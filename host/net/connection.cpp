#include "net/connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstring>

#include "http/path_normalize.h"
#include "http/status_text.h"
#include "log/logger.h"
#include "net/event_loop.h"
#include "plugin/generation.h"

namespace pounce {

namespace {

// Past this much serialized output, pipelined requests pause until the
// socket has taken it: a client cannot make the server buffer without bound.
constexpr size_t kOutputHighWater = 1024 * 1024;
// uv_write slices, so that the write timeout sees progress on big bodies.
constexpr size_t kWriteSlice = 256 * 1024;
// The lingering close reads at most this much, for at most 1 s.
constexpr size_t kLingerMaxBytes = 64 * 1024;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kServerHeader = "Server: pounce\r\n";

uint64_t now_ns() { return uv_hrtime(); }

// Paths that cannot change under normalization skip it: no escapes and no
// dot segments is the common case.
bool needs_normalization(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') return true;
    if (c == '.' && i > 0 && path[i - 1] == '/') return true;
  }
  return path.empty() || path[0] != '/';
}

}  // namespace

// ---------------------------------------------------------------------------
// Life cycle

Connection::Connection(EventLoop* loop) : loop_(loop) {
  memset(&write_req_, 0, sizeof write_req_);
}

Connection::~Connection() = default;

bool Connection::init_socket() {
  if (uv_tcp_init(loop_->uv(), &tcp_) != 0) return false;
  tcp_.data = this;
  return true;
}

Connection* Connection::accept_from(EventLoop* loop, uv_stream_t* server) {
  auto* c = new Connection(loop);
  if (!c->init_socket()) {
    delete c;
    return nullptr;
  }
  int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp_));
  if (rc != 0) {
    LOG_WARN("accept failed: %s", uv_strerror(rc));
    c->phase_ = Phase::Closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return nullptr;
  }
  c->start();
  return c;
}

Connection* Connection::adopt_fd(EventLoop* loop, int fd) {
  auto* c = new Connection(loop);
  if (!c->init_socket()) {
    ::close(fd);
    delete c;
    return nullptr;
  }
  int rc = uv_tcp_open(&c->tcp_, fd);
  if (rc != 0) {
    LOG_WARN("cannot adopt socket: %s", uv_strerror(rc));
    ::close(fd);
    c->phase_ = Phase::Closing;
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_),
             [](uv_handle_t* h) { delete static_cast<Connection*>(h->data); });
    return nullptr;
  }
  c->start();
  return c;
}

void Connection::start() {
  loop_->add_connection(this);
  // Responses are written whole; Nagle would only delay the last segment.
  uv_tcp_nodelay(&tcp_, 1);
  const size_t limit = loop_->connection_limit();
  if (loop_->connection_count() > limit + limit / 8 + 64) {
    // Far over the limit even the 503 costs too much: close at once.
    close_now();
    return;
  }
  if (loop_->connection_count() > limit) {
    respond_error(http::ErrorCode::TooManyConnections, nullptr);
    after_input();
    return;
  }
  // The first request's head must arrive within --header-timeout of the
  // accept; with no byte at all, the close is silent.
  loop_->timeouts().arm(this, TimeoutKind::Header);
  start_reading();
}

void Connection::close_now() {
  if (phase_ == Phase::Closing) return;
  phase_ = Phase::Closing;
  loop_->timeouts().disarm(this);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
}

void Connection::on_close(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  EventLoop* loop = c->loop_;
  loop->remove_connection(c);
  delete c;
  loop->maybe_finish();
}

void Connection::begin_drain() {
  if (phase_ == Phase::Closing || phase_ == Phase::Lingering) return;
  if (phase_ == Phase::Idle && !write_in_flight_ && !input_pending()) {
    close_now();
    return;
  }
  // In flight: the response will carry Connection: close (serve() checks
  // loop_->draining()).
}

void Connection::force_close() { close_now(); }

bool Connection::input_pending() {
  // A request the kernel holds but the loop has not read yet is in flight,
  // not idle: closing now would drop it unanswered.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return false;
  char byte;
  return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// ---------------------------------------------------------------------------
// Reading

void Connection::start_reading() {
  if (reading_ || phase_ == Phase::Closing) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc,
                    on_read) == 0) {
    reading_ = true;
  }
}

void Connection::stop_reading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(h->data);
  EventLoop* loop = c->loop_;
  if (c->phase_ == Phase::Lingering || c->in_.empty()) {
    // Lent for this one read: on_read either consumes it or copies the tail.
    *buf = uv_buf_init(loop->read_buffer(), EventLoop::kReadBufferSize);
    return;
  }
  // A request is partial: read straight behind it.
  size_t want = 16 * 1024;
  if (c->phase_ == Phase::Body && !c->chunked_) {
    uint64_t missing = c->head_size_ + c->content_length_ - c->in_.size();
    if (missing < want) want = static_cast<size_t>(missing);
    if (want == 0) want = 1;
  }
  char* p = c->in_.prepare(want);
  *buf = uv_buf_init(p, static_cast<unsigned>(c->in_.capacity() - c->in_.size()));
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (nread == 0) return;
  if (nread < 0) {
    // EOF or a reset. A partial request is abandoned; nothing can be sent.
    if (nread != UV_EOF && c->phase_ != Phase::Lingering) {
      LOG_DEBUG("read error from %s: %s", c->peer_text().c_str(),
                uv_strerror(static_cast<int>(nread)));
    }
    c->close_now();
    return;
  }
  if (c->phase_ == Phase::Lingering) {
    c->lingered_bytes_ += static_cast<size_t>(nread);
    if (c->lingered_bytes_ >= kLingerMaxBytes) c->close_now();
    return;
  }
  if (c->phase_ == Phase::Closing) return;
  if (c->loop_->config().access_log) c->read_started_ns_ = now_ns();
  if (buf->base == c->loop_->read_buffer()) {
    c->handle_read(buf->base, static_cast<size_t>(nread), false);
  } else {
    c->in_.commit(static_cast<size_t>(nread));
    c->handle_read(c->in_.data(), c->in_.size(), true);
  }
}

void Connection::handle_read(char* data, size_t len, bool owned) {
  if (phase_ == Phase::Body) {
    // Body bytes were read into in_ behind what was there.
    if (!continue_body()) {
      after_input();
      return;
    }
    data = in_.data();
    len = in_.size();
    owned = true;
  }
  size_t used = serve_requests(data, len, owned);
  if (phase_ == Phase::Body || phase_ == Phase::Closing) {
    // enter_body() moved what it needs into in_; a close dropped the rest.
  } else if (close_after_write_) {
    in_.release();
  } else if (owned) {
    in_.consume(used);
    if (in_.empty()) in_.release();
  } else if (used < len) {
    in_.append(data + used, len - used);
  }
  after_input();
}

size_t Connection::serve_requests(char* data, size_t len, bool owned) {
  const Config& cfg = loop_->config();
  const http::HeadLimits head_limits{cfg.max_header_size, cfg.max_headers};
  size_t off = 0;
  while (off < len) {
    if (close_after_write_ || phase_ == Phase::Closing) return len;
    if (loop_->out().size() >= kOutputHighWater) {
      flush_output();
      if (write_in_flight_) break;  // resume when the socket took it
    }
    phase_ = Phase::Head;
    http::RequestHead head;
    http::ParseResult pr =
        http::parse_request_head(data + off, len - off, head_limits,
                                 loop_->header_storage(), &head);
    if (pr.status == http::ParseStatus::Incomplete) break;
    if (pr.status == http::ParseStatus::Error) {
      respond_error(pr.error, nullptr);
      return len;
    }
    size_t head_end = off + head.head_size;
    size_t avail = len - head_end;

    if (head.body_kind == http::BodyKind::None) {
      serve(head, {}, nullptr, 0);
      off = head_end;
      continue;
    }
    if (head.body_kind == http::BodyKind::ContentLength) {
      if (head.content_length > cfg.max_body_size) {
        // Answered before reading: a 100-continue client never sends it.
        respond_error(http::ErrorCode::BodyTooLarge, &head);
        return len;
      }
      if (avail >= head.content_length) {
        serve(head,
              std::string_view(data + head_end,
                               static_cast<size_t>(head.content_length)),
              nullptr, 0);
        off = head_end + static_cast<size_t>(head.content_length);
        continue;
      }
      enter_body(data, owned, off, head.head_size, 0, head_end, avail, head);
      return len;
    }
    // Chunked: decode in place (the bytes are ours for this callback).
    http::BodyLimits body_limits;
    body_limits.max_body_size = cfg.max_body_size;
    body_limits.max_trailer_size = cfg.max_header_size;
    body_limits.max_trailers = cfg.max_headers;
    decoder_.start_chunked(body_limits, loop_->trailer_storage());
    http::DecodeResult dr =
        decoder_.decode(data + head_end, avail, data + head_end);
    if (dr.status == http::DecodeStatus::Error) {
      respond_error(dr.error, &head);
      return len;
    }
    if (dr.status == http::DecodeStatus::Done) {
      serve(head, std::string_view(data + head_end, dr.produced),
            decoder_.trailers(), decoder_.trailer_count());
      off = head_end + dr.consumed;
      continue;
    }
    enter_body(data, owned, off, head.head_size, dr.produced,
               head_end + dr.consumed, avail - dr.consumed, head);
    return len;
  }
  return off;
}

void Connection::enter_body(char* base, bool owned, size_t head_off,
                            size_t head_size, size_t decoded, size_t raw_off,
                            size_t raw_len, const http::RequestHead& head) {
  // Layout in in_: [head][decoded body][raw input not decoded yet]. The head
  // is parsed again when the body is complete, which is cheaper than keeping
  // its views (and the header array) alive per connection.
  if (owned) {
    memmove(base, base + head_off, head_size + decoded);
    memmove(base + head_size + decoded, base + raw_off, raw_len);
    in_.resize(head_size + decoded + raw_len);
  } else {
    in_.clear();
    in_.append(base + head_off, head_size + decoded);
    in_.append(base + raw_off, raw_len);
  }
  phase_ = Phase::Body;
  head_size_ = head_size;
  body_len_ = decoded;
  raw_pos_ = head_size + decoded;
  chunked_ = head.body_kind == http::BodyKind::Chunked;
  content_length_ = head.content_length;
  keep_alive_ = head.keep_alive;
  if (!chunked_) in_.reserve(head_size + static_cast<size_t>(content_length_));
  // RFC 9110 §10.1.1: 100 Continue only to a 1.1 client that is waiting.
  if (head.expect_continue && head.version_minor >= 1 && decoded == 0 &&
      raw_len == 0) {
    loop_->out().append(kContinue);
  }
  loop_->timeouts().arm(this, TimeoutKind::Body);
}

bool Connection::continue_body() {
  loop_->timeouts().arm(this, TimeoutKind::Body);  // progress
  if (!chunked_) {
    if (in_.size() - head_size_ < content_length_) return false;
    body_len_ = content_length_;
    raw_pos_ = head_size_ + static_cast<size_t>(content_length_);
  } else {
    char* base = in_.data();
    char* out = base + head_size_ + body_len_;
    http::DecodeResult dr =
        decoder_.decode(base + raw_pos_, in_.size() - raw_pos_, out);
    body_len_ += dr.produced;
    raw_pos_ += dr.consumed;
    if (dr.status == http::DecodeStatus::Error) {
      phase_ = Phase::Head;  // the error is about this request
      respond_error(dr.error, nullptr);
      in_.release();
      return false;
    }
    if (dr.status == http::DecodeStatus::NeedMore) {
      // Compact: move the undecoded tail down behind the decoded body.
      size_t dst = head_size_ + static_cast<size_t>(body_len_);
      size_t rest = in_.size() - raw_pos_;
      memmove(base + dst, base + raw_pos_, rest);
      in_.resize(dst + rest);
      raw_pos_ = dst;
      return false;
    }
  }
  // Complete: parse the head again (its views point into in_) and serve.
  const Config& cfg = loop_->config();
  http::RequestHead head;
  http::ParseResult pr = http::parse_request_head(
      in_.data(), head_size_, {cfg.max_header_size, cfg.max_headers},
      loop_->header_storage(), &head);
  phase_ = Phase::Head;
  if (pr.status != http::ParseStatus::Complete) {
    // Cannot happen: the same bytes parsed before.
    respond_error(http::ErrorCode::BadRequestLine, nullptr);
    return false;
  }
  serve(head,
        std::string_view(in_.data() + head_size_, static_cast<size_t>(body_len_)),
        chunked_ ? decoder_.trailers() : nullptr,
        chunked_ ? decoder_.trailer_count() : 0);
  // What follows the body is the next request: move it to the front.
  in_.consume(raw_pos_);
  head_size_ = 0;
  body_len_ = 0;
  raw_pos_ = 0;
  return phase_ != Phase::Closing;
}

// ---------------------------------------------------------------------------
// Serving

void Connection::serve(const http::RequestHead& head, std::string_view body,
                       const pounce_header_t* trailers, size_t trailer_count) {
  keep_alive_ = head.keep_alive && !loop_->draining();
  phase_ = Phase::Idle;
  // The head is complete: its --header-timeout no longer applies.
  if (kind == TimeoutKind::Header) loop_->timeouts().disarm(this);

  if (head.path == "*") {
    // Asterisk-form is meaningful for a server-wide OPTIONS only (RFC 9112
    // §3.2.4); the host answers it itself.
    if (head.method != "OPTIONS") {
      respond_error(http::ErrorCode::BadTarget, &head);
      return;
    }
    pounce_response& res = loop_->response();
    res.reset("host");
    write_sync_response(head, res);
    return;
  }

  std::string_view path = head.path;
  if (needs_normalization(path)) {
    size_t n = 0;
    http::PathStatus ps =
        http::normalize_path(path, loop_->path_buffer(), &n);
    if (ps == http::PathStatus::EscapesRoot) {
      respond_error(http::ErrorCode::PathEscapesRoot, &head);
      return;
    }
    if (ps != http::PathStatus::Ok) {
      respond_error(http::ErrorCode::BadPath, &head);
      return;
    }
    path = std::string_view(loop_->path_buffer(), n);
  }

  Generation* gen = loop_->generation();
  std::string_view path_info;
  const Mount* mount = gen ? gen->route(path, &path_info) : nullptr;
  if (!mount) {
    respond_error(http::ErrorCode::NoRoute, &head, /*close=*/false);
    return;
  }
  if (head.upgrade_websocket && !mount->module->has_websocket()) {
    respond_error(http::ErrorCode::WebSocketUnsupported, &head);
    return;
  }
  call_sync(head, *mount, path, path_info, body, trailers, trailer_count);
}

void Connection::call_sync(const http::RequestHead& head, const Mount& mount,
                           std::string_view path, std::string_view path_info,
                           std::string_view body,
                           const pounce_header_t* trailers,
                           size_t trailer_count) {
  pounce_request& req = loop_->request();
  req.head = &head;
  req.tcp = &tcp_;
  req.peer = &peer_;

  pounce_request_view_t view;
  view.size = sizeof view;
  view.version_major = 1;
  view.version_minor = head.version_minor;
  view.reserved = 0;
  view.method = {head.method.data(), head.method.size()};
  view.target = {head.target.data(), head.target.size()};
  view.path = {path.data(), path.size()};
  view.mount_prefix = {mount.prefix.data(), mount.prefix.size()};
  view.path_info = {path_info.data(), path_info.size()};
  view.query = {head.query.data(), head.query.size()};
  view.headers = head.headers;
  view.header_count = head.header_count;
  view.body = {body.data(), body.size()};
  view.trailers = trailers;
  view.trailer_count = trailer_count;
  view.handle = &req;

  pounce_response& res = loop_->response();
  res.reset(mount.module->name().c_str());
  int rc = 0;
  try {
    rc = mount.module->desc().on_handle(mount.instance, &view, &res);
  } catch (...) {
    // Exceptions must not cross the C ABI; pounce.hpp catches them. A plugin
    // that does not use it still must not take the worker down.
    LOG_ERROR("plugin %s: exception escaped on_handle; answering 500",
              res.plugin_name);
    rc = -1;
  }
  if (rc != 0 && res.error == http::ErrorCode::None) {
    if (rc != -1) {
      LOG_ERROR("plugin %s: on_handle returned %d; answering 500",
                res.plugin_name, rc);
    }
    res.error = http::ErrorCode::PluginError;
  }
  if (res.error != http::ErrorCode::None) {
    respond_error(res.error, &head);
    return;
  }
  write_sync_response(head, res);
}

void Connection::write_sync_response(const http::RequestHead& head,
                                     const pounce_response& res) {
  // A drain may have started while the plugin ran.
  if (keep_alive_ && loop_->draining()) keep_alive_ = false;
  ByteBuffer& out = loop_->out();
  const int status = res.status;
  // No body and no Content-Length for 204 and 304 (RFC 9110 §8.6); HEAD keeps
  // the Content-Length of the body it does not get.
  const bool bodiless_status = status == 204 || status == 304;
  const bool send_body = !bodiless_status && head.method != "HEAD";
  std::string_view status_line = http::status_line(status);
  std::string_view date = loop_->date().date_header();

  size_t need = status_line.size() + date.size() + kServerHeader.size() +
                res.headers.size() + 64 + (send_body ? res.body.size() : 0);
  char* p = out.prepare(need);
  char* start = p;
  memcpy(p, status_line.data(), status_line.size());
  p += status_line.size();
  memcpy(p, date.data(), date.size());
  p += date.size();
  memcpy(p, kServerHeader.data(), kServerHeader.size());
  p += kServerHeader.size();
  if (!res.headers.empty()) {
    memcpy(p, res.headers.data(), res.headers.size());
    p += res.headers.size();
  }
  if (!bodiless_status) {
    memcpy(p, "Content-Length: ", 16);
    p += 16;
    p += format_decimal(p, res.body.size());
    *p++ = '\r';
    *p++ = '\n';
  }
  if (!keep_alive_) {
    memcpy(p, "Connection: close\r\n", 19);
    p += 19;
  } else if (head.version_minor == 0) {
    // An HTTP/1.0 client asked to keep the connection (RFC 9112 §9.3).
    memcpy(p, "Connection: keep-alive\r\n", 24);
    p += 24;
  }
  *p++ = '\r';
  *p++ = '\n';
  if (send_body && !res.body.empty()) {
    memcpy(p, res.body.data(), res.body.size());
    p += res.body.size();
  }
  out.commit(static_cast<size_t>(p - start));
  if (loop_->config().access_log) access_log(&head, status, res.body.size());
  if (!keep_alive_) close_after_write_ = true;
}

void Connection::respond_error(http::ErrorCode code,
                               const http::RequestHead* head, bool close) {
  const int status = http::error_status(code);
  std::string_view name = http::error_name(code);
  std::string_view reason = http::status_reason(status);
  if (close || status >= 500) {
    LOG_WARN("%d %.*s from %s%s%.*s", status, static_cast<int>(name.size()),
             name.data(), peer_text().c_str(), head ? " for " : "",
             head ? static_cast<int>(head->target.size() > 200
                                         ? 200
                                         : head->target.size())
                  : 0,
             head ? head->target.data() : "");
  }
  ByteBuffer& out = loop_->out();
  std::string_view status_line = http::status_line(status);
  std::string_view date = loop_->date().date_header();
  char* p = out.prepare(512);
  char* start = p;
  auto put = [&p](std::string_view s) {
    memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(status_line);
  put(date);
  put(kServerHeader);
  put("Content-Type: text/plain; charset=utf-8\r\n");
  put("X-Pounce-Error: ");
  put(name);
  put("\r\n");
  if (code == http::ErrorCode::TooManyConnections) put("Retry-After: 1\r\n");
  if (code == http::ErrorCode::WebSocketVersion) {
    put("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
  }
  const size_t body_len = reason.size() + name.size() + 4;  // "R (N)\n"
  put("Content-Length: ");
  p += format_decimal(p, body_len);
  put("\r\n");
  bool keep = !close && keep_alive_ && head && !loop_->draining();
  if (!keep) {
    put("Connection: close\r\n");
  } else if (head->version_minor == 0) {
    put("Connection: keep-alive\r\n");
  }
  put("\r\n");
  if (!head || head->method != "HEAD") {
    put(reason);
    put(" (");
    put(name);
    put(")\n");
  }
  out.commit(static_cast<size_t>(p - start));
  if (loop_->config().access_log) access_log(head, status, body_len);
  if (!keep) close_after_write_ = true;
  phase_ = Phase::Idle;
}

void Connection::access_log(const http::RequestHead* head, int status,
                            size_t bytes) {
  // Common Log Format plus the duration in seconds:
  // 127.0.0.1 - - [27/Nov/2026:18:36:07 +0000] "GET / HTTP/1.1" 200 13 0.000042
  char line[1024];
  std::string ip = peer_text();
  size_t colon = ip.rfind(':');
  if (colon != std::string::npos) ip.resize(colon);
  if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  std::string_view t = loop_->date().clf_time();
  double secs = read_started_ns_
                    ? static_cast<double>(now_ns() - read_started_ns_) / 1e9
                    : 0.0;
  int n;
  if (head) {
    int tlen = static_cast<int>(head->target.size() > 512 ? 512
                                                          : head->target.size());
    // The target was validated as visible ASCII by the parser: it cannot
    // forge a line.
    n = snprintf(line, sizeof line,
                 "%s - - [%.*s] \"%.*s %.*s HTTP/1.%d\" %d %zu %.6f\n",
                 ip.c_str(), static_cast<int>(t.size()), t.data(),
                 static_cast<int>(head->method.size()), head->method.data(),
                 tlen, head->target.data(), head->version_minor, status, bytes,
                 secs);
  } else {
    n = snprintf(line, sizeof line, "%s - - [%.*s] \"-\" %d %zu %.6f\n",
                 ip.c_str(), static_cast<int>(t.size()), t.data(), status,
                 bytes, secs);
  }
  if (n > 0) {
    log::access(std::string_view(
        line, static_cast<size_t>(n) < sizeof line ? static_cast<size_t>(n)
                                                   : sizeof line - 1));
  }
}

const PeerAddress& Connection::peer() { return peer_address(&tcp_, &peer_); }

std::string Connection::peer_text() {
  pounce_addr_t a;
  a.size = sizeof a;
  if (format_address(reinterpret_cast<const sockaddr*>(&peer().addr), &a) !=
      POUNCE_OK) {
    return "unknown";
  }
  char buf[80];
  snprintf(buf, sizeof buf, a.family == AF_INET6 ? "[%s]:%u" : "%s:%u", a.text,
           static_cast<unsigned>(a.port));
  return buf;
}

// ---------------------------------------------------------------------------
// Writing and timeouts

void Connection::after_input() {
  if (phase_ == Phase::Closing) {
    loop_->out().clear();
    return;
  }
  flush_output();
  if (phase_ == Phase::Closing) return;
  if (write_in_flight_) return;  // on_write continues
  if (close_after_write_) {
    start_lingering();
    return;
  }
  switch (phase_) {
    case Phase::Idle:
      if (loop_->draining()) {
        close_now();
        return;
      }
      loop_->timeouts().arm(this, TimeoutKind::KeepAlive);
      break;
    case Phase::Head:
      if (!queued() || kind != TimeoutKind::Header) {
        loop_->timeouts().arm(this, TimeoutKind::Header);
      }
      break;
    case Phase::Body:
      break;  // armed on progress
    default:
      break;
  }
  start_reading();
}

void Connection::flush_output() {
  ByteBuffer& out = loop_->out();
  if (out.empty()) return;
  if (phase_ == Phase::Closing) {
    out.clear();
    return;
  }
  if (write_in_flight_) {
    queued_.append(out.data(), out.size());
    out.clear();
    return;
  }
  uv_buf_t b = uv_buf_init(out.data(), static_cast<unsigned>(out.size()));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
  if (n == static_cast<int>(out.size())) {
    out.clear();
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    out.clear();
    LOG_DEBUG("write to %s failed: %s", peer_text().c_str(), uv_strerror(n));
    close_now();
    return;
  }
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  writing_.clear();
  writing_.append(out.data() + done, out.size() - done);
  out.clear();
  write_off_ = 0;
  start_write();
}

void Connection::start_write() {
  size_t left = writing_.size() - write_off_;
  write_len_ = left < kWriteSlice ? left : kWriteSlice;
  uv_buf_t b = uv_buf_init(writing_.data() + write_off_,
                           static_cast<unsigned>(write_len_));
  write_req_.data = this;
  int rc = uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1,
                    on_write);
  if (rc != 0) {
    close_now();
    return;
  }
  write_in_flight_ = true;
  // Backpressure: no new requests while the client does not read.
  if (phase_ != Phase::Lingering) stop_reading();
  loop_->timeouts().arm(this, TimeoutKind::Write);
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->write_in_flight_ = false;
  if (c->phase_ == Phase::Closing) return;
  if (status < 0) {
    LOG_DEBUG("write to %s failed: %s", c->peer_text().c_str(),
              uv_strerror(status));
    c->close_now();
    return;
  }
  c->write_off_ += c->write_len_;
  if (c->write_off_ < c->writing_.size()) {
    c->start_write();  // progress: the write timeout starts again
    return;
  }
  c->writing_.clear();
  c->write_off_ = 0;
  if (!c->queued_.empty()) {
    std::swap(c->writing_, c->queued_);
    c->start_write();
    return;
  }
  c->writing_.release();
  c->queued_.release();
  c->loop_->timeouts().disarm(c);
  if (c->phase_ == Phase::Lingering) return;
  if (c->close_after_write_) {
    c->start_lingering();
    return;
  }
  // Requests that arrived while the socket was full are still in in_.
  if (!c->in_.empty() && c->phase_ != Phase::Body) {
    c->handle_read(c->in_.data(), c->in_.size(), true);
    return;
  }
  c->after_input();
}

void Connection::start_lingering() {
  if (phase_ == Phase::Closing || phase_ == Phase::Lingering) return;
  phase_ = Phase::Lingering;
  in_.release();
  lingered_bytes_ = 0;
  loop_->timeouts().arm(this, TimeoutKind::Linger);
  shutdown_req_.data = this;
  if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_),
                  on_shutdown) != 0) {
    close_now();
    return;
  }
  start_reading();
}

void Connection::on_shutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status < 0 && c->phase_ != Phase::Closing) c->close_now();
}

void Connection::on_timeout(TimeoutKind kind) {
  switch (kind) {
    case TimeoutKind::Header:
      if (phase_ == Phase::Head && !in_.empty()) {
        respond_error(http::ErrorCode::HeaderTimeout, nullptr);
        after_input();
      } else {
        close_now();  // no byte of a request: a silent close
      }
      break;
    case TimeoutKind::Body:
      phase_ = Phase::Head;
      in_.release();
      respond_error(http::ErrorCode::BodyTimeout, nullptr);
      after_input();
      break;
    case TimeoutKind::Write:
      LOG_INFO("write timeout: %s stopped reading; closing",
               peer_text().c_str());
      close_now();
      break;
    case TimeoutKind::KeepAlive:
    case TimeoutKind::Linger:
    default:
      close_now();
      break;
  }
}

}  // namespace pounce
