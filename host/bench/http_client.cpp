#include "bench/http_client.h"

#include <utility>

#include "bench/load_thread.h"

namespace pounce::bench {

void BodyCheck::on_body(std::string_view bytes) {
  if (!expected_ || wrong_) return;
  if (bytes.size() > expected_->size() - seen_ ||
      bytes.compare(0, bytes.size(), *expected_, seen_, bytes.size()) != 0) {
    wrong_ = true;
    return;
  }
  seen_ += bytes.size();
}

bool BodyCheck::finish() {
  bool right = !wrong_ && (!expected_ || seen_ == expected_->size());
  reset();
  return right;
}

HttpConnection::HttpConnection(LoadThread& thread, const std::string& request,
                               unsigned pipeline,
                               const std::string* expected_body)
    : Connection(thread),
      request_size_(request.size()),
      depth_(pipeline == 0 ? 1 : pipeline),
      body_check_(expected_body),
      sent_(depth_, 0) {
  batch_.reserve(request.size() * depth_);
  for (unsigned i = 0; i < depth_; ++i) batch_ += request;
}

bool HttpConnection::has_capacity() const {
  return is_open() && !closing_after_response_ && in_flight_ < depth_;
}

void HttpConnection::start_traffic() {
  if (thread_.open_loop()) {
    thread_.offer_capacity(this);
  } else {
    uint64_t now = uv_hrtime();
    // --new-conn: the request's latency includes the connect and the
    // handshake it paid for (a connection opened before the run began
    // waited for the start, which is not the server's time).
    if (thread_.config().new_conn &&
        connect_started_ns() >= thread_.window_start_ns()) {
      now = connect_started_ns();
    }
    send_batch(depth_ - static_cast<unsigned>(in_flight_), now);
  }
}

void HttpConnection::send_batch(unsigned n, uint64_t now) {
  if (n == 0) return;
  for (unsigned i = 0; i < n; ++i) {
    sent_[(head_ + in_flight_) % depth_] = now;
    ++in_flight_;
  }
  send(batch_.data(), request_size_ * n);
}

void HttpConnection::send_scheduled(uint64_t intended_ns) {
  sent_[(head_ + in_flight_) % depth_] = intended_ns;
  ++in_flight_;
  send(batch_.data(), request_size_);
}

void HttpConnection::complete(uint64_t now) {
  LoadCounters& live = thread_.live();
  const bool right_body = body_check_.finish();
  if (in_flight_ == 0) {
    // A response nobody asked for: the stream is out of step.
    ++live.protocol_errors;
    return;
  }
  uint64_t sent = sent_[head_];
  head_ = (head_ + 1) % depth_;
  --in_flight_;
  ++live.completed;
  live.response_bytes += std::exchange(response_bytes_, 0);
  int status = parser_.status();
  if (status < 200 || status > 299) {
    ++live.non_2xx;
  } else if (!right_body) {
    ++live.wrong_body;
  }
  thread_.record_latency(now > sent ? now - sent : 0);
  if (!parser_.keep_alive()) closing_after_response_ = true;
}

void HttpConnection::abandon_in_flight(uint64_t now) {
  for (size_t i = 0; i < in_flight_; ++i) {
    thread_.abandon(sent_[(head_ + i) % depth_], now);
  }
  in_flight_ = 0;
}

void HttpConnection::on_read(const char* data, size_t len, uint64_t now) {
  unsigned done = 0;
  while (len > 0) {
    ResponseParser::Step step =
        parser_.feed(data, len, body_check_.active() ? &body_check_ : nullptr);
    if (step.error) {
      ++thread_.live().protocol_errors;
      reconnect(true);
      return;
    }
    data += step.consumed;
    len -= step.consumed;
    response_bytes_ += step.consumed;
    if (step.complete) {
      complete(now);
      ++done;
      if (closing_after_response_) break;
    }
  }
  thread_.publish_progress();
  if (closing_after_response_) {
    // The server said Connection: close; what else we pipelined is lost,
    // which is the server's choice, not an error.
    reconnect(false);
    return;
  }
  if (thread_.open_loop()) {
    if (done) thread_.offer_capacity(this);
  } else {
    send_batch(done, uv_hrtime());
  }
}

bool HttpConnection::on_eof() {
  if (parser_.finish_eof()) {
    complete(uv_hrtime());
    thread_.publish_progress();
  }
  // Requests still in flight are lost: the server closed on them.
  return in_flight_ > 0 && !closing_after_response_;
}

void HttpConnection::on_reset() {
  // Open loop: what was in flight never gets an answer; its latency is the
  // time until now, so that a server that resets under load shows it.
  if (thread_.open_loop() && thread_.begun()) abandon_in_flight(uv_hrtime());
  parser_ = ResponseParser();
  body_check_.reset();
  response_bytes_ = 0;
  head_ = 0;
  in_flight_ = 0;
  closing_after_response_ = false;
}

}  // namespace pounce::bench
