#include "net/connection.h"

#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "admin/readiness.h"
#include "async/stream.h"
#include "async/ws_session.h"
#include "h2/session.h"
#include "http/proxy_header.h"
#include "http/status_text.h"
#include "log/logger.h"
#include "net/blocking_pool.h"
#include "net/event_loop.h"
#include "net/file_output.h"
#include "net/response_head.h"
#include "pipeline/access_log.h"
#include "pipeline/admission.h"
#include "pipeline/response.h"
#include "plugin/generation.h"
#include "tls/session.h"
#include "ws/handshake.h"

namespace pounce {

namespace {

// Past this much serialized output, pipelined requests pause until the
// socket has taken it: a client cannot make the server buffer without bound.
constexpr size_t kOutputHighWater = 1024 * 1024;
// uv_write slices, so that the write timeout sees progress on big bodies.
constexpr size_t kWriteSlice = 256 * 1024;
// A corked connection (see cork()) writes once it holds this much.
constexpr size_t kCorkLimit = 64 * 1024;
// The lingering close reads at most this much, for at most 1 s.
constexpr size_t kLingerMaxBytes = 64 * 1024;
// One read or one uv_try_write at most this much: libuv's buffer lengths
// are `unsigned` and uv_try_write answers in an `int`.
constexpr size_t kMaxReadSize = size_t{1} << 30;
constexpr size_t kMaxTryWrite = size_t{1} << 30;
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr std::string_view kServerHeader = "Server: pounce\r\n";

}  // namespace

// ---------------------------------------------------------------------------
// Life cycle

Connection::Connection(EventLoop* loop) : Exchange(loop), loop_(loop) {
  memset(&write_req_, 0, sizeof write_req_);
}

Connection::~Connection() {
  if (origin_count_) origin_count_->fetch_sub(1, std::memory_order_relaxed);
}

bool Connection::init_socket() {
  if (uv_tcp_init(loop_->uv(), &tcp_) != 0) return false;
  tcp_.data = this;
  return true;
}

Connection* Connection::accept_from(EventLoop* loop, uv_stream_t* server,
                                    bool tls, bool proxy, uint16_t listener) {
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
  c->start(tls, proxy, listener);
  return c;
}

Connection* Connection::adopt_fd(EventLoop* loop, int fd, bool tls, bool proxy,
                                 uint16_t listener) {
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
  c->start(tls, proxy, listener);
  return c;
}

void Connection::start(bool tls, bool proxy, uint16_t listener) {
  listener_ = listener;
  loop_->add_connection(this);
  // The session is made at the first byte (begin_tls): a connection that
  // never sends one costs no SSL object.
  awaiting_tls_ = tls;
  awaiting_proxy_ = proxy;
  // Responses are written whole; Nagle would only delay the last segment.
  uv_tcp_nodelay(&tcp_, 1);
  const size_t limit = loop_->connection_limit();
  const size_t open =
      loop_->connection_count() +
      static_cast<size_t>(loop_->handed_off().load(std::memory_order_relaxed));
  if (open > limit + limit / 8 + 64) {
    // Far over the limit even the 503 costs too much: close at once.
    close_now();
    return;
  }
  if (open > limit && tls) {
    // A TLS client could not read a 503 sent before a handshake (it would
    // report clear text as a protocol error), and a handshake is the CPU
    // the limit is there to save: closed, as when far over the limit.
    close_now();
    return;
  }
  if (open > limit) {
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
  if (stream_) release_stream(POUNCE_CLOSE_PEER);
  if (ws_) release_ws();
  if (blocking_) detach_blocking();
  if (h2_) h2_->on_transport_closed();
  handoff_pin_.reset();  // a hand-off that will not happen (or a spare one)
  if (input_scheduled) loop_->cancel_input(this);
  if (watch_) close_watch();
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
  if (h2_) {
    // GOAWAY; the streams in flight finish. One on its way to an async
    // loop drains there (adopt_handoff sees the loop draining).
    if (phase_ == Phase::Http2) h2_->begin_drain();
    return;
  }
  if (ws_) {
    ws_->go_away();  // close 1001, then wait for the peer's answer
    return;
  }
  if (phase_ == Phase::Idle && !output_busy() && !input_pending()) {
    close_gracefully();
    return;
  }
  // In flight: the response will carry Connection: close (the loop says it
  // is draining), and the connection closes after it.
}

bool Connection::waiting_for_request() {
  if (phase_ == Phase::Http2) return h2_ && h2_->idle();
  return phase_ == Phase::Idle && !output_busy() && !ws_ && !input_pending();
}

void Connection::force_close() {
  forced_ = true;
  if (h2_ && phase_ == Phase::Http2) {
    h2_->force_close();  // final DATA frames where it can, then the close
    if (phase_ != Phase::Closing && !in_input_) after_input();
    return;
  }
  if (ws_) {
    close_now();  // the close handshake had its time
    return;
  }
  if (stream_ && phase_ == Phase::Async) {
    // A final chunk rather than a cut: the client sees a complete response.
    stream_->end_by_host(POUNCE_CLOSE_SHUTDOWN);
    if (stream_ && phase_ != Phase::Closing) {
      // Still writing: give it until the write completes or times out.
      return;
    }
    if (phase_ == Phase::Closing) return;
  }
  close_now();
}

void Connection::end_stream_of(const Generation* g) {
  if (h2_ && phase_ == Phase::Http2) {
    h2_->end_streams_of(g);
    return;
  }
  if (stream_ && stream_->generation() == g) {
    keep_alive_ = false;  // the connection goes with the generation
    stream_->end_by_host(POUNCE_CLOSE_SHUTDOWN);
  }
  if (ws_ && ws_->generation() == g) ws_->go_away();
}

bool Connection::input_pending() {
  // A request the kernel holds but the loop has not read yet is in flight,
  // not idle: closing now would drop it unanswered.
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) != 0) return false;
  char byte;
  if (recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0) return true;
  return tls_ && tls_->has_buffered_input();
}

void Connection::close_gracefully() {
  send_close_notify();
  close_now();
}

void Connection::send_close_notify() {
  if (!tls_ || output_busy() || phase_ == Phase::Closing) return;
  // Best effort, and only when nothing is queued before it: the socket is
  // about to close, and a peer that does not read gets no alert.
  ByteBuffer& wire = loop_->tls_wire();
  wire.clear();
  tls_->shutdown(&wire);
  if (!wire.empty()) {
    uv_buf_t b = uv_buf_init(wire.data(), static_cast<unsigned>(wire.size()));
    (void)uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
  }
  wire.clear();
}

// ---------------------------------------------------------------------------
// Reading

bool Connection::may_read() const {
  switch (phase_) {
    case Phase::Closing:
    case Phase::HandingOff:  // the input belongs to the async loop next
    case Phase::Blocking:    // parked until the handler returns
      return false;
    case Phase::Lingering:
      return true;  // discards, bounded by kLingerMaxBytes
    case Phase::Async:
    case Phase::WebSocket: {
      // A stream or a WebSocket keeps reading while a write is in flight,
      // to notice the client leaving, but only while what it reads cannot
      // pile up: whatever the input makes us send (pongs, echoes) waits
      // above --stream-high-water until the client reads, and input
      // pipelined behind a stream waits past a head's worth.
      const Config& cfg = loop_->config();
      if (queued_output() > cfg.stream_high_water) return false;
      return !(phase_ == Phase::Async && stream_body_done_ &&
               in_.size() > cfg.max_header_size);
    }
    case Phase::Http2:
      // Reading goes on while a write is in flight (WINDOW_UPDATEs and
      // RST_STREAMs must get through), but not while a peer that does not
      // read has a queue past this size to take.
      return h2_->wants_read() && queued_output() < kOutputHighWater;
    default:
      // No new requests while the client does not read our responses.
      return !output_busy();
  }
}

void Connection::update_reading() {
  if (may_read()) {
    start_reading();
  } else {
    stop_reading();
  }
}

void Connection::start_reading() {
  if (!may_read()) return;
  if (tls_ && !input_scheduled && tls_->has_buffered_input()) {
    // Decrypted or undecrypted input the socket will not signal again.
    loop_->schedule_input(this);
  }
  if (reading_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read) ==
      0) {
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
  if (c->tls_ || c->awaiting_tls_) {
    // Ciphertext, lent to the session for this one read (read_tls keeps
    // what it does not use); the plaintext goes where input_room() says.
    *buf = uv_buf_init(c->loop_->tls_read_buffer(), EventLoop::kReadBufferSize);
    return;
  }
  if (c->phase_ == Phase::Lingering) {
    *buf = uv_buf_init(c->loop_->read_buffer(), EventLoop::kReadBufferSize);
    return;
  }
  *buf = c->input_room();
}

uv_buf_t Connection::input_room() {
  if (in_.empty()) {
    // Lent for this one read: on_read either consumes it or copies the tail.
    return uv_buf_init(loop_->read_buffer(), EventLoop::kReadBufferSize);
  }
  // A request is partial: read straight behind it. A declared body grows
  // the buffer as its bytes arrive (geometrically, but never past the
  // declared size): a head alone costs no more than a head.
  size_t want = 16 * 1024;
  size_t ceiling = SIZE_MAX;
  if (phase_ == Phase::Body && !chunked_) {
    uint64_t missing = head_size_ + content_length_ - in_.size();
    if (missing < want) want = static_cast<size_t>(missing);
    if (want == 0) want = 1;
    ceiling = head_size_ + static_cast<size_t>(content_length_);
  }
  if (!in_.reserve(in_.size() + want, ceiling)) {
    return uv_buf_init(nullptr, 0);  // on_read gets UV_ENOBUFS
  }
  const size_t room =
      std::min<size_t>(in_.capacity() - in_.size(), kMaxReadSize);
  return uv_buf_init(in_.data() + in_.size(), static_cast<unsigned>(room));
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (nread == 0) return;
  if (nread == UV_ENOBUFS && c->phase_ != Phase::Closing) {
    c->fail_no_memory();  // on_alloc could not grow the input buffer
    c->after_input();
    return;
  }
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
  c->loop_->counters().bytes_in.add(static_cast<uint64_t>(nread));
  char* data = buf->base;
  size_t len = static_cast<size_t>(nread);
  if (c->awaiting_proxy_) {
    if (!c->read_proxy_header(&data, &len) || len == 0) return;
    // Clear text is served from the start of the loop's read buffer (the
    // lent buffer deliver_input recognizes); TLS takes any pointer.
    if (!c->awaiting_tls_ && data != c->loop_->read_buffer()) {
      memmove(c->loop_->read_buffer(), data, len);
      data = c->loop_->read_buffer();
    }
  }
  if (c->awaiting_tls_ && !c->begin_tls(data, len)) return;
  if (c->tls_) {
    c->read_tls(data, len);
    return;
  }
  c->deliver_input(data, len);
}

bool Connection::read_proxy_header(char** data, size_t* len) {
  const size_t before = proxy_in_.size();
  std::string_view input(*data, *len);
  if (before != 0) {
    if (!proxy_in_.append(*data, *len)) {
      LOG_ERROR("out of memory for the PROXY header of %s; closing",
                peer_text().c_str());
      close_now();
      return false;
    }
    input = proxy_in_.view();
  }
  http::ProxyInfo info;
  const http::ProxyResult r = http::parse_proxy_header(input, &info);
  if (r.status == http::ProxyStatus::NeedMore) {
    // Bounded by the parser: a v1 line ends within 107 bytes, a v2 header
    // within ProxyLimits::max_v2_length, or it is refused.
    if (before == 0 && !proxy_in_.append(*data, *len)) {
      LOG_ERROR("out of memory for the PROXY header of %s; closing",
                peer_text().c_str());
      close_now();
      return false;
    }
    return false;
  }
  if (r.status == http::ProxyStatus::Invalid) {
    // The listener expects a balancer: anything else is its misconfiguration
    // or someone bypassing it, which the operator wants to see.
    LOG_WARN("PROXY protocol: closing the connection from %s: %s",
             peer_text().c_str(), http::proxy_error_text(r.error));
    close_now();
    return false;
  }
  awaiting_proxy_ = false;
  if (!info.local) {
    // The balancer's view of the connection replaces the socket's: the
    // client is what request_addr, the access log, the rate limit and the
    // --forwarded-allow-ips check see from now on.
    const std::string balancer =
        log::enabled(log::Level::Debug) ? peer_text() : std::string();
    peer_.addr = info.source;
    peer_.len = info.source.ss_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                  : sizeof(sockaddr_in);
    if (log::enabled(log::Level::Debug)) {
      LOG_DEBUG(
          "PROXY v%u from %s: client %s, ALPN %.*s, authority %.*s",
          static_cast<unsigned>(info.version), balancer.c_str(),
          peer_text().c_str(),
          info.alpn.empty() ? 1 : static_cast<int>(info.alpn.size()),
          info.alpn.empty() ? "-" : info.alpn.data(),
          info.authority.empty() ? 1 : static_cast<int>(info.authority.size()),
          info.authority.empty() ? "-" : info.authority.data());
    }
  }
  if (!info.alpn.empty() || !info.authority.empty()) {
    // Copied out: the views point into this read's buffer. Bounded by the
    // header's 4 KiB.
    proxy_tlvs_ = std::make_unique<ProxyTlvs>();
    proxy_tlvs_->alpn = info.alpn;
    proxy_tlvs_->authority = info.authority;
  }
  // The header ended in this read (it was incomplete before it): what
  // follows it is the tail of this read.
  const size_t skip = r.consumed - before;
  *data += skip;
  *len -= skip;
  proxy_in_.release();
  return true;
}

void Connection::deliver_input(char* base, size_t len) {
  const Config& cfg = loop_->config();
  if (cfg.times_requests()) read_started_ns_ = uv_hrtime();
  if (base == loop_->read_buffer()) {
    handle_read(base, len, false);
  } else {
    in_.commit(len);
    handle_read(in_.data(), in_.size(), true);
  }
}

// ---------------------------------------------------------------------------
// TLS input

bool Connection::begin_tls(const char* data, size_t len) {
  awaiting_tls_ = false;
  if (tls::looks_like_plain_http(data, len)) {
    refuse_plain_http();
    return false;
  }
  tls_ = tls::Session::create(loop_->generation()->tls_contexts());
  if (!tls_) {
    LOG_ERROR("cannot start a TLS session for %s (out of memory)",
              peer_text().c_str());
    close_now();
    return false;
  }
  return true;
}

void Connection::read_tls(const char* data, size_t len) {
  tls_->feed(data, len);
  drain_tls();
  // The loop's ciphertext buffer is reused by the next read of any
  // connection: what the session did not use yet becomes its own.
  if (tls_ && phase_ != Phase::Closing && !tls_->keep_unread()) {
    LOG_ERROR("out of memory for the TLS input of %s; closing",
              peer_text().c_str());
    close_now();
  }
}

void Connection::read_buffered_input() {
  if (phase_ == Phase::Closing || !tls_) return;
  drain_tls();
}

void Connection::drain_tls() {
  ByteBuffer& wire = loop_->tls_wire();
  while (phase_ != Phase::Closing && phase_ != Phase::Lingering && may_read()) {
    uv_buf_t room = input_room();
    if (!room.base) {
      fail_no_memory();
      after_input();
      return;
    }
    tls::Session::ReadResult r = tls_->read(room.base, room.len, &wire);
    if (!tls_counted_ && tls_->handshake_done()) {
      tls_counted_ = true;
      (tls_->resumed() ? loop_->counters().tls_resumed
                       : loop_->counters().tls_full)
          .add(1);
    }
    // Handshake messages, tickets and alerts go out first, in order.
    if (!wire.empty()) write_wire(wire);
    if (phase_ == Phase::Closing) return;
    switch (r.status) {
      case tls::Session::Status::Data:
        if (!alpn_checked_) {
          // The handshake is done: ALPN "h2" makes this HTTP/2 (RFC 9113
          // §3.2), from the very first byte of plaintext.
          alpn_checked_ = true;
          const unsigned char* proto = nullptr;
          unsigned int proto_len = 0;
          SSL_get0_alpn_selected(tls_->ssl(), &proto, &proto_len);
          if (proto_len == 2 && proto[0] == 'h' && proto[1] == '2' &&
              !begin_http2()) {
            return;
          }
        }
        deliver_input(room.base, r.bytes);
        continue;
      case tls::Session::Status::NeedInput:
        return;
      case tls::Session::Status::Closed:
        // The peer's close_notify: it sends no more, as at EOF. Ours
        // answers it (TLS 1.2 requires it; a client may wait for it).
        close_gracefully();
        return;
      case tls::Session::Status::Failed:
        fail_tls();
        return;
    }
  }
}

void Connection::fail_tls() {
  // Scanners and clients that reject our certificate end handshakes all
  // day: info, not warn, with the reason OpenSSL gave.
  LOG_INFO("TLS from %s: %s", peer_text().c_str(), tls_->error().c_str());
  if (!tls_->handshake_done()) {
    loop_->counters().tls_failed[static_cast<size_t>(tls_->failure())].add(1);
  }
  close_now();
}

void Connection::refuse_plain_http() {
  loop_->counters()
      .tls_failed[static_cast<size_t>(tls::HandshakeFailure::PlainHttp)]
      .add(1);
  // The connection stays clear text (no session was made): the 400 must be
  // readable. respond_error logs it (HTTP_TO_HTTPS_PORT).
  phase_ = Phase::Head;
  respond_error(http::ErrorCode::PlainHttpToHttpsPort, nullptr);
  after_input();
}

void Connection::handle_read(char* data, size_t len, bool owned) {
  if (owned && in_.failed()) {
    // Bytes are missing from in_ (a handoff could not copy them all):
    // serving what is there would misread the request.
    fail_no_memory();
    after_input();
    return;
  }
  in_input_ = true;
  size_t used = 0;
  if (phase_ == Phase::Body) {
    // Body bytes were read into in_ behind what was there.
    if (!continue_body()) {
      in_input_ = false;
      after_input();
      return;
    }
    data = in_.data();
    len = in_.size();
    owned = true;
  }
  if (phase_ <= Phase::Head) {
    used = serve_requests(data, len, owned);
  } else if (phase_ == Phase::Http2) {
    // nghttp2 keeps what it needs of a partial frame.
    h2_->feed(data, len, read_started_ns_);
    used = len;
  } else if (phase_ == Phase::WebSocket) {
    ws_->feed(data, len);  // frames: the session keeps what it needs
    used = len;
  } else if (phase_ == Phase::Async) {
    // The stream's body, then input pipelined behind it, which waits.
    used = stream_body_done_ ? 0 : feed_stream_body(data, len);
  } else {
    used = serve_requests(data, len, owned);
  }
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
  if (in_.failed() && phase_ != Phase::Closing) {
    // enter_body() or the append above could not copy; a hand-off waiting
    // for its write is cancelled too (it would ship a truncated input).
    fail_no_memory();
  }
  in_input_ = false;
  if (abort_pending_) {
    close_now();  // see abort_websocket()
    return;
  }
  if (finish_pending_) {
    finish_pending_ = false;
    finish_stream();
    return;
  }
  after_input();
}

size_t Connection::serve_requests(char* data, size_t len, bool owned) {
  const Config& cfg = loop_->config();
  const http::HeadLimits head_limits{cfg.max_header_size, cfg.max_headers};
  size_t off = 0;
  while (off < len) {
    if (close_after_write_ || phase_ == Phase::Closing ||
        phase_ == Phase::Async || phase_ == Phase::WebSocket ||
        phase_ == Phase::Blocking) {
      // Input behind an async or a parked request waits in in_.
      return phase_ == Phase::Async || phase_ == Phase::Blocking ? off : len;
    }
    // Behind a file body still being sent, as behind a write the socket
    // would not take: served once it is out (output_done).
    if (files_) return off;
    if (loop_->out().size() >= kOutputHighWater) {
      flush_output();
      if (write_in_flight_) break;  // resume when the socket took it
    }
    phase_ = Phase::Head;
    http::RequestHead head;
    http::ParseResult pr = http::parse_request_head(
        data + off, len - off, head_limits, loop_->header_storage(), &head);
    if (pr.status == http::ParseStatus::Incomplete) break;
    if (pr.status == http::ParseStatus::Error) {
      // The HTTP/2 client preface is no HTTP/1 request ("PRI * HTTP/2.0"):
      // checked here, where HTTP/1 has failed anyway, so that the HTTP/1
      // path pays nothing for it. Only as the connection's first bytes.
      if (!served_ && off == 0 && !tls_ && loop_->config().http2) {
        const h2::PrefaceMatch m = h2::match_preface(data, len);
        if (m == h2::PrefaceMatch::Partial) break;  // wait for the rest
        if (m == h2::PrefaceMatch::Yes) {
          if (begin_http2()) h2_->feed(data, len, read_started_ns_);
          return len;
        }
      }
      respond_error(pr.error, nullptr);
      return len;
    }
    if (read_started_ns_) parse_ns_ = uv_hrtime() - read_started_ns_;
    size_t head_end = off + head.head_size;
    size_t avail = len - head_end;

    Route r;
    if (!route(head, &r)) {
      // The host answered. Without a body the connection may go on; a body
      // would have to be skipped, so close instead (respond_error did).
      if (close_after_write_) return len;
      off = head_end;
      continue;
    }
    if (r.async) {
      if (loop_->has_async_loops()) {
        // This request and what follows are not consumed here: they stay in
        // in_ (handle_read) and travel with the hand-off.
        hand_off(r);
        return off;
      }
      return start_async(head, r, data, off, len);
    }

    if (head.body_kind == http::BodyKind::None) {
      dispatch(head, data + off, r, {}, nullptr, 0);
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
        dispatch(head, data + off, r,
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
      dispatch(head, data + off, r,
               std::string_view(data + head_end, dr.produced),
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
    in_.truncate(head_size + decoded + raw_len);
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
  // No reserve for the declared length: on_alloc grows in_ as the body
  // arrives, so that a head that promises a large body costs nothing yet.
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
      in_.truncate(dst + rest);
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
  Route r;
  if (route(head, &r)) {
    dispatch(head, in_.data(), r,
             std::string_view(in_.data() + head_size_,
                              static_cast<size_t>(body_len_)),
             chunked_ ? decoder_.trailers() : nullptr,
             chunked_ ? decoder_.trailer_count() : 0);
  }
  // What follows the body is the next request: move it to the front.
  in_.consume(raw_pos_);
  head_size_ = 0;
  body_len_ = 0;
  raw_pos_ = 0;
  return phase_ != Phase::Closing;
}

// ---------------------------------------------------------------------------
// Routing and the sync call

bool Connection::route(const http::RequestHead& head, Route* r) {
  served_ = true;
  keep_alive_ = head.keep_alive && !loop_->draining();
  http10_ = head.version_minor == 0;
  phase_ = Phase::Idle;
  // The head is complete: its --header-timeout no longer applies.
  if (kind == TimeoutKind::Header) loop_->timeouts().disarm(this);

  const http::ErrorCode admitted = pipeline::Admission::admit(*this, head);
  if (admitted != http::ErrorCode::None) {
    // Over its rate: the connection goes on (a body, unread, closes it).
    respond_error(admitted, &head, head.body_kind != http::BodyKind::None);
    return false;
  }

  if (head.path == "*") {
    // Asterisk-form is meaningful for a server-wide OPTIONS only (RFC 9112
    // §3.2.4); the host answers it itself.
    if (head.method != "OPTIONS") {
      respond_error(http::ErrorCode::BadTarget, &head);
      return false;
    }
    pounce_response& res = loop_->response();
    res.reset("host");
    pipeline::send_response(*this, head, res);
    if (head.body_kind != http::BodyKind::None) close_after_write_ = true;
    return false;
  }

  // The first request after a handoff uses the generation the worker chose
  // (and pinned: the Route now holds that pin); later ones the loop's
  // current one.
  if (handoff_pin_) {
    r->pin = std::move(handoff_pin_);
    r->generation = r->pin.get();
  } else {
    r->generation = loop_->generation();
  }
  http::ErrorCode error = resolve_route(head, loop_->path_buffer(), r);
  if (const std::string& health = loop_->config().health_check_path;
      !health.empty() &&
      (error == http::ErrorCode::None || error == http::ErrorCode::NoRoute) &&
      r->path == health) {
    // --health-check-path: /readyz's answer on the serving port, for
    // balancers that can probe only that (docs/operations.md). The host
    // answers; no plugin sees it.
    pounce_response& res = loop_->response();
    res.reset("host");
    char body[96];
    res.body.append(body, admin::ready_answer(body, sizeof body, &res.status));
    add_response_header(&res, {"Content-Type", 12}, {"application/json", 16});
    add_response_header(&res, {"Cache-Control", 13}, {"no-store", 8});
    pipeline::send_response(*this, head, res);
    if (head.body_kind != http::BodyKind::None) close_after_write_ = true;
    return false;
  }
  if (error != http::ErrorCode::None) {
    // Without a body the connection may go on after a 404.
    respond_error(error, &head,
                  error != http::ErrorCode::NoRoute ||
                      head.body_kind != http::BodyKind::None);
    return false;
  }
  return true;
}

void Connection::dispatch(const http::RequestHead& head, const char* head_base,
                          Route& r, std::string_view body,
                          const pounce_header_t* trailers,
                          size_t trailer_count) {
  if (r.blocking) {
    start_blocking(head, head_base, r, body, trailers, trailer_count);
  } else {
    call_sync(*this, head, r, body, trailers, trailer_count);
  }
}

void Connection::start_blocking(const http::RequestHead& head,
                                const char* head_base, Route& r,
                                std::string_view body,
                                const pounce_header_t* trailers,
                                size_t trailer_count) {
  // The request's bytes may sit in the loop's read buffer, its headers in
  // the loop's header storage, its path in the loop's path buffer: all of
  // them serve other connections while the handler runs. The job copies
  // what the handler can see.
  const Config& cfg = loop_->config();
  BlockingJob* job = loop_->acquire_job();
  if (!job ||
      !job->capture(head_base, head.head_size, cfg.max_header_size, body,
                    r.path, r.path_info, trailers, trailer_count)) {
    if (job) loop_->release_job(job);
    respond_error(http::ErrorCode::OutOfMemory, &head);
    return;
  }
  job->bind(*this, this, *r.mount,
            r.pin ? std::move(r.pin) : GenerationPin(r.generation),
            tls_ ? tls_->info() : nullptr);
  BlockingPool* pool = loop_->blocking_pool();
  if (!pool || !pool->submit(job)) {
    loop_->release_job(job);
    // The request was read whole: the connection may go on.
    respond_error(http::ErrorCode::BlockingQueueFull, &head, /*close=*/false);
    return;
  }
  blocking_ = job;
  phase_ = Phase::Blocking;
  stop_reading();
}

void Connection::detach_blocking() {
  blocking_->owner = nullptr;
  blocking_->abandoned.store(true, std::memory_order_relaxed);
  blocking_ = nullptr;
}

void Connection::finish_blocking(BlockingJob* job) {
  blocking_ = nullptr;
  job->owner = nullptr;
  phase_ = Phase::Idle;
  loop_->timeouts().disarm(this);
  if (job->res.error != http::ErrorCode::None) {
    respond_error(job->res.error, &job->head);
  } else {
    pipeline::send_response(*this, job->head, job->res);
  }
  loop_->release_job(job);
  if (phase_ == Phase::Closing) return;
  // Requests pipelined behind it waited in in_; with a write in flight,
  // on_write serves them once it completes.
  if (!close_after_write_ && !output_busy() && !in_.empty()) {
    handle_read(in_.data(), in_.size(), true);
    return;
  }
  after_input();
}

// ---------------------------------------------------------------------------
// The exchange's responses, in HTTP/1.1 framing

namespace {

// No body and no Content-Length for 204 and 304 (RFC 9110 §8.6).
bool bodiless(int status) {
  return status == 204 || status == 304;
}

}  // namespace

bool Connection::respond(const exchange::ResponseStart& s,
                         std::string_view body) {
  // A drain may have started while the plugin ran.
  if (keep_alive_ && loop_->draining()) keep_alive_ = false;
  http1::HeadFraming f;
  f.date_header = loop_->date().date_header();
  f.request_id = request_id();
  f.framing = bodiless(s.status) ? http1::Framing::NoBody
                                 : http1::Framing::ContentLength;
  f.content_length = static_cast<uint64_t>(s.content_length);
  if (!keep_alive_) {
    f.connection = http1::ConnectionHeader::Close;
  } else if (http10_) {
    f.connection = http1::ConnectionHeader::KeepAlive;
  }
  ByteBuffer& out = loop_->out();
  const bool whole_before = !out.failed();
  const size_t mark = out.size();
  http1::write_response_head(out, s, f);
  out.append(body);
  if (out.failed() && whole_before) {
    // Drop what was built of this response; the ones before it are intact.
    out.truncate(mark);
    out.forget_failure();
    return false;
  }
  if (!keep_alive_) close_after_write_ = true;
  return true;
}

void Connection::start_response(const exchange::ResponseStart& s) {
  keep_alive_ = keep_alive_ && !loop_->draining();
  http1::HeadFraming f;
  f.date_header = loop_->date().date_header();
  f.request_id = request_id();
  if (bodiless(s.status)) {
    f.framing = http1::Framing::NoBody;
  } else if (s.content_length >= 0) {
    f.framing = http1::Framing::ContentLength;
    f.content_length = static_cast<uint64_t>(s.content_length);
  } else if (http10_) {
    // No chunked encoding in HTTP/1.0: the close ends the body.
    f.framing = http1::Framing::CloseDelimited;
    keep_alive_ = false;
  } else {
    f.framing = http1::Framing::Chunked;
  }
  response_framing_ = f.framing;
  if (!keep_alive_) {
    f.connection = http1::ConnectionHeader::Close;
  } else if (http10_) {
    f.connection = http1::ConnectionHeader::KeepAlive;
  }
  http1::write_response_head(loop_->out(), s, f);
  // The response started: --request-timeout no longer applies.
  if (kind == TimeoutKind::ResponseStart) loop_->timeouts().disarm(this);
}

void Connection::write_body(std::string_view bytes) {
  if (bytes.empty()) return;
  ByteBuffer& out = loop_->out();
  if (response_framing_ != http1::Framing::Chunked) {
    out.append(bytes);
    return;
  }
  char* p = out.prepare(bytes.size() + 24);
  if (!p) return;  // out.failed(): flush_output() closes the connection
  size_t n = http1::write_chunk_size(p, bytes.size());
  memcpy(p + n, bytes.data(), bytes.size());
  p[n + bytes.size()] = '\r';
  p[n + bytes.size() + 1] = '\n';
  out.commit(n + bytes.size() + 2);
}

void Connection::end_response(std::string_view trailers) {
  if (response_framing_ != http1::Framing::Chunked) return;
  ByteBuffer& out = loop_->out();
  out.append("0\r\n");
  out.append(trailers);
  out.append("\r\n");
}

void Connection::send_early_hints(std::string_view header_lines) {
  // HTTP/1.0 has no interim responses (RFC 9110 §15.2): a 1.0 client would
  // take the 103 for the response. A connection that closes sends nothing
  // more; and only a request being handled gets hints (a blocking job
  // whose connection answered already was detached: no owner).
  if (http10_ || phase_ == Phase::Closing || phase_ == Phase::Lingering ||
      close_after_write_) {
    return;
  }
  // Behind whatever earlier pipelined responses wait in the loop's buffer,
  // and written now rather than with the final response: the client is to
  // have it while the handler still works.
  ByteBuffer& out = loop_->out();
  out.append("HTTP/1.1 103 Early Hints\r\n");
  out.append(header_lines);
  out.append("\r\n");
  flush_output();
}

bool Connection::accept_websocket(const ws::Handshake& hs,
                                  int chosen_protocol) {
  return ws::append_101_response(loop_->out(), hs, chosen_protocol);
}

void Connection::refuse_websocket(int status) {
  ByteBuffer& out = loop_->out();
  out.append(http::status_line(status));
  out.append(loop_->date().date_header());
  out.append(
      "Server: pounce\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  close_after_write_ = true;
  phase_ = Phase::Idle;
}

ByteBuffer& Connection::tunnel_output() {
  return loop_->out();
}

tls::InfoSource* Connection::tls_source() {
  return tls_.get();
}

void Connection::respond_error(http::ErrorCode code,
                               const http::RequestHead* head, bool close) {
  const int status = http::error_status(code);
  std::string_view name = http::error_name(code);
  std::string_view reason = http::status_reason(status);
  if (close || status >= 500) {
    LOG_WARN("%d %.*s from %s%s%.*s", status, static_cast<int>(name.size()),
             name.data(), peer_text().c_str(), head ? " for " : "",
             head ? static_cast<int>(
                        head->target.size() > 200 ? 200 : head->target.size())
                  : 0,
             head ? head->target.data() : "");
  }
  ByteBuffer& out = loop_->out();
  std::string_view status_line = http::status_line(status);
  std::string_view date = loop_->date().date_header();
  char* p = out.prepare(640);
  if (!p) {
    // Not even the error fits: flush_output() sees out.failed() and
    // closes without a response.
    close_after_write_ = true;
    phase_ = Phase::Idle;
    return;
  }
  char* start = p;
  auto put = [&p](std::string_view s) { p = copy_view(p, s); };
  put(status_line);
  put(date);
  put(kServerHeader);
  put("Content-Type: text/plain; charset=utf-8\r\n");
  put("X-Pounce-Error: ");
  put(name);
  put("\r\n");
  if (code == http::ErrorCode::TooManyConnections ||
      code == http::ErrorCode::BlockingQueueFull) {
    put("Retry-After: 1\r\n");
  } else if (code == http::ErrorCode::RateLimited) {
    put("Retry-After: ");
    p += format_decimal(p, retry_after_s());
    put("\r\n");
  }
  if (!request_id().empty()) {
    put("X-Request-ID: ");
    put(request_id());
    put("\r\n");
  }
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
  if (static_cast<size_t>(code) < metrics::LoopCounters::kErrorCodes) {
    loop_->counters().rejected[static_cast<size_t>(code)].add(1);
  }
  pipeline::record_response(*this, head, metrics::kNoMount, status, body_len);
  if (!keep) close_after_write_ = true;
  phase_ = Phase::Idle;
}

// Fetched on first use: most connections never need it, and getpeername is
// a system call.
const PeerAddress& Connection::peer() {
  if (peer_.len == 0) {
    int len = sizeof peer_.addr;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&peer_.addr),
                           &len) == 0) {
      peer_.len = static_cast<socklen_t>(len);
    }
  }
  return peer_;
}

bool Connection::local_address(PeerAddress* out) {
  int len = static_cast<int>(sizeof out->addr);
  if (uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&out->addr),
                         &len) != 0) {
    return false;
  }
  out->len = static_cast<socklen_t>(len);
  return true;
}

std::string Connection::peer_text() {
  pounce_addr_t a;
  a.size = sizeof a;
  if (format_address(reinterpret_cast<const sockaddr*>(&peer().addr), &a) !=
      POUNCE_OK) {
    return "unknown";
  }
  char buf[80];
  snprintf(buf, sizeof buf, a.family == POUNCE_AF_INET6 ? "[%s]:%u" : "%s:%u",
           a.text, static_cast<unsigned>(a.port));
  return buf;
}

// ---------------------------------------------------------------------------
// HTTP/2: the connection as a session's transport

bool Connection::begin_http2() {
  h2_ = h2::Session::create(loop_, this);
  if (!h2_) {
    close_now();
    return false;
  }
  phase_ = Phase::Http2;
  // An HTTP/2 connection has no request head of its own to wait for.
  if (kind == TimeoutKind::Header) loop_->timeouts().disarm(this);
  return true;
}

void Connection::arm_http2_timeout() {
  if (write_in_flight_) return;  // the write timeout runs
  if (h2_->idle()) {
    // From the moment it became idle (its last stream's end), not from
    // the last PING. A connection whose requests are all answered within
    // the read that brought them is idle after each read: its deadline
    // moves with each of them.
    const uint64_t due = h2_->idle_since_ms() +
                         loop_->timeouts().duration(TimeoutKind::KeepAlive);
    if (kind != TimeoutKind::KeepAlive || deadline_ms != due) {
      loop_->timeouts().arm_at(this, TimeoutKind::KeepAlive, due);
    }
  } else if (const uint64_t due = h2_->output_deadline()) {
    // The socket takes everything, but the client's windows let nothing
    // out (it stopped reading, or never opens them): the same
    // --write-timeout as a socket the client stopped reading, per stream,
    // from its last DATA frame (h2::Session::on_write_timeout).
    if (kind != TimeoutKind::Write || deadline_ms != due) {
      loop_->timeouts().arm_at(this, TimeoutKind::Write, due);
    }
  } else if (queued()) {
    loop_->timeouts().disarm(this);  // each stream times its own request
  }
}

ByteBuffer& Connection::wire_output() {
  return loop_->out();
}

std::shared_ptr<const tls::SessionInfo> Connection::tls_snapshot() {
  return tls_ ? tls_->info() : nullptr;
}

void Connection::wire_finish() {
  if (phase_ == Phase::Closing) return;
  close_after_write_ = true;
  if (!in_input_) after_input();
}

void Connection::wire_refresh() {
  if (in_input_ || phase_ != Phase::Http2) return;  // after_input follows
  after_input();
}

bool Connection::wire_request_move() {
  if (h2_stay_ || !loop_->has_async_loops()) return false;
  if (phase_ == Phase::HandingOff) return true;
  // As an HTTP/1 connection moves for its async request, an HTTP/2 one
  // moves whole (docs/http2.md): reading stops, what is due is written,
  // then perform_handoff() sends it, its session with it.
  stop_reading();
  phase_ = Phase::HandingOff;
  return true;
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
  if (output_busy()) {
    update_reading();  // on_write (or the file pump) continues
    return;
  }
  if (phase_ == Phase::HandingOff) {
    perform_handoff();
    return;
  }
  if (close_after_write_) {
    if (no_linger_) {
      close_now();
    } else {
      start_lingering();
    }
    return;
  }
  switch (phase_) {
    case Phase::Idle:
      if (loop_->draining()) {
        close_gracefully();
        return;
      }
      loop_->timeouts().arm(this, TimeoutKind::KeepAlive);
      break;
    case Phase::Head:
      if (!queued() || kind != TimeoutKind::Header) {
        loop_->timeouts().arm(this, TimeoutKind::Header);
      }
      break;
    case Phase::WebSocket:
      // No keep-alive or request timeout ever closes a WebSocket; the ping
      // timer watches the peer.
      if (kind != TimeoutKind::WsClose) loop_->timeouts().disarm(this);
      break;
    case Phase::Async:
      arm_async_timeout();
      break;
    case Phase::Http2:
      arm_http2_timeout();
      break;
    case Phase::Blocking:
      // --request-timeout bounds the wait for the handler's response.
      if (!queued() || kind != TimeoutKind::ResponseStart) {
        loop_->timeouts().arm(this, TimeoutKind::ResponseStart);
      }
      break;
    case Phase::Body:
    default:
      break;  // armed on progress
  }
  update_reading();
}

void Connection::send_output() {
  flush_output();
  if (output_busy() || phase_ == Phase::Closing) return;
  if (corked_ && !held_.empty()) return;  // uncork() finishes the job
  if (close_after_write_ && no_linger_) {
    close_now();  // the last frame is out
    return;
  }
  if (stream_) stream_->on_output(queued_output());
}

size_t Connection::queued_output() const {
  return (write_in_flight_ ? writing_.size() - write_off_ : 0) +
         queued_.size() + held_.size() +
         (files_ ? static_cast<size_t>(files_->pending) : 0);
}

// Corked bytes, then whatever the loop's buffer holds, become the loop's
// buffer to write. Copied rather than swapped: a swap would leave the
// loop's large buffer with this connection and the loop to grow a new one.
bool Connection::hand_held_output_to_loop() {
  ByteBuffer& out = loop_->out();
  bool ok = held_.append(out.data(), out.size());
  out.clear();
  if (ok) ok = out.append(held_.data(), held_.size());
  held_.release();
  return ok;
}

void Connection::uncork() {
  corked_ = false;
  if (!write_in_flight_ && !held_.empty() && phase_ != Phase::Closing &&
      !hand_held_output_to_loop()) {
    fail_output_memory();
    return;
  }
  send_output();
}

void Connection::flush_output() {
  ByteBuffer& out = loop_->out();
  if (out.empty() && !out.failed()) return;
  if (phase_ == Phase::Closing) {
    out.clear();
    return;
  }
  if (out.failed()) {
    // Part of what was to be sent could not be built: the bytes on the
    // wire would be a corrupt response or frame stream. Close instead.
    out.clear();
    fail_output_memory();
    return;
  }
  if (files_) {
    // Behind a file body still being sent: in order, after it.
    const bool ok = queue_file_bytes(out.data(), out.size());
    out.clear();
    if (!ok) fail_output_memory();
    return;
  }
  if (corked_ && !write_in_flight_) {
    if (!held_.append(out.data(), out.size())) {
      out.clear();
      fail_output_memory();
      return;
    }
    out.clear();
    // Corking is for batches of small frames: past this much, write what
    // is held now (a large message must not count against the
    // --stream-max-buffer of a client that reads fine).
    // Below the high-water mark too: held bytes alone must never make a
    // send report POUNCE_HIGH_WATER, whose on_drain only a write completion
    // delivers.
    const size_t limit =
        std::min<size_t>(kCorkLimit, loop_->config().stream_high_water);
    if (held_.size() < limit) return;
    if (!hand_held_output_to_loop()) {
      fail_output_memory();
      return;
    }
  }
  send_plain(out);
}

void Connection::send_plain(ByteBuffer& out) {
  if (!tls_) {
    write_wire(out);
    return;
  }
  // Encrypted as it leaves, in the order it leaves: records never
  // interleave with handshake messages or with each other.
  ByteBuffer& wire = loop_->tls_wire();
  bool ok = tls_->write(out.data(), out.size(), &wire);
  out.clear();
  if (!ok) {
    wire.clear();
    LOG_INFO("TLS to %s: %s", peer_text().c_str(), tls_->error().c_str());
    fail_output_memory();
    return;
  }
  write_wire(wire);
}

void Connection::write_wire(ByteBuffer& bytes) {
  if (write_in_flight_) {
    bool ok = queued_.append(bytes.data(), bytes.size());
    bytes.clear();
    if (!ok) fail_output_memory();
    return;
  }
  uv_buf_t whole;
  whole.base = bytes.data();
  whole.len = bytes.size();
  try_write(bytes, &whole, 1, bytes.size());
}

void Connection::try_write(ByteBuffer& source, const uv_buf_t* bufs,
                           size_t count, size_t total) {
  // uv_try_write answers in an `int`: one huge piece is tried in part.
  uv_buf_t first = bufs[0];
  if (count == 1 && first.len > kMaxTryWrite) first.len = kMaxTryWrite;
  int w =
      uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_),
                   count == 1 ? &first : bufs, static_cast<unsigned>(count));
  if (w >= 0 && static_cast<size_t>(w) == total) {
    source.clear();
    return;
  }
  if (w < 0 && w != UV_EAGAIN) {
    source.clear();
    LOG_DEBUG("write to %s failed: %s", peer_text().c_str(), uv_strerror(w));
    close_now();
    return;
  }
  // The rest waits in writing_ (a copy: `bufs` need not outlive this).
  size_t skip = w > 0 ? static_cast<size_t>(w) : 0;
  writing_.clear();
  bool ok = writing_.reserve(total - skip);
  for (size_t i = 0; ok && i < count; ++i) {
    const size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    ok = writing_.append(bufs[i].base + skip, len - skip);
    skip = 0;
  }
  source.clear();
  if (!ok) {
    fail_output_memory();
    return;
  }
  write_off_ = 0;
  start_write();
}

bool Connection::wire_can_reference() const {
  // TLS encrypts a copy anyway; a file body, corked bytes or a write in
  // flight queue what follows them (a copy); a closing connection sends
  // nothing.
  return !tls_ && !files_ && !corked_ && !write_in_flight_ &&
         phase_ != Phase::Closing;
}

void Connection::wire_send_gathered(const h2::Transport::WireRef* refs,
                                    size_t n) {
  ByteBuffer& out = loop_->out();
  if (n == 0 || phase_ == Phase::Closing || out.failed()) {
    flush_output();  // nothing referenced, or nothing to send, or a failure
    return;
  }
  if (wire_can_reference()) {
    write_gathered(out, refs, n);
    return;
  }
  // The state changed since the payloads were referenced: copy them into
  // place and send as usual.
  ByteBuffer joined;
  size_t total = out.size();
  for (size_t i = 0; i < n; ++i) total += refs[i].len;
  bool ok = joined.reserve(total);
  size_t from = 0;
  for (size_t i = 0; ok && i < n; ++i) {
    ok = joined.append(out.data() + from, refs[i].at - from) &&
         joined.append(refs[i].data, refs[i].len);
    from = refs[i].at;
  }
  ok = ok && joined.append(out.data() + from, out.size() - from);
  out.clear();
  if (!ok) {
    fail_output_memory();
    return;
  }
  out.swap(joined);
  flush_output();
}

void Connection::write_gathered(ByteBuffer& out,
                                const h2::Transport::WireRef* refs, size_t n) {
  // Each payload between the stretches of `out` around it.
  uv_buf_t bufs[2 * h2::Transport::kMaxWireRefs + 1];
  size_t count = 0;
  size_t total = 0;
  size_t from = 0;
  auto add = [&](const char* p, size_t len) {
    if (len == 0) return;
    bufs[count++] =
        uv_buf_init(const_cast<char*>(p), static_cast<unsigned>(len));
    total += len;
  };
  for (size_t i = 0; i < n; ++i) {
    add(out.data() + from, refs[i].at - from);
    add(refs[i].data, refs[i].len);
    from = refs[i].at;
  }
  add(out.data() + from, out.size() - from);
  try_write(out, bufs, count, total);
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
  // Backpressure (see may_read()), decided again at every slice: a stream
  // resumes reading once the client took enough.
  update_reading();
  // Progress is a slice the kernel took, even if more was queued meanwhile:
  // the queue cannot grow without bound (may_read(), --stream-max-buffer),
  // so a peer that reads a trickle holds at most that much, while a slow
  // download of a large response must not be cut.
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
    if (c->stream_) c->stream_->on_output(c->queued_output());
    if (c->ws_) c->ws_->on_output(c->queued_output());
    return;
  }
  c->writing_.clear();
  c->write_off_ = 0;
  if (!c->queued_.empty()) {
    std::swap(c->writing_, c->queued_);
    c->start_write();
    if (c->stream_) c->stream_->on_output(c->queued_output());
    if (c->ws_) c->ws_->on_output(c->queued_output());
    return;
  }
  c->writing_.release();
  c->queued_.release();
  if (c->files_) {
    // A file body follows what was written.
    c->pump_files();
    if (c->phase_ == Phase::Closing) return;
    if (c->output_busy()) {
      if (c->stream_) c->stream_->on_output(c->queued_output());
      return;
    }
  }
  c->output_done();
}

void Connection::output_done() {
  loop_->timeouts().disarm(this);
  if (phase_ == Phase::Lingering) return;
  if (phase_ == Phase::HandingOff) {
    perform_handoff();
    return;
  }
  if (close_after_write_) {
    if (forced_ || no_linger_) {
      close_now();
    } else {
      start_lingering();
    }
    return;
  }
  if (ws_) {
    if (ws_->state() == WsSession::State::Closing) {
      await_websocket_close();  // the write timeout had replaced it
    }
    ws_->on_output(0);
    if (phase_ == Phase::WebSocket) after_input();
    return;
  }
  if (stream_) {
    stream_->on_output(0);  // may finish the stream
    if (phase_ == Phase::Async) after_input();
    return;
  }
  if (phase_ == Phase::Http2) {
    h2_->on_writable();  // frames nghttp2 kept while the socket was full
    if (phase_ == Phase::Http2) after_input();
    return;
  }
  // Requests that arrived while the socket was full (or behind a file
  // body) are still in in_.
  if (!in_.empty() && phase_ != Phase::Body && phase_ != Phase::Blocking) {
    handle_read(in_.data(), in_.size(), true);
    return;
  }
  after_input();
}

void Connection::fail_no_memory() {
  in_.release();
  // A parked request's answer would come after this error, which closes
  // the connection: it is dropped.
  if (blocking_) detach_blocking();
  if (stream_) {
    if (stream_->started()) {
      abort_stream(POUNCE_CLOSE_ERROR);
    } else {
      fail_stream(http::ErrorCode::OutOfMemory);
    }
    return;
  }
  if (ws_) {
    LOG_ERROR("out of memory for the input of WebSocket %s; closing",
              peer_text().c_str());
    abort_websocket();
    return;
  }
  phase_ = Phase::Head;  // the error is about the request being read
  respond_error(http::ErrorCode::OutOfMemory, nullptr);
}

void Connection::fail_output_memory() {
  LOG_ERROR("out of memory for the output to %s; closing", peer_text().c_str());
  if (stream_) {
    abort_stream(POUNCE_CLOSE_ERROR);
    return;
  }
  if (ws_ && in_input_) {
    abort_websocket();  // the session is still feeding: close after it
    return;
  }
  close_now();
}

void Connection::start_lingering() {
  if (phase_ == Phase::Closing || phase_ == Phase::Lingering) return;
  if (forced_) {
    close_now();
    return;
  }
  phase_ = Phase::Lingering;
  in_.release();
  lingered_bytes_ = 0;
  loop_->timeouts().arm(this, TimeoutKind::Linger);
  // TLS: close_notify before the FIN (no write is in flight here), then the
  // same bounded discard of whatever ciphertext still arrives.
  send_close_notify();
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
  if (phase_ == Phase::Http2 &&
      (kind == TimeoutKind::Header || kind == TimeoutKind::KeepAlive)) {
    // No stream for --keep-alive-timeout (or none yet): GOAWAY, then the
    // close once it is out.
    h2_->on_idle_timeout();
    if (phase_ == Phase::Http2) after_input();
    return;
  }
  switch (kind) {
    case TimeoutKind::Header:
      if (tls_ && !tls_->handshake_done()) {
        loop_->counters()
            .tls_failed[static_cast<size_t>(tls::HandshakeFailure::Timeout)]
            .add(1);
      }
      if (awaiting_proxy_) {
        LOG_WARN(
            "PROXY protocol: closing the connection from %s: no complete "
            "header within --header-timeout",
            peer_text().c_str());
        close_now();
      } else if (phase_ == Phase::Head && !in_.empty()) {
        respond_error(http::ErrorCode::HeaderTimeout, nullptr);
        after_input();
      } else {
        // No byte of a request: a silent close, but a TLS client that
        // finished its handshake gets close_notify (a truncation otherwise).
        close_gracefully();
      }
      break;
    case TimeoutKind::Body:
      if (stream_) {
        if (stream_->started()) {
          abort_stream(POUNCE_CLOSE_TIMEOUT);
        } else {
          fail_stream(http::ErrorCode::BodyTimeout);
        }
        break;
      }
      phase_ = Phase::Head;
      in_.release();
      respond_error(http::ErrorCode::BodyTimeout, nullptr);
      after_input();
      break;
    case TimeoutKind::ResponseStart:
      if (blocking_) {
        // The handler cannot be stopped; its result is dropped when it
        // comes back. The input pipelined behind it goes with the close.
        LOG_WARN("plugin %s: no response within --request-timeout",
                 blocking_->plugin_name);
        detach_blocking();
        phase_ = Phase::Head;
        respond_error(http::ErrorCode::ResponseTimeout, nullptr);
        after_input();
        break;
      }
      if (stream_ && !stream_->started()) {
        LOG_WARN("plugin %s: no response within --request-timeout",
                 stream_->mount()->module->name().c_str());
        fail_stream(http::ErrorCode::ResponseTimeout);
      }
      break;
    case TimeoutKind::Write:
      if (h2_ && phase_ == Phase::Http2 && !write_in_flight_ &&
          h2_->on_write_timeout()) {
        // Streams starved while others' output moved: reset, the
        // connection goes on.
        if (phase_ == Phase::Http2) after_input();
        break;
      }
      LOG_INFO(
          "write timeout: %s stopped reading%s; closing", peer_text().c_str(),
          h2_ && !write_in_flight_ ? " (its HTTP/2 windows stay closed)" : "");
      if (stream_) release_stream(POUNCE_CLOSE_TIMEOUT);
      close_now();
      break;
    case TimeoutKind::WsClose:
      close_now();  // the peer never answered our close frame
      break;
    case TimeoutKind::KeepAlive:
      close_gracefully();
      break;
    case TimeoutKind::Linger:
    default:
      close_now();
      break;
  }
}

}  // namespace pounce
