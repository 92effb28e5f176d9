// The event-stream client: one GET per connection for an endless stamped
// stream (`stamp=1`), then every event counts once, and its delivery latency
// is the client's CLOCK_MONOTONIC at receipt minus the server's stamp. Both
// clocks are the same clock only on one machine, which is the point: no
// clock sync error hides in the figure.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "bench/load_connection.h"
#include "bench/response_parser.h"
#include "bench/sse_parser.h"

namespace pounce::bench {

// Counts events and stamps; the part of the client that the unit tests drive
// with canned bytes, without a socket.
class SseStreamReader : public BodySink {
 public:
  SseStreamReader();
  // Feeds raw response bytes (head, chunked framing, events) received at
  // `now_ns`. Returns false on a protocol error.
  bool feed(const char* data, size_t len, uint64_t now_ns);
  bool finish_eof() { return parser_.finish_eof(); }

  void on_body(std::string_view bytes) override;

  // Since the last take_*() call.
  uint64_t take_events() { return std::exchange(events_, 0); }
  // Events that are not the sse plugin's format (`id: i`, data
  // {"seq":i,"t":ns}, i counting up by one along a stream).
  uint64_t take_wrong() { return std::exchange(wrong_, 0); }
  const std::vector<uint64_t>& latencies() const { return latencies_; }
  void clear_latencies() { latencies_.clear(); }
  uint64_t unstamped() const { return unstamped_; }
  bool response_complete() const { return complete_; }
  int status() const { return parser_.status(); }
  bool keep_alive() const { return parser_.keep_alive(); }
  void reset();

 private:
  ResponseParser parser_;
  SseParser sse_;
  uint64_t now_ = 0;
  uint64_t events_ = 0;
  uint64_t wrong_ = 0;
  uint64_t next_seq_ = 0;  // of this stream
  bool seq_started_ = false;
  uint64_t unstamped_ = 0;
  bool broken_ = false;
  bool complete_ = false;
  std::vector<uint64_t> latencies_;  // ns, of the last feed()
};

class SseConnection : public Connection {
 public:
  SseConnection(LoadThread& thread, const std::string& request);
  void start_traffic() override;

 protected:
  void on_read(const char* data, size_t len, uint64_t now) override;
  bool on_eof() override;
  void on_reset() override;

 private:
  void drain(uint64_t now);

  const std::string& request_;
  SseStreamReader reader_;
  bool requested_ = false;
};

}  // namespace pounce::bench
