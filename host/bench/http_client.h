// The request/response client: sends a fixed request, keeps `pipeline` of
// them in flight, and times each response from its send time (closed loop)
// or from its intended send time (open loop).
#pragma once

#include <string>
#include <vector>

#include "bench/load_connection.h"
#include "bench/response_parser.h"

namespace pounce::bench {

class HttpConnection : public Connection {
 public:
  HttpConnection(LoadThread& thread, const std::string& request,
                 unsigned pipeline);

  void start_traffic() override;
  void send_scheduled(uint64_t intended_ns) override;
  bool has_capacity() const override;

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
  // Send (or intended) times of the requests in flight, oldest first: a
  // ring, because responses come back in request order (RFC 9112 §9.3.2).
  std::vector<uint64_t> sent_;
  size_t head_ = 0;
  size_t in_flight_ = 0;
  bool closing_after_response_ = false;
};

}  // namespace pounce::bench
