#include "bench/load_connection.h"

#include <algorithm>

#include "bench/load_thread.h"

namespace pounce::bench {

namespace {

// After a failed connect or a reset, wait this long before trying again.
constexpr uint64_t kRetryDelayMs = 10;

}  // namespace

Connection::Connection(LoadThread& thread) : thread_(thread) {
  uv_timer_init(thread_.loop(), &retry_timer_);
  retry_timer_.data = this;
  if (thread_.config().tls) tls_ = std::make_unique<TlsStream>();
}

void Connection::open() {
  connect();
}

void Connection::connect() {
  state_ = State::Connecting;
  connect_started_ns_ = uv_hrtime();
  uv_tcp_init(thread_.loop(), &tcp_);
  tcp_.data = this;
  connect_req_.data = this;
  int rc = uv_tcp_connect(&connect_req_, &tcp_,
                          reinterpret_cast<const sockaddr*>(&thread_.address()),
                          on_connect);
  if (rc != 0) {
    ++thread_.live().connect_errors;
    if (first_attempt_) {
      first_attempt_ = false;
      thread_.first_connect_done(false);
    }
    reconnect(true);
  }
}

void Connection::on_connect(uv_connect_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  if (status == UV_ECANCELED || c->state_ != State::Connecting) return;
  bool first = c->first_attempt_;
  c->first_attempt_ = false;
  if (status != 0) {
    ++c->thread_.live().connect_errors;
    if (first) c->thread_.first_connect_done(false);
    c->reconnect(true);
    return;
  }
  // Requests are small and latency-bound: never let Nagle hold one back.
  uv_tcp_nodelay(&c->tcp_, 1);
  if (!c->tls_) {
    c->state_ = State::Open;
    uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), on_alloc,
                  on_read_cb);
    if (first) c->thread_.first_connect_done(true);
    c->established();
    return;
  }
  c->state_ = State::Handshaking;
  c->first_pending_ = first;
  const TlsClientContext* context = c->thread_.tls_context();
  if (!context || !c->tls_->begin(*context)) {
    c->tls_failed(true);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), on_alloc, on_read_cb);
  // The ClientHello.
  if (c->tls_->handshake() == TlsStream::Handshake::Failed) {
    c->tls_failed(true);
    return;
  }
  c->flush_tls();
}

void Connection::established() {
  state_ = State::Open;
  if (thread_.begun()) start_traffic();
}

void Connection::tls_failed(bool handshake) {
  thread_.note_tls_error(tls_->error().empty() ? "cannot create an SSL"
                                               : tls_->error());
  if (handshake) {
    ++thread_.live().connect_errors;
    if (first_pending_) {
      first_pending_ = false;
      thread_.first_connect_done(false);
    }
  } else {
    count_lost_requests();
  }
  reconnect(true);
}

void Connection::on_tls_input(const char* data, size_t len, uint64_t now) {
  tls_->feed(data, len);
  if (state_ == State::Handshaking) {
    switch (tls_->handshake()) {
      case TlsStream::Handshake::InProgress:
        flush_tls();
        return;
      case TlsStream::Handshake::Failed:
        flush_tls();  // the alert, if the socket still takes it
        tls_failed(true);
        return;
      case TlsStream::Handshake::Done:
        break;
    }
    thread_.note_tls_handshake(*tls_);
    if (first_pending_) {
      first_pending_ = false;
      thread_.first_connect_done(true);
    }
    // The client Finished waits in the TlsStream: the first request, if it
    // goes out now, joins it in one write.
    established();
    flush_tls();
    if (state_ != State::Open) return;
  }
  // Plaintext, one record at a time, until every byte read is consumed; the
  // subclass may close the connection under us (the loop then stops).
  char* plain = thread_.plain_buffer();
  const size_t cap = thread_.plain_buffer_size();
  for (;;) {
    long n = tls_->read(plain, cap);
    if (n > 0) {
      thread_.live().bytes_read += static_cast<uint64_t>(n);
      on_read(plain, static_cast<size_t>(n), now);
      if (state_ != State::Open) return;
      continue;
    }
    if (n == TlsStream::kWantMore) break;
    if (n == TlsStream::kClosed) {
      // close_notify: the TLS form of an orderly EOF.
      if (on_eof()) count_lost_requests();
      reconnect(false);
    } else {
      tls_failed(false);
    }
    return;
  }
  flush_tls();  // a KeyUpdate answer, if the server asked for one
}

void Connection::flush_tls() {
  std::string_view out = tls_->output();
  if (out.empty()) return;
  send_raw(out.data(), out.size());
  tls_->consume_output();
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // One buffer per thread: a read is parsed completely before the next
  // allocation, and the parsers copy only what they must keep.
  auto* c = static_cast<Connection*>(h->data);
  *buf = uv_buf_init(c->thread_.read_buffer(),
                     static_cast<unsigned>(c->thread_.read_buffer_size()));
}

void Connection::on_read_cb(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  auto* c = static_cast<Connection*>(s->data);
  if (c->state_ != State::Open && c->state_ != State::Handshaking) return;
  if (n > 0 && c->tls_) {
    c->on_tls_input(buf->base, static_cast<size_t>(n), uv_hrtime());
    return;
  }
  if (n > 0) {
    c->thread_.live().bytes_read += static_cast<uint64_t>(n);
    c->on_read(buf->base, static_cast<size_t>(n), uv_hrtime());
    return;
  }
  if (c->state_ == State::Handshaking && n < 0) {
    // The server hung up on the handshake.
    if (c->tls_->error().empty()) {
      c->thread_.note_tls_error(n == UV_EOF ? "EOF during the handshake"
                                            : uv_strerror(static_cast<int>(n)));
    }
    c->tls_failed(true);
    return;
  }
  if (n == UV_EOF) {
    if (c->on_eof()) c->count_lost_requests();
    c->reconnect(false);
  } else if (n < 0) {
    c->count_lost_requests();
    c->reconnect(true);
  }
}

void Connection::count_lost_requests() {
  // With --pipeline N one reset loses up to N requests: a count of events
  // would understate it N-fold.
  thread_.live().read_errors += std::max<uint64_t>(1, in_flight());
}

void Connection::send(const char* data, size_t len) {
  if (state_ != State::Open || len == 0) return;
  if (!tls_) {
    send_raw(data, len);
    return;
  }
  if (!tls_->write(data, len)) {
    thread_.note_tls_error(tls_->error());
    ++thread_.live().write_errors;
    reconnect(true);
    return;
  }
  flush_tls();
}

void Connection::send_raw(const char* data, size_t len) {
  if (!has_socket() || state_ == State::Connecting || len == 0) return;
  if (write_busy_) {
    queued_.append(data, len);
    return;
  }
  uv_buf_t buf =
      uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1);
  if (n == static_cast<int>(len)) return;
  if (n < 0 && n != UV_EAGAIN) {
    ++thread_.live().write_errors;
    reconnect(true);
    return;
  }
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  writing_.assign(data + done, len - done);
  buf = uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  write_req_.data = this;
  write_busy_ = true;
  uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
           on_write);
}

void Connection::on_write(uv_write_t* req, int status) {
  auto* c = static_cast<Connection*>(req->data);
  c->write_busy_ = false;
  if (status == UV_ECANCELED) return;  // closing
  if (status != 0) {
    ++c->thread_.live().write_errors;
    c->reconnect(true);
    return;
  }
  c->flush_queued();
}

void Connection::flush_queued() {
  if (queued_.empty() ||
      (state_ != State::Open && state_ != State::Handshaking)) {
    return;
  }
  writing_.swap(queued_);
  queued_.clear();
  uv_buf_t buf =
      uv_buf_init(writing_.data(), static_cast<unsigned>(writing_.size()));
  write_req_.data = this;
  write_busy_ = true;
  uv_write(&write_req_, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1,
           on_write);
}

void Connection::reconnect(bool after_error) {
  if (state_ == State::Done || state_ == State::Closing) return;
  reconnect_after_close_ = !thread_.stopping();
  retry_delay_ = after_error;
  close_socket();
}

void Connection::close_socket() {
  on_reset();
  queued_.clear();
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  if (state_ == State::Idle) return;  // nothing open
  state_ = State::Closing;
  if (!uv_is_closing(h)) uv_close(h, on_closed);
}

void Connection::on_closed(uv_handle_t* h) {
  auto* c = static_cast<Connection*>(h->data);
  if (c->state_ == State::Done) return;
  c->state_ = State::Idle;
  if (!c->reconnect_after_close_ || c->thread_.stopping()) return;
  if (c->retry_delay_) {
    uv_timer_start(&c->retry_timer_, on_retry, kRetryDelayMs, 0);
  } else {
    c->connect();
  }
}

void Connection::on_retry(uv_timer_t* t) {
  auto* c = static_cast<Connection*>(t->data);
  if (!c->thread_.stopping() && c->state_ == State::Idle) c->connect();
}

void Connection::shutdown() {
  reconnect_after_close_ = false;
  uv_timer_stop(&retry_timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_timer_), nullptr);
  auto* h = reinterpret_cast<uv_handle_t*>(&tcp_);
  bool open_socket = has_socket() || state_ == State::Closing;
  state_ = State::Done;
  if (open_socket && !uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace pounce::bench
