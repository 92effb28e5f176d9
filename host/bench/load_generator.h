// The built-in load generator: keep-alive connections on libuv loops, one
// loop per load thread. Closed loop (each connection keeps `pipeline`
// requests in flight), or open loop at a fixed arrival rate where latency is
// measured from the intended send time, so that a stalled server cannot hide
// its stall by slowing the client down (no coordinated omission).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "bench/latency_histogram.h"
#include "bench/tls_client.h"

namespace pounce::bench {

// How a connection talks to the server.
enum class ClientKind {
  Http,         // request/response, pipelined
  EventStream,  // one GET, then a text/event-stream of stamped events
  WebSocket,    // one upgrade, then echoed messages, pipelined
  // Connections that are opened (with --h2: the HTTP/2 preface and
  // SETTINGS exchanged) and then left idle, to measure the server's memory
  // per idle connection (idle_probe.h). Not a load: no LoadGenerator run.
  Idle,
};

struct LoadConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  ClientKind kind = ClientKind::Http;
  std::string request;  // the bytes of one request (WebSocket: the upgrade)
  // Http: the body every 2xx response must carry, byte for byte (hello,
  // json, echo); a different one counts in wrong_body. Unset: not checked
  // (--url, where the client cannot know it).
  std::optional<std::string> expected_body;
  // WebSocket: the size of each message, and whether to offer
  // permessage-deflate.
  size_t ws_message_size = 64;
  bool ws_deflate = false;
  unsigned connections = 64;
  unsigned pipeline = 1;  // requests in flight per connection
  unsigned threads = 1;
  double rate = 0;  // requests per second over all connections; 0 = closed
  double warmup_s = 0;
  double duration_s = 5;
  int pin_cpu = -1;  // pin the load threads to this CPU
  // Event streams: spread the streams' first requests evenly over this many
  // milliseconds (their event interval), so that their events interleave
  // as independent clients' would instead of arriving as one burst.
  unsigned stagger_ms = 0;
  // --tls: every connection speaks TLS (one SSL_CTX per load thread).
  bool tls = false;
  TlsClientOptions tls_options;
  // --new-conn: the request carries Connection: close, so each connection
  // answers one request; a closed-loop request's latency then runs from
  // the connect (TCP and TLS handshakes included).
  bool new_conn = false;
};

struct LoadCounters {
  uint64_t completed = 0;  // responses, or events for an event stream
  uint64_t non_2xx = 0;
  // 2xx answers whose body was not the expected one: a hello or json body
  // that differs, an echo that is not the request's body, an event that is
  // not the plugin's `id: i` / {"seq":i,"t":...} in sequence, a WebSocket
  // echo that is not the message sent.
  uint64_t wrong_body = 0;
  uint64_t connect_errors = 0;
  // Requests lost to a reset, or to a close with requests in flight: with
  // --pipeline N one reset loses up to N. A reset with nothing in flight
  // still counts one.
  uint64_t read_errors = 0;
  uint64_t write_errors = 0;
  uint64_t protocol_errors = 0;  // unparsable responses or streams
  // Open loop: requests given up on (in flight at a reset or at the end of
  // the window, or due and never sent), each recorded in the latency
  // histogram as the time from its intended send to that moment.
  uint64_t abandoned = 0;
  uint64_t bytes_read = 0;
  // Bytes of the complete responses (head and body): bytes_read also holds
  // partial ones and the WebSocket frames.
  uint64_t response_bytes = 0;
  // --tls: handshakes completed, and how many of them resumed a session.
  // A failed handshake counts in connect_errors.
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;

  uint64_t socket_errors() const {
    return connect_errors + read_errors + write_errors + protocol_errors;
  }
  // The answers a ratio may count: 2xx with the expected body.
  uint64_t good() const {
    uint64_t bad = non_2xx + wrong_body;
    return completed > bad ? completed - bad : 0;
  }
  void add(const LoadCounters& o);
};

struct LoadResult {
  double elapsed_s = 0;  // the measured window
  LoadCounters counters;
  LatencyHistogram latency;  // ns
  uint64_t unsent = 0;     // open loop: due requests never sent (server behind)
  bool connected = false;  // every connection was established before start
  // The busiest load thread's CPU time over the window, in percent of one
  // core: near 100 the client, not the server, set the pace.
  double load_cpu_percent = 0;
  // uv_hrtime() of the last load thread to open its window (after the
  // warm-up) and of the last to close it.
  uint64_t window_opened_ns = 0;
  uint64_t window_closed_ns = 0;
  // --tls: what the first handshake agreed on, and the first handshake
  // failure's reason ("" when none failed).
  TlsFacts tls;
  std::string tls_error;

  // Good answers (2xx, expected body) per second: what ratios compare.
  double per_second() const {
    return elapsed_s > 0 ? static_cast<double>(counters.good()) / elapsed_s : 0;
  }
  // Every answer, right or wrong, per second.
  double answered_per_second() const {
    return elapsed_s > 0 ? static_cast<double>(counters.completed) / elapsed_s
                         : 0;
  }
};

class LoadGenerator {
 public:
  explicit LoadGenerator(LoadConfig config) : config_(std::move(config)) {}

  // Connects, runs the warm-up and the measured window, and stops. Calls
  // `progress(seconds_into_window, completed_so_far)` about four times a
  // second from the calling thread (negative seconds during the warm-up).
  // When `*abort` becomes true the run ends early. `window(true)` is called
  // just before the measured window opens and `window(false)` just after it
  // closes, so that server-side figures (CPU time) cover the same interval.
  LoadResult run(const std::function<void(double, uint64_t)>& progress,
                 const std::atomic<bool>* abort,
                 const std::function<void(bool)>& window = nullptr);

 private:
  LoadConfig config_;
};

}  // namespace pounce::bench
