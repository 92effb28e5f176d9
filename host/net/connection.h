// One HTTP/1.1 connection, owned by exactly one EventLoop.
//
// Reading: while no request is partial, reads land in the loop's shared read
// buffer and complete requests are parsed and served straight from it (no
// copy, no allocation). Only the unfinished tail of a read (a partial head,
// or a body still arriving) is copied into the connection's own buffer.
//
// Writing: the responses to one read's pipelined requests are serialized into
// the loop's output buffer and written with one uv_try_write. What the kernel
// does not take is moved into the connection and written asynchronously;
// meanwhile the connection stops reading (backpressure).
//
// Closing: after an error response, or whenever the server closes, it shuts
// down the write side and reads and discards up to 64 KiB or 1 s before the
// close (a lingering close, RFC 9112 §9.6), so that unread input cannot turn
// into a reset that destroys the response.
//
// TLS (https listeners): a tls::Session sits between the socket and all of
// the above. Reads lend it the ciphertext and decrypt into the same buffers
// the cleartext path reads into; output is encrypted at the moment it goes
// to the socket, so that writing_/queued_ hold wire bytes either way. What
// the session holds when reading pauses (backpressure) is read later through
// EventLoop::schedule_input, the way the kernel's buffer is on cleartext.
//
// Async requests: on a worker, a request routed to an async plugin moves the
// connection to an async-pool loop (hand_off, in connection_async.cpp). There
// the same class runs the request as an AsyncStream, and serves any later
// sync request inline.
//
// The app side (the sync call, AsyncStream, WsSession, the response
// pipeline) sees a connection only as the exchange::Exchange of the request
// it serves: the overrides below are the HTTP/1 framing of that interface.
//
// HTTP/2: a connection that opens with the client preface (h2c with prior
// knowledge, cleartext) or that negotiated "h2" by ALPN (TLS) becomes the
// transport of an h2::Session (phase Http2): this class still reads,
// decrypts, writes and times the connection out, and the session turns
// the bytes into streams, each an exchange of its own (host/h2/).
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>

#include "exchange/exchange.h"
#include "h2/transport.h"
#include "http/body_decoder.h"
#include "http/byte_buffer.h"
#include "http/error_code.h"
#include "http/head_parser.h"
#include "net/blocking_pool.h"
#include "net/handoff.h"
#include "net/response_head.h"
#include "net/timeout_queue.h"
#include "plugin/dispatch.h"
#include "plugin/generation.h"
#include "plugin/request_response.h"

namespace pounce {

class AsyncStream;
struct BlockingJob;
class EventLoop;
class WsSession;
class Generation;
struct Mount;
namespace tls {
class Session;
}
namespace h2 {
class Session;
}

class Connection final : public TimeoutNode,
                         public exchange::Exchange,
                         public BlockingOwner,
                         public h2::Transport {
 public:
  // Accepts a pending connection from `server` onto `loop`; `tls` when
  // the listener is https, `proxy` when its connections start with a PROXY
  // protocol header (?proxy-protocol=1). Returns nullptr when the accept
  // failed (already logged).
  // `listener`: its index in --listen order (the metrics' label).
  static Connection* accept_from(EventLoop* loop, uv_stream_t* server, bool tls,
                                 bool proxy, uint16_t listener);
  // Adopts an accepted socket (the accept distributor hands these over).
  static Connection* adopt_fd(EventLoop* loop, int fd, bool tls, bool proxy,
                              uint16_t listener);
  // Adopts a connection a worker handed to this async loop.
  static void adopt_handoff(EventLoop* loop, Handoff&& handoff);

  // The loop is draining: close when idle, otherwise finish the request in
  // flight with Connection: close.
  void begin_drain();
  // For /metrics, on the loop's thread: the listener it came from, and
  // whether it waits for a request (keep-alive between requests, or
  // HTTP/2 with no stream open).
  uint16_t listener() const { return listener_; }
  bool waiting_for_request();
  // The shutdown deadline passed: streams get their final chunk, the rest
  // is closed now.
  void force_close();
  // A timeout of this connection expired.
  void on_timeout(TimeoutKind kind) override;
  // Ends the stream of this connection if it is pinned to `g` (a reload's
  // deadline passed for that generation).
  void end_stream_of(const Generation* g);

  EventLoop* loop() const { return loop_; }

  // ---- exchange::Exchange (exchange/exchange.h), for the app side ----
  const PeerAddress& peer() override;
  bool local_address(PeerAddress* out) override;
  tls::InfoSource* tls_source() override;
  const ProxyTlvs* proxy_tlvs() override { return proxy_tlvs_.get(); }
  bool respond(const exchange::ResponseStart& head,
               std::string_view body) override;
  // File parts go out with sendfile(2) on cleartext and in bounded pread
  // pieces over TLS (connection_file.cpp).
  bool respond_parts(const exchange::ResponseStart& head,
                     const exchange::BodyPart* parts, size_t count) override;
  void write_file(exchange::OpenFile* file, uint64_t offset,
                  uint64_t length) override;
  void respond_error(http::ErrorCode code,
                     const http::RequestHead* request) override {
    respond_error(code, request, true);
  }
  // "HTTP/1.1 103 Early Hints", written now (sync: before on_handle
  // returns; blocking: from the loop while the handler runs). Also the
  // BlockingOwner's.
  void send_early_hints(std::string_view header_lines) override;
  void start_response(const exchange::ResponseStart& head) override;
  void write_body(std::string_view bytes) override;
  void end_response(std::string_view trailers) override;
  bool trailers_allowed() const override {
    return response_framing_ == http1::Framing::Chunked;
  }
  void flush() override { send_output(); }
  // Bytes accepted but not yet taken by the kernel.
  size_t queued_output() const override;
  size_t queued_file_output() const override;
  void complete() override { finish_stream(); }
  void fail(http::ErrorCode code) override { fail_stream(code); }
  void abort(pounce_close_reason_t reason) override { abort_stream(reason); }
  bool accept_websocket(const ws::Handshake& handshake,
                        int chosen_protocol) override;
  void refuse_websocket(int status) override;
  ByteBuffer& tunnel_output() override;
  // While corked, send_output() keeps the bytes (in held_, in order)
  // instead of writing; uncork() writes them all at once. A WebSocket corks
  // while it handles one read, so that the echoes, pongs and sends of a
  // batch of messages leave in one write instead of one each.
  void cork() override { corked_ = true; }
  void uncork() override;
  void close_after_output() override { close_websocket_after_output(); }
  void await_close() override { await_websocket_close(); }
  void drop() override { abort_websocket(); }

  // ---- h2::Transport (h2/transport.h), for an HTTP/2 session ----
  ByteBuffer& wire_output() override;
  void wire_send() override { flush_output(); }
  size_t wire_unsent() const override { return queued_output(); }
  bool wire_can_reference() const override;
  void wire_send_gathered(const h2::Transport::WireRef* refs,
                          size_t n) override;
  std::shared_ptr<const tls::SessionInfo> tls_snapshot() override;
  std::string describe_peer() override { return peer_text(); }
  void wire_finish() override;
  void wire_abort() override { close_now(); }
  void wire_refresh() override;
  bool wire_request_move() override;

  // ---- for its loop ----
  // The blocking handler of the parked request returned: the response is
  // written like a sync one, then the requests pipelined behind it are
  // served. Releases the job.
  void finish_blocking(BlockingJob* job) override;
  // The TLS session holds input the socket will not signal (see
  // EventLoop::schedule_input): read it now, if reading is allowed.
  void read_buffered_input();
  bool is_tls() const { return tls_ != nullptr; }

  // The loop's intrusive list of open connections.
  Connection* loop_prev = nullptr;
  Connection* loop_next = nullptr;
  // Queued in EventLoop::schedule_input.
  bool input_scheduled = false;

 private:
  enum class Phase : uint8_t {
    Idle,        // between requests, nothing buffered
    Head,        // part of a head is buffered
    Body,        // the head is complete, a sync request's body is arriving
    Async,       // an async request (AsyncStream) is running
    Blocking,    // parked: a blocking handler runs on the pool (blocking_);
                 // no reading, pipelined input waits in in_
    WebSocket,   // upgraded: frames, not HTTP
    Http2,       // HTTP/2: the bytes go to h2_
    HandingOff,  // worker: an async request waits for the write in flight,
                 // then moves (with in_) to an async loop
    Lingering,   // write side shut down, discarding input before the close
    Closing,     // uv_close was called
  };

  explicit Connection(EventLoop* loop);
  ~Connection();
  bool init_socket();
  // `tls`: the connection came from an https listener; starts its session.
  // `proxy`: a PROXY protocol header comes first (read_proxy_header).
  void start(bool tls, bool proxy, uint16_t listener);

  // libuv callbacks
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_close(uv_handle_t* h);

  // Where the next input bytes go: the loop's read buffer when nothing is
  // partial, else behind the partial request in in_ (grown as a declared
  // body needs). base == nullptr when in_ could not grow.
  uv_buf_t input_room();
  // PROXY protocol listeners, before anything else is read (not TLS, not
  // the HTTP/2 preface): parses the header from the bytes read so far, the
  // header split across reads or not. true when the header is complete:
  // *data and *len then hold what followed it in this read (the client's
  // first bytes, possibly none). false when more is needed, or when the
  // connection was closed (a missing or malformed header, logged).
  bool read_proxy_header(char** data, size_t* len);
  // Plaintext arrived in `base` (input_room()'s buffer): serve it.
  void deliver_input(char* base, size_t len);
  void handle_read(char* data, size_t len, bool owned);
  // TLS, at the first byte: makes the session, or answers a plain HTTP
  // request. False when the connection does not go on as TLS.
  bool begin_tls(const char* data, size_t len);
  // TLS: lends the ciphertext to the session, then reads while allowed.
  void read_tls(const char* data, size_t len);
  // Reads plaintext from the session while reading is allowed.
  void drain_tls();
  // The session failed (handshake, protocol, memory): log, close.
  void fail_tls();
  // Plain HTTP on an https listener: a clear-text 400, then a close.
  void refuse_plain_http();
  // The connection speaks HTTP/2 from now on (phase Http2). False when the
  // session could not be made (the connection is closing).
  bool begin_http2();
  // Connection-level timeouts of an HTTP/2 connection: idle (no stream
  // open) is --keep-alive-timeout; streams time their own requests.
  void arm_http2_timeout();
  // Parses and serves complete requests from data[0..len). Returns the bytes
  // consumed; stops early at a partial request, a close, or backpressure.
  size_t serve_requests(char* data, size_t len, bool owned);
  // Continues a body that arrives over several reads (phase Body, in in_).
  // Returns false when the request is still incomplete or failed.
  bool continue_body();
  // Moves a request whose body is incomplete into in_ and enters phase Body.
  void enter_body(char* base, bool owned, size_t head_off, size_t head_size,
                  size_t decoded, size_t raw_off, size_t raw_len,
                  const http::RequestHead& head);
  // Normalizes and routes; false when the host answered already.
  bool route(const http::RequestHead& head, Route* r);
  // A complete request for on_handle: inline (call_sync), or parked on the
  // blocking pool (start_blocking). `head_base` is where the head's bytes
  // start (head.head_size of them).
  void dispatch(const http::RequestHead& head, const char* head_base, Route& r,
                std::string_view body, const pounce_header_t* trailers,
                size_t trailer_count);
  void start_blocking(const http::RequestHead& head, const char* head_base,
                      Route& r, std::string_view body,
                      const pounce_header_t* trailers, size_t trailer_count);
  // The connection no longer waits for its job (it closes, or answered
  // already): the result is dropped when it comes back.
  void detach_blocking();
  // Answers with an error from the table: the response, a log line and, when
  // `close` is set (every table row), a lingering close.
  void respond_error(http::ErrorCode code, const http::RequestHead* head,
                     bool close);
  // Hands the loop's output buffer to the socket, then tells the stream or
  // the WebSocket how much is still queued.
  void send_output();
  // The stream ended and its last byte reached the socket.
  void finish_stream();
  // Closes the connection without completing the response (the client sees
  // a truncated body), after on_close(reason).
  void abort_stream(pounce_close_reason_t reason);
  // Answers the request with an error instead (before the response
  // started), after on_close(ERROR).
  void fail_stream(http::ErrorCode code);
  // The close handshake is complete (or failed): close the TCP connection
  // once our last frame is out.
  void close_websocket_after_output();
  // Our close frame is out: wait (bounded) for the peer's answer.
  void await_websocket_close();
  // Drop the connection now (the peer vanished, or it overflowed).
  void abort_websocket();

  // ---- async (connection_async.cpp) ----
  // On a worker: the request at the front of the unconsumed input goes to an
  // async loop. Pins its generation and enters phase HandingOff; the input
  // from that request on stays in in_ (handle_read's usual bookkeeping), and
  // after_input() or on_write() moves it once no write is in flight.
  void hand_off(Route& r);
  void perform_handoff();
  // On an async loop: starts the request as a stream. Returns the bytes of
  // data consumed (the head and the body bytes fed to the stream).
  size_t start_async(const http::RequestHead& head, Route& r, char* data,
                     size_t head_off, size_t len);
  // Feeds request-body bytes to the stream; returns the bytes consumed.
  size_t feed_stream_body(char* data, size_t len);
  void release_stream(pounce_close_reason_t reason);
  void arm_async_timeout();

  // ---- WebSocket (connection_ws.cpp) ----
  size_t start_websocket(const http::RequestHead& head, Route& r, char* data,
                         size_t head_off, size_t len);
  void release_ws();

  // ---- file bodies (connection_file.cpp) ----
  // Output that has not reached the socket yet: a write in flight, or a
  // file body being sent (files_).
  bool output_busy() const { return write_in_flight_ || files_ != nullptr; }
  // Queues `length` bytes of `file` from `offset` behind everything queued
  // so far (what the loop's buffer holds is handed on first), then sends
  // what the socket takes.
  void queue_file_part(exchange::OpenFile* file, uint64_t offset,
                       uint64_t length);
  // Plaintext that must follow the file parts queued (flush_output, while
  // files_ is set). False when the memory was not there.
  bool queue_file_bytes(const char* data, size_t len);
  // Sends the file queue's segments in order while the socket takes them
  // and no write is in flight; stops when it would block (a write in
  // flight, or writability awaited) or the queue is empty (files_ reset).
  // Never runs the completion (output_done): its callers do.
  void pump_files();
  // Cleartext: one segment's file bytes through sendfile(2). TLS: one
  // bounded piece read and encrypted. False when the pump must stop.
  bool send_file_piece();
  // The file ended before its part did, or reading it failed: logged, and
  // the connection (with its stream) ends short of its framing.
  void fail_file(int err);
  // sendfile met a full socket: wait for writability (watch_).
  void await_writable();
  static void on_writable(uv_poll_t* p, int status, int events);
  void close_watch();
  // Everything queued reached the socket: what on_write does after its
  // last byte (the next request, the stream's on_output, lingering...).
  void output_done();

  // Plaintext to the wire: encrypted first on TLS. May close.
  void send_plain(ByteBuffer& plain);
  void after_input();   // flush, then arm the right timeout / read state
  void flush_output();  // hands the loop's output buffer to the socket
  // Sends bytes as they go on the wire (ciphertext on TLS), after any in
  // flight; clears `bytes`. May close the connection.
  void write_wire(ByteBuffer& bytes);
  // Writes what the kernel takes of `bufs` (`total` bytes) now; the rest
  // is copied into writing_ and written in the background. `source` (what
  // the pieces came from) is cleared either way.
  void try_write(ByteBuffer& source, const uv_buf_t* bufs, size_t count,
                 size_t total);
  // write_wire() of `out` with the referenced payloads in their places.
  void write_gathered(ByteBuffer& out, const h2::Transport::WireRef* refs,
                      size_t n);
  // A clean close of an idle connection: TLS says close_notify first, so
  // that the client knows nothing was cut.
  void close_gracefully();
  // Best effort: a close_notify, if the socket takes it now.
  void send_close_notify();
  // See cork(). False when the memory was not there (the held bytes are
  // lost: the caller closes).
  bool hand_held_output_to_loop();
  void start_write();
  // Whether reading is allowed now: the one place where backpressure on
  // input is decided (start_reading() obeys it).
  bool may_read() const;
  // Starts or stops reading as may_read() says.
  void update_reading();
  void start_reading();
  void stop_reading();
  void start_lingering();
  // An input buffer could not grow: 503 OUT_OF_MEMORY and a close (or the
  // stream or WebSocket ends), never an abort.
  void fail_no_memory();
  // An output buffer could not grow: what is queued is incomplete, so the
  // connection closes without it.
  void fail_output_memory();
  void close_now();
  bool input_pending();
  std::string peer_text();

  uv_tcp_t tcp_{};
  EventLoop* loop_;
  Phase phase_ = Phase::Idle;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool close_after_write_ = false;  // then linger and close
  bool keep_alive_ = true;          // of the request being served
  uint16_t listener_ = 0;           // its --listen index
  bool http10_ = false;             // the request being served is HTTP/1.0
  bool forced_ = false;             // the shutdown deadline passed
  bool in_input_ = false;           // inside handle_read (no re-entry)
  bool finish_pending_ = false;     // finish_stream deferred to its end
  bool abort_pending_ = false;      // abort_websocket deferred to its end
  bool no_linger_ = false;          // close right after the last write

  // Own input: a partial head, or [head][decoded body][raw unread] while a
  // body arrives, then whatever was pipelined after it.
  ByteBuffer in_;
  size_t head_size_ = 0;   // phase Body: the head's bytes at in_[0..)
  uint64_t body_len_ = 0;  // phase Body: decoded bytes after the head
  size_t raw_pos_ = 0;     // phase Body: where undecoded input starts
  uint64_t content_length_ = 0;
  bool chunked_ = false;
  http::BodyDecoder decoder_;

  // Output the kernel did not take yet, as wire bytes: `writing_` is in
  // flight (from write_off_), `queued_` collects what arrives meanwhile.
  ByteBuffer writing_;
  ByteBuffer queued_;
  // Corked output (see cork()), not yet given to the wire: plaintext on
  // TLS, encrypted when it goes.
  ByteBuffer held_;
  bool corked_ = false;  // see cork()
  size_t write_off_ = 0;
  size_t write_len_ = 0;
  union {
    uv_write_t write_req_;
    uv_shutdown_t shutdown_req_;
  };

  // Async: the running stream, its body state, and where it came from.
  AsyncStream* stream_ = nullptr;
  BlockingJob* blocking_ = nullptr;  // phase Blocking: the parked request
  WsSession* ws_ = nullptr;
  uint64_t stream_body_left_ = 0;  // Content-Length bytes still to come
  bool stream_body_chunked_ = false;
  bool stream_body_done_ = true;
  // Worker: the pin of the request being handed off. Async loop: the pin
  // that came with the hand-off, until the first request's route() takes it.
  GenerationPin handoff_pin_;
  std::atomic<int64_t>* origin_count_ = nullptr;

  // File bodies (connection_file.cpp): the queue of what follows the
  // bytes in flight, while a file part is in it; null otherwise (the hot
  // path pays one test).
  struct FileOutput;
  std::unique_ptr<FileOutput> files_;
  // Writability of the socket for sendfile, opened at the first EAGAIN and
  // kept until the connection closes (see connection_file.cpp).
  struct WritableWatch;
  WritableWatch* watch_ = nullptr;

  // The framing start_response chose for the stream's body.
  http1::Framing response_framing_ = http1::Framing::Chunked;

  size_t lingered_bytes_ = 0;
  PeerAddress peer_;
  std::unique_ptr<tls::Session> tls_;  // https listeners only
  bool tls_counted_ = false;           // its handshake is in the metrics
  bool awaiting_tls_ = false;          // https, before the first byte
  bool alpn_checked_ = false;          // https: the ALPN choice was read
  // A PROXY protocol listener's connection whose header has not been read
  // yet, and the header's bytes so far when it came split (at most
  // ProxyLimits::max_v2_length; released once it is complete).
  bool awaiting_proxy_ = false;
  ByteBuffer proxy_in_;
  // The header's ALPN and authority TLVs, when it had either.
  std::unique_ptr<ProxyTlvs> proxy_tlvs_;

  // HTTP/2 (phase Http2). `served_`: a request was routed, so the client
  // preface can no longer start HTTP/2 (it must open the connection).
  std::unique_ptr<h2::Session> h2_;
  bool served_ = false;
  bool h2_stay_ = false;  // the move to an async loop failed: serve here
};

}  // namespace pounce
