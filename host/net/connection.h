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
#pragma once

#include <uv.h>

#include <cstdint>
#include <string_view>

#include "http/body_decoder.h"
#include "http/byte_buffer.h"
#include "http/error_code.h"
#include "http/head_parser.h"
#include "net/timeout_queue.h"
#include "plugin/exchange.h"

namespace pounce {

class EventLoop;
struct Mount;

class Connection : public TimeoutNode {
 public:
  // Accepts a pending connection from `server` onto `loop`. Returns nullptr
  // when the accept failed (already logged).
  static Connection* accept_from(EventLoop* loop, uv_stream_t* server);
  // Adopts an accepted socket (the accept distributor hands these over).
  static Connection* adopt_fd(EventLoop* loop, int fd);

  // The loop is draining: close when idle, otherwise finish the request in
  // flight with Connection: close.
  void begin_drain();
  // Closes now, whatever the state (the shutdown deadline passed).
  void force_close();
  // A timeout of this connection expired.
  void on_timeout(TimeoutKind kind);

  // The loop's intrusive list of open connections.
  Connection* loop_prev = nullptr;
  Connection* loop_next = nullptr;

 private:
  enum class Phase : uint8_t {
    Idle,       // between requests, nothing buffered
    Head,       // part of a head is buffered
    Body,       // the head is complete, the body is arriving
    Lingering,  // write side shut down, discarding input before the close
    Closing,    // uv_close was called
  };

  explicit Connection(EventLoop* loop);
  ~Connection();
  bool init_socket();
  void start();

  // libuv callbacks
  static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_shutdown(uv_shutdown_t* req, int status);
  static void on_close(uv_handle_t* h);

  void handle_read(char* data, size_t len, bool owned);
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
  void serve(const http::RequestHead& head, std::string_view body,
             const pounce_header_t* trailers, size_t trailer_count);
  void call_sync(const http::RequestHead& head, const Mount& mount,
                 std::string_view path, std::string_view path_info,
                 std::string_view body, const pounce_header_t* trailers,
                 size_t trailer_count);
  void write_sync_response(const http::RequestHead& head,
                           const pounce_response& res);
  // Answers with an error from the table: the response, a log line and, when
  // `close` is set (every table row), a lingering close.
  void respond_error(http::ErrorCode code, const http::RequestHead* head,
                     bool close = true);
  void access_log(const http::RequestHead* head, int status, size_t bytes);

  void after_input();   // flush, then arm the right timeout / read state
  void flush_output();  // hands the loop's output buffer to the socket
  void start_write();
  void start_reading();
  void stop_reading();
  void start_lingering();
  void close_now();
  bool input_pending();
  const PeerAddress& peer();
  std::string peer_text();

  uv_tcp_t tcp_{};
  EventLoop* loop_;
  Phase phase_ = Phase::Idle;
  bool reading_ = false;
  bool write_in_flight_ = false;
  bool close_after_write_ = false;  // then linger and close
  bool keep_alive_ = true;          // of the request being served
  bool expect_continue_sent_ = false;

  // Own input: a partial head, or [head][decoded body][raw unread] while a
  // body arrives, then whatever was pipelined after it.
  ByteBuffer in_;
  size_t head_size_ = 0;     // phase Body: the head's bytes at in_[0..)
  uint64_t body_len_ = 0;    // phase Body: decoded bytes after the head
  size_t raw_pos_ = 0;       // phase Body: where undecoded input starts
  uint64_t content_length_ = 0;
  bool chunked_ = false;
  http::BodyDecoder decoder_;

  // Output the kernel did not take yet: `writing_` is in flight (from
  // write_off_), `queued_` collects what arrives meanwhile.
  ByteBuffer writing_;
  ByteBuffer queued_;
  size_t write_off_ = 0;
  size_t write_len_ = 0;
  union {
    uv_write_t write_req_;
    uv_shutdown_t shutdown_req_;
  };

  size_t lingered_bytes_ = 0;
  uint64_t read_started_ns_ = 0;  // for the access log's duration
  PeerAddress peer_;
};

}  // namespace pounce
