// One HTTP/2 connection's protocol state (RFC 9113): an nghttp2 server
// session, its streams, and the glue between them and the app side. The
// HTTP/1 Connection under it keeps the socket, TLS, the write queue and the
// connection's timeouts (h2/transport.h); this class turns the plaintext it
// is fed into streams, and writes the frames nghttp2 produces into the
// loop's output buffer.
//
// Reentrancy: nghttp2 must not be entered from its own callbacks, and the
// app side may call an exchange from inside one (a sync handler runs inside
// the HEADERS frame's callback, a plugin writes inside on_request). A send
// asked for while nghttp2 runs is remembered and made when it returns.
//
// Output: frames are pulled from nghttp2 only while the socket takes them
// (kSendBuffer bytes may wait in the connection); past that nghttp2 keeps
// them, and the streams keep their bodies: queued_output() grows, and the
// app side sees backpressure.
//
// Where it lives: a connection's loop. One with a stream for an async
// route or a WebSocket moves, whole, to an async loop (the HTTP/1 hand-off,
// carrying this object): see docs/http2.md.
#pragma once

#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h2/frame_budget.h"
#include "h2/stream.h"
#include "h2/transport.h"

namespace pounce {

class EventLoop;
class Generation;

namespace h2 {

// The client connection preface (RFC 9113 §3.4) that starts h2c with prior
// knowledge.
inline constexpr std::string_view kClientPreface =
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

// What `data` (the first bytes of a connection) says about the preface:
// Yes (all of it is there), Partial (a prefix of it, wait for more), No.
enum class PrefaceMatch { No, Partial, Yes };
inline PrefaceMatch match_preface(const char* data, size_t len) {
  const size_t n = len < kClientPreface.size() ? len : kClientPreface.size();
  if (std::string_view(data, n) != kClientPreface.substr(0, n)) {
    return PrefaceMatch::No;
  }
  return n == kClientPreface.size() ? PrefaceMatch::Yes : PrefaceMatch::Partial;
}

// Gives a relayed blocking job back to the loop that submitted it.
void return_relayed_job(EventLoop* origin, BlockingJob* job);

class Session {
 public:
  // nullptr without memory (logged).
  static std::unique_ptr<Session> create(EventLoop* loop, Transport* t);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  EventLoop* loop() const { return loop_; }
  Transport* transport() const { return transport_; }
  nghttp2_session* ng() const { return ng_; }

  // ---- from the connection ----
  // Plaintext from the peer. `read_started_ns` is when the read began (0
  // when nobody asked for the time).
  void feed(const char* data, size_t len, uint64_t read_started_ns);
  // Writes what nghttp2 has to send, while the socket takes it.
  void send();
  // The connection's queue drained: write more.
  void on_writable() { send(); }
  // Whether the connection should read (nghttp2 wants input, and the
  // session is not on its way to another loop).
  bool wants_read() const;
  // No stream is open: the connection's idle timeout applies.
  bool idle() const { return open_streams_ == 0; }
  // Since when it is idle: its last stream's end (or its start). A PING
  // does not move it; a request does.
  uint64_t idle_since_ms() const { return idle_since_ms_; }
  // When the connection's write timeout is due: 0 when no stream holds
  // output that waits on the peer; otherwise the oldest such stream's
  // wait start (or last DATA frame) plus --write-timeout.
  uint64_t output_deadline() const;
  // That timeout expired. A connection that sent no DATA at all for
  // --write-timeout is stuck (the client stopped reading, or never opens
  // its connection window): false, the connection closes. Otherwise each
  // stream starved that long is reset (its window stayed closed while
  // others' moved) and the connection goes on: true.
  bool on_write_timeout();
  // The connection idled past --keep-alive-timeout (or sent no request by
  // --header-timeout): GOAWAY, then close.
  void on_idle_timeout();
  // Stream `s`'s header block did not end within --header-timeout: the
  // peer may send nothing else meanwhile, so the connection ends (GOAWAY).
  void on_header_timeout(Stream* s);
  // Graceful shutdown and reload: GOAWAY with the last stream id; the
  // streams in flight finish.
  void begin_drain();
  // The shutdown deadline passed: async streams get their end, the rest is
  // cut.
  void force_close();
  // The reload deadline of `g` passed: its streams and WebSockets end.
  void end_streams_of(const Generation* g);
  // The connection is closing: every stream lets go of its app side.
  void on_transport_closed();
  // Streams waiting for an async loop (see Transport::wire_request_move).
  bool moving() const { return moving_; }
  // Between detach() and attach(): on its way to another loop, with no
  // transport to write to.
  bool detached() const { return detached_; }

  // ---- the hand-off to an async loop ----
  // On `origin` (the worker), once nothing is in flight: timeouts
  // disarmed, the blocking jobs still running told that their stream went
  // to `target` (their answers are relayed there).
  void detach(EventLoop* origin, EventLoop* target);
  // On the async loop: the session's new home. Starts the streams that
  // waited.
  void attach(EventLoop* loop, Transport* t);

  // ---- for streams ----
  // A stream's output changed: send (now, or once nghttp2 returns).
  void stream_output(Stream* s);
  // Sends what is queued now, also amid a read's batch of sync handlers
  // (a 103 must not wait for the handler); inside nghttp2's callbacks it
  // waits as send() does.
  void send_now();
  // The stream's app side went away before the response ended.
  void reset_stream(Stream* s, uint32_t error_code);
  void route_and_start(Stream* s);
  // Strings a response head needs while it is built (lower-cased names,
  // numbers), and the nv array nghttp2 copies from.
  ByteBuffer& nv_scratch() { return nv_bytes_; }
  std::vector<nghttp2_nv>& nv_array() { return nvs_; }
  uint64_t read_started_ns() const { return read_started_ns_; }

 private:
  explicit Session(EventLoop* loop, Transport* t);
  bool init();

  // nghttp2 callbacks (user_data is the Session).
  static ssize_t on_send(nghttp2_session*, const uint8_t* data, size_t len,
                         int flags, void* user);
  static int on_send_data(nghttp2_session*, nghttp2_frame* frame,
                          const uint8_t* framehd, size_t len,
                          nghttp2_data_source* source, void* user);
  static int on_begin_headers(nghttp2_session*, const nghttp2_frame* frame,
                              void* user);
  static int on_header(nghttp2_session*, const nghttp2_frame* frame,
                       const uint8_t* name, size_t namelen,
                       const uint8_t* value, size_t valuelen, uint8_t flags,
                       void* user);
  static int on_frame_recv(nghttp2_session*, const nghttp2_frame* frame,
                           void* user);
  static int on_data_chunk(nghttp2_session*, uint8_t flags, int32_t stream_id,
                           const uint8_t* data, size_t len, void* user);
  static int on_stream_close(nghttp2_session*, int32_t stream_id,
                             uint32_t error_code, void* user);
  static int on_frame_send(nghttp2_session*, const nghttp2_frame* frame,
                           void* user);
  static int on_error(nghttp2_session*, int lib_error_code, const char* msg,
                      size_t len, void* user);
  static int on_invalid_frame(nghttp2_session*, const nghttp2_frame* frame,
                              int lib_error_code, void* user);
  static int on_begin_frame(nghttp2_session*, const nghttp2_frame_hd* hd,
                            void* user);
  // Ends the session ourselves from inside a callback: one log line (the
  // peer, `fmt`'s reason, the code), GOAWAY `error_code`; the caller then
  // returns NGHTTP2_ERR_CALLBACK_FAILURE, so that nothing more of the
  // peer's input is processed.
  void stop_input(uint32_t error_code, const char* fmt, ...)
      __attribute__((format(printf, 3, 4)));

  // A received frame that draws on a FrameBudget: false while within it.
  // Past it: stop_input(ENHANCE_YOUR_CALM), and true.
  bool over_budget(FrameKind k);
  // The stream's response output waits on the peer (its windows, or the
  // socket): what output_deadline() watches.
  static bool output_waiting(const Stream* s);
  // The loop's buffer, the referenced payloads and the connection's unsent
  // bytes reach kSendBuffer: nghttp2 waits.
  bool output_full(const ByteBuffer& out) const;
  // Sends what nghttp2_session_send() produced, the referenced payloads in
  // their places; then forgets them.
  void flush_wire();
  void drop_refs();

  Stream* new_stream(int32_t id);
  // Frees the streams closed on an earlier turn for reuse.
  void reap();
  // The request's header block is complete / its END_STREAM arrived.
  void on_request_head(Stream* s);
  void on_request_end(Stream* s);
  void on_request_data(Stream* s, const char* data, size_t len);
  // A complete sync or blocking request: runs its handler. Inside
  // nghttp2's callbacks a sync one waits for run_ready() instead.
  void dispatch(Stream* s);
  // Sync requests completed by a read run once nghttp2 has returned (a
  // handler may then send, for its 103 Early Hints; nghttp2 forbids a send
  // from its callbacks), in arrival order, batched as one send.
  void defer_sync(Stream* s);
  void run_ready();
  void start_blocking(Stream* s);
  void start_async(Stream* s, Route& r);
  void start_websocket(Stream* s, Route& r);
  void notify_streams();
  // nghttp2 says neither side has anything more: the connection ends.
  void maybe_finish();
  void fail(const char* what, int rv);

  EventLoop* loop_;
  Transport* transport_;
  nghttp2_session* ng_ = nullptr;
  int in_ng_ = 0;              // depth of calls into nghttp2
  bool send_pending_ = false;  // a send was asked for inside nghttp2
  bool batching_ = false;      // run_ready(): one send at its end
  // DATA payloads written from their streams' buffers at the next
  // flush_wire() (Transport::WireRef), and their bytes.
  std::vector<Transport::WireRef> refs_;
  size_t ref_bytes_ = 0;
  bool blocked_ = false;           // on_send refused: the socket is full
  bool closed_ = false;            // the transport is gone
  bool draining_ = false;          // GOAWAY sent
  bool moving_ = false;            // waiting to move to an async loop
  bool finishing_ = false;         // Transport::wire_finish() was called
  bool detached_ = false;          // see detached()
  bool stopped_ = false;           // stop_input(): logged, GOAWAY queued
  int32_t highest_stream_id_ = 0;  // of the client's HEADERS so far
  // The last ranges of ids the client skipped (on_begin_frame): a ring;
  // older ones are forgotten (a HEADERS there is then only ignored).
  struct IdRange {
    int32_t lo = 0, hi = -1;
  };
  static constexpr size_t kSkippedRanges = 4;
  IdRange skipped_[kSkippedRanges];
  size_t skipped_next_ = 0;
  uint64_t last_output_ms_ = 0;  // the last DATA frame out (or creation)
  uint64_t idle_since_ms_ = 0;   // see idle_since_ms()
  FrameBudget budget_;
  uint64_t read_started_ns_ = 0;
  size_t open_streams_ = 0;
  std::vector<Stream*> notify_;   // streams whose queue fell during a send
  std::vector<Stream*> pending_;  // Phase::Pending, in arrival order
  std::vector<Stream*> ready_;    // see defer_sync(), in arrival order
  std::vector<Stream*> running_;  // run_ready()'s scratch
  std::vector<Stream*> all_;      // every live stream object (for drains)
  // Closed during this turn (nghttp2 may still name them); reap() gives
  // them to the thread's pool (stream_pool.h).
  Stream* dead_ = nullptr;
  ByteBuffer nv_bytes_;
  std::vector<nghttp2_nv> nvs_;
};

}  // namespace h2
}  // namespace pounce
