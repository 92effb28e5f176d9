// The request/response client: sends a fixed request, keeps `pipeline` of
// them in flight, and times each response from its send time (closed loop)
// or from its intended send time (open loop).
#pragma once

#include <string>
#include <vector>

#include "bench/load_connection.h"
#include "bench/response_parser.h"

namespace pounce::bench {

// Compares a response body, piece by piece, with the one expected. No copy:
// each piece is checked against the expected bytes at its offset.
class BodyCheck : public BodySink {
 public:
  explicit BodyCheck(const std::string* expected) : expected_(expected) {}
  void on_body(std::string_view bytes) override;
  // The body that just ended was the expected one; then forgets it.
  bool finish();
  void reset() {
    seen_ = 0;
    wrong_ = false;
  }
  bool active() const { return expected_ != nullptr; }

 private:
  const std::string* expected_;  // null: no check
  size_t seen_ = 0;
  bool wrong_ = false;
};

class HttpConnection : public Connection {
 public:
  // `expected_body`: what every 2xx response must carry, or null.
  HttpConnection(LoadThread& thread, const std::string& request,
                 unsigned pipeline, const std::string* expected_body = nullptr);

  void start_traffic() override;
  void send_scheduled(uint64_t intended_ns) override;
  bool has_capacity() const override;
  uint64_t in_flight() const override { return in_flight_; }
  void abandon_in_flight(uint64_t now) override;

 protected:
  void on_read(const char* data, size_t len, uint64_t now) override;
  bool on_eof() override;
  void on_reset() override;

 private:
  void complete(uint64_t now);
  void send_batch(unsigned n, uint64_t now);

  // `depth` copies of the request back to back: any number up to the depth
  // goes out in one write, without building anything per request.
  std::string batch_;
  size_t request_size_;
  unsigned depth_;
  ResponseParser parser_;
  BodyCheck body_check_;
  uint64_t response_bytes_ = 0;  // of the response being read
  // Send (or intended) times of the requests in flight, oldest first: a
  // ring, because responses come back in request order (RFC 9112 §9.3.2).
  std::vector<uint64_t> sent_;
  size_t head_ = 0;
  size_t in_flight_ = 0;
  bool closing_after_response_ = false;
};

}  // namespace pounce::bench
