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
}

void Connection::open() {
  connect();
}

void Connection::connect() {
  state_ = State::Connecting;
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
  c->state_ = State::Open;
  // Requests are small and latency-bound: never let Nagle hold one back.
  uv_tcp_nodelay(&c->tcp_, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp_), on_alloc, on_read_cb);
  if (first) c->thread_.first_connect_done(true);
  if (c->thread_.begun()) c->start_traffic();
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
  if (c->state_ != State::Open) return;
  if (n > 0) {
    c->thread_.live().bytes_read += static_cast<uint64_t>(n);
    c->on_read(buf->base, static_cast<size_t>(n), uv_hrtime());
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
  if (queued_.empty() || state_ != State::Open) return;
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
  bool has_socket = state_ == State::Connecting || state_ == State::Open ||
                    state_ == State::Closing;
  state_ = State::Done;
  if (has_socket && !uv_is_closing(h)) uv_close(h, nullptr);
}

}  // namespace pounce::bench
