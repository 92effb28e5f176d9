// The async side of a Connection: the handoff from a worker to an async
// loop, and the life of an AsyncStream on it (ARCHITECTURE.md §1 "Async
// path").
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "async/stream.h"
#include "log/logger.h"
#include "net/async_loop.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "plugin/generation.h"
#include "tls/session.h"

namespace pounce {

namespace {
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
}

// ---------------------------------------------------------------------------
// Handoff (worker side)

void Connection::hand_off(Route& r) {
  // 1. Stop reading. 2. Flush the responses already due (after_input). 3.
  // dup() + close our handle. 4. Queue {fd, unread bytes, pin} to an async
  // loop. The input is not touched here: serve_requests() reports the bytes
  // before this request as consumed, and handle_read() keeps the rest in
  // in_, exactly as for a partial request.
  stop_reading();
  // The generation this request was routed with stays pinned until the
  // async loop is done with it (the pin travels in the Handoff).
  handoff_pin_ = r.pin ? std::move(r.pin) : GenerationPin(r.generation);
  phase_ = Phase::HandingOff;
}

void Connection::perform_handoff() {
  uv_os_fd_t fd = -1;
  int dup_fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0) {
    dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  }
  AsyncLoop* target = loop_->next_async_loop();
  if (dup_fd < 0 || !target) {
    LOG_ERROR("cannot hand a connection to the async pool: %s",
              dup_fd < 0 ? strerror(errno) : "no async loop");
    if (dup_fd >= 0) ::close(dup_fd);
    handoff_pin_.reset();
    if (h2_) {
      // Its streams start here after all: async plugins run on a worker
      // then, which beats refusing them.
      h2_stay_ = true;
      phase_ = Phase::Http2;
      h2_->attach(loop_, this);
      if (phase_ != Phase::Closing) after_input();
      return;
    }
    respond_error(http::ErrorCode::PluginError, nullptr);
    after_input();
    return;
  }
  Handoff h;
  h.fd = dup_fd;
  h.bytes = std::move(in_);
  h.pin = std::move(handoff_pin_);
  h.listener = listener_;
  h.peer = peer_;
  h.proxy_tlvs = std::move(proxy_tlvs_);
  h.tls = std::move(tls_);
  if (h2_) {
    h2_->detach(loop_, target);
    h.h2 = std::move(h2_);
  }
  h.origin_count = &loop_->handed_off();
  h.origin_count->fetch_add(1, std::memory_order_relaxed);
  if (!target->adopt(std::move(h))) {
    // The pool has finished (shutdown): nobody will serve this request. The
    // pin goes with `h`.
    ::close(dup_fd);
    loop_->handed_off().fetch_sub(1, std::memory_order_relaxed);
  }
  // Our handle goes; the socket lives on in the duplicate. No FIN is sent:
  // the kernel closes the socket only with its last descriptor.
  close_now();
}

// ---------------------------------------------------------------------------
// Adoption (async side)

void Connection::adopt_handoff(EventLoop* loop, Handoff&& h) {
  // Released on every early return; moved to the connection otherwise.
  GenerationPin pin = std::move(h.pin);
  auto* c = new Connection(loop);
  bool ok = c->init_socket();
  int rc = ok ? uv_tcp_open(&c->tcp_, h.fd) : UV_ENOMEM;
  if (rc != 0) {
    LOG_ERROR("cannot adopt a handed-off connection: %s", uv_strerror(rc));
    ::close(h.fd);
    c->origin_count_ = h.origin_count;
    if (ok) {
      c->phase_ = Phase::Closing;
      uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp_), [](uv_handle_t* hd) {
        delete static_cast<Connection*>(hd->data);
      });
    } else {
      delete c;
    }
    return;
  }
  c->peer_ = h.peer;
  c->listener_ = h.listener;
  c->proxy_tlvs_ = std::move(h.proxy_tlvs);
  c->origin_count_ = h.origin_count;
  c->handoff_pin_ = std::move(pin);
  c->in_ = std::move(h.bytes);
  c->tls_ = std::move(h.tls);
  loop->add_connection(c);
  uv_tcp_nodelay(&c->tcp_, 1);
  if (h.h2) {
    // An HTTP/2 connection: its session, streams and all, continues here;
    // the streams that waited for this loop start now.
    c->alpn_checked_ = true;
    c->served_ = true;
    c->h2_ = std::move(h.h2);
    c->phase_ = Phase::Http2;
    c->handoff_pin_.reset();
    c->h2_->attach(loop, c);
    if (c->phase_ == Phase::Http2 && loop->draining()) c->h2_->begin_drain();
    if (c->phase_ != Phase::Closing) c->after_input();
    return;
  }
  const Config& cfg = loop->config();
  if (cfg.times_requests()) c->read_started_ns_ = uv_hrtime();
  c->handle_read(c->in_.data(), c->in_.size(), true);
  // The pin was for the request that came with the hand-off: route() took
  // it. If that request never got routed, it has no use any more.
  c->handoff_pin_.reset();
  if (c->phase_ != Phase::Closing) c->start_reading();
}

// ---------------------------------------------------------------------------
// The stream

size_t Connection::start_async(const http::RequestHead& head, Route& r,
                               char* data, size_t head_off, size_t len) {
  if (head.upgrade_websocket) {
    return start_websocket(head, r, data, head_off, len);
  }
  const Config& cfg = loop_->config();
  if (head.body_kind == http::BodyKind::ContentLength &&
      head.content_length > cfg.max_body_size) {
    respond_error(http::ErrorCode::BodyTooLarge, &head);
    return len;
  }
  // The stream keeps its generation until it is freed.
  GenerationPin pin = r.pin ? std::move(r.pin) : GenerationPin(r.generation);
  auto* s = new AsyncStream(this, r.mount, std::move(pin), head);
  stream_ = s;
  phase_ = Phase::Async;
  keep_alive_ = head.keep_alive;

  // Body framing for on_body.
  stream_body_chunked_ = head.body_kind == http::BodyKind::Chunked;
  stream_body_left_ =
      head.body_kind == http::BodyKind::ContentLength ? head.content_length : 0;
  stream_body_done_ = head.body_kind == http::BodyKind::None ||
                      (!stream_body_chunked_ && stream_body_left_ == 0);
  if (stream_body_chunked_) {
    http::BodyLimits limits;
    limits.max_body_size = cfg.max_body_size;
    limits.max_trailer_size = cfg.max_header_size;
    limits.max_trailers = cfg.max_headers;
    decoder_.start_chunked(limits, loop_->trailer_storage());
  }
  size_t head_end = head_off + head.head_size;
  if (!stream_body_done_ && head.expect_continue && head.version_minor >= 1 &&
      head_end == len) {
    loop_->out().append(kContinue);
  }

  s->begin(head, r);
  if (phase_ != Phase::Async) return len;  // answered and closing
  size_t used = head_end - head_off;
  if (!stream_body_done_)
    used += feed_stream_body(data + head_end, len - head_end);
  return head_off + used;
}

size_t Connection::feed_stream_body(char* data, size_t len) {
  if (!stream_ || stream_body_done_) return 0;
  size_t consumed = 0;
  size_t produced = 0;
  bool done = false;
  if (stream_body_chunked_) {
    http::DecodeResult dr = decoder_.decode(data, len, data);
    if (dr.status == http::DecodeStatus::Error) {
      if (stream_->started()) {
        abort_stream(POUNCE_CLOSE_ERROR);
      } else {
        fail_stream(dr.error);
      }
      return len;
    }
    consumed = dr.consumed;
    produced = dr.produced;
    done = dr.status == http::DecodeStatus::Done;
  } else {
    consumed =
        len < stream_body_left_ ? len : static_cast<size_t>(stream_body_left_);
    produced = consumed;
    stream_body_left_ -= consumed;
    done = stream_body_left_ == 0;
  }
  if (produced || done) {
    loop_->timeouts().arm(this, TimeoutKind::Body);  // progress
    stream_body_done_ = done;
    stream_->deliver_body(data, produced, done);
  }
  return consumed;
}

void Connection::arm_async_timeout() {
  if (!stream_) return;
  if (output_busy()) return;  // the write timeout runs
  if (!stream_body_done_) {
    if (kind != TimeoutKind::Body)
      loop_->timeouts().arm(this, TimeoutKind::Body);
  } else if (!stream_->started()) {
    if (kind != TimeoutKind::ResponseStart) {
      loop_->timeouts().arm(this, TimeoutKind::ResponseStart);
    }
  } else {
    // A started stream may be idle as long as it likes (an SSE stream
    // between events is not "no progress").
    loop_->timeouts().disarm(this);
  }
}

void Connection::release_stream(pounce_close_reason_t reason) {
  AsyncStream* s = stream_;
  if (!s) return;
  stream_ = nullptr;
  AsyncStream::release(s, reason);
}

void Connection::finish_stream() {
  if (!stream_) return;
  if (in_input_) {
    // Called from inside a hook that handle_read runs: finish when it
    // returns, so that pipelined input is not served re-entrantly.
    finish_pending_ = true;
    return;
  }
  bool keep =
      keep_alive_ && stream_body_done_ && !loop_->draining() && !forced_;
  release_stream(POUNCE_CLOSE_DONE);
  phase_ = Phase::Idle;
  if (!keep) {
    close_after_write_ = true;
    after_input();
    return;
  }
  if (!in_.empty()) {
    handle_read(in_.data(), in_.size(), true);
    return;
  }
  after_input();
}

void Connection::abort_stream(pounce_close_reason_t reason) {
  release_stream(reason);
  // No final chunk and no FIN after a complete body: a plain close, so the
  // client sees the response cut short.
  close_now();
}

void Connection::fail_stream(http::ErrorCode code) {
  release_stream(POUNCE_CLOSE_ERROR);
  phase_ = Phase::Idle;
  respond_error(code, nullptr);
  if (!in_input_) after_input();
}

}  // namespace pounce
