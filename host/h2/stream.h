// One HTTP/2 stream (RFC 9113 §5): a request and its response, and, as the
// app side sees it, one exchange::Exchange. The app side (the sync call,
// the blocking pool, AsyncStream, WsSession, the response pipeline) is the
// same one an HTTP/1 connection drives; this class is the HTTP/2 framing of
// the exchange's calls:
//
//   respond            HEADERS (:status, the plugin's lines, lower-cased,
//                      content-length, ...) then DATA with END_STREAM
//   start_response     HEADERS; write_body appends to the stream's queue,
//   write_body         which DATA frames take as the flow-control windows
//   end_response       allow; end_response ends it (END_STREAM, or a
//                      trailers HEADERS frame)
//   abort, drop        RST_STREAM
//   accept_websocket   200 to the extended CONNECT (RFC 8441); the tunnel's
//                      bytes are the stream's DATA both ways
//
// Backpressure is flow control: queued_output() is what the peer's windows
// (or the socket) have not let out yet, so a stream whose window is closed
// reports POUNCE_HIGH_WATER exactly as a slow HTTP/1 socket does.
//
// Owned by its Session, recycled through its free list; the memory of a
// closed stream outlives any call on the stack (exchange.h): the session
// reuses it only from a later turn of the loop.
#pragma once

#include <nghttp2/nghttp2.h>
#include <pounce/pounce.h>

#include <cstdint>
#include <list>
#include <memory>
#include <string_view>
#include <vector>

#include "exchange/exchange.h"
#include "h2/stream_pool.h"
#include "http/byte_buffer.h"
#include "http/head_parser.h"
#include "net/blocking_pool.h"
#include "net/timeout_queue.h"
#include "plugin/dispatch.h"

namespace pounce {

class AsyncStream;
class EventLoop;
class WsSession;

namespace h2 {

class Session;
class Stream;

// A blocking job still running when its stream's connection moved to an
// async loop: the job returns to the loop that submitted it, which hands
// the answer on to the stream's new loop (docs/http2.md).
struct JobRelay {
  // The new loop's thread only: the stream, or null once it closed.
  Stream* stream = nullptr;
};

class Stream final : public exchange::Exchange,
                     public TimeoutNode,
                     public BlockingOwner {
 public:
  enum class Phase : uint8_t {
    Headers,    // the request's header block is arriving
    Body,       // a sync or blocking request waits for its body
    Pending,    // an async request waits for the connection's move
    Blocking,   // the handler runs on the blocking pool
    Async,      // an AsyncStream serves it
    WebSocket,  // a WebSocket over the stream (RFC 8441)
    Answered,   // the response is queued; the request's rest is dropped
    Closed,     // nghttp2 closed the stream; the memory waits for reuse
  };

  Stream(Session* session, Loop* loop);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // ---- exchange::Exchange ----
  const PeerAddress& peer() override;
  bool local_address(PeerAddress* out) override;
  tls::InfoSource* tls_source() override;
  const ProxyTlvs* proxy_tlvs() override;
  bool respond(const exchange::ResponseStart& head,
               std::string_view body) override;
  // File parts wait in pending_ and are read (pread, a piece at a time)
  // as nghttp2 asks for DATA: flow control is the backpressure.
  bool respond_parts(const exchange::ResponseStart& head,
                     const exchange::BodyPart* parts, size_t count) override;
  void write_file(exchange::OpenFile* file, uint64_t offset,
                  uint64_t length) override;
  void respond_error(http::ErrorCode code,
                     const http::RequestHead* request) override;
  // A HEADERS frame with :status 103 (not END_STREAM), before the
  // response's. Also the BlockingOwner's.
  void send_early_hints(std::string_view header_lines) override;
  void start_response(const exchange::ResponseStart& head) override;
  void write_body(std::string_view bytes) override;
  void end_response(std::string_view trailers) override;
  bool trailers_allowed() const override { return !end_with_headers_; }
  void flush() override;
  size_t queued_output() const override {
    return out_.size() - out_off_ + static_cast<size_t>(pending_bytes_);
  }
  size_t queued_file_output() const override {
    return static_cast<size_t>(pending_file_bytes_);
  }
  void complete() override;
  void fail(http::ErrorCode code) override;
  void abort(pounce_close_reason_t reason) override;
  bool accept_websocket(const ws::Handshake& handshake,
                        int chosen_protocol) override;
  void refuse_websocket(int status) override;
  ByteBuffer& tunnel_output() override;
  void cork() override {}
  void uncork() override { flush(); }
  void close_after_output() override;
  void await_close() override;
  void drop() override;

  // ---- TimeoutNode: the request's own timeouts ----
  void on_timeout(TimeoutKind kind) override;
  // ---- BlockingOwner ----
  void finish_blocking(BlockingJob* job) override;
  // A relayed job's answer, on the stream's new loop; the job then goes
  // back to `origin`, the loop that submitted it. An answer that comes
  // before the connection itself (the hand-off and the relay travel by
  // different queues) waits for Session::attach.
  void finish_relayed(BlockingJob* job, EventLoop* origin);

  int32_t id() const { return id_; }
  Phase phase() const { return phase_; }

 private:
  friend class Session;
  friend Stream* stream_pool::take();
  friend void stream_pool::give(Stream*);

  // An offset view into fields_ (which may move while it grows).
  struct Span {
    uint32_t off = 0;
    uint32_t len = 0;
  };
  struct Field {
    Span name;
    Span value;
  };

  // A new stream's first request: `id`, its header block to come.
  void start(int32_t id);
  // `old`, closed and unlinked everywhere, made new for `session` on
  // `loop` as the constructor makes it, keeping only its buffers' memory.
  static Stream* renew(Stream* old, Session* session, Loop* loop);
  // The whole stream is gone: the app side is let go, timers disarmed.
  void release_app(pounce_close_reason_t reason);
  // Builds head_ from the fields once the header block is complete.
  // Returns ErrorCode::None or the error to answer with; *malformed when
  // RFC 9113 §8.1.1 makes it a stream error instead (RST_STREAM).
  http::ErrorCode build_head(bool* malformed);
  // The DATA source of every response: the stream's queue. The bytes are
  // not copied into nghttp2's frame buffer: Session::on_send_data writes
  // the frame from the queue (NGHTTP2_DATA_FLAG_NO_COPY).
  ssize_t read_body(size_t length, uint32_t* flags);
  static ssize_t read_body_trampoline(nghttp2_session*, int32_t, uint8_t*,
                                      size_t length, uint32_t* flags,
                                      nghttp2_data_source* source, void*);
  // Submits a HEADERS frame (:status and `head`), with a DATA source unless
  // `end_stream`.
  bool submit_head(const exchange::ResponseStart& head, bool end_stream);
  void resume();
  // Trailer lines ("Name: value\r\n") as a trailing HEADERS frame.
  void submit_trailers();
  // Moves pending parts into out_ until it holds `want` bytes (or they
  // are all in): file bytes read a piece at a time. False when a file
  // ended early or could not be read (logged): the stream is to be reset.
  bool fill_from_pending(size_t want);
  // Queues bytes behind pending parts. False when out of memory.
  bool pending_bytes_append(std::string_view bytes);
  // Drops what waits (the stream is gone): the files' references go.
  void drop_pending();
  std::string_view span(Span s) const {
    return {fields_.data() + s.off, s.len};
  }

  Session* session_;
  int32_t id_ = 0;
  Phase phase_ = Phase::Closed;

  // ---- the request ----
  ByteBuffer fields_;         // names and values, as HPACK gave them
  std::vector<Field> spans_;  // ordinary fields, in order
  std::vector<pounce_header_t> headers_;  // views of spans_, at the end
  Span method_, scheme_, authority_, path_, protocol_, host_;
  bool has_authority_ = false;
  bool has_host_ = false;
  bool has_protocol_ = false;
  size_t header_list_bytes_ = 0;  // RFC 9113 §6.5.2 measure
  http::ErrorCode head_error_ = http::ErrorCode::None;
  bool head_ok_ = false;  // head_ holds the request's head
  int64_t content_length_ = -1;
  http::RequestHead head_;
  bool request_ended_ = false;    // END_STREAM received
  bool ended_with_head_ = false;  // ... on the HEADERS frame: no body
  uint64_t body_bytes_ = 0;       // DATA bytes received
  ByteBuffer body_;               // sync and blocking: the whole body
  ByteBuffer trailer_bytes_;      // request trailers, names and values
  std::vector<Field> trailer_spans_;
  std::vector<pounce_header_t> trailers_;
  // A sync request waiting for its body keeps its route (pinned), and its
  // normalized path when the loop's buffer held it.
  Route route_;
  ByteBuffer path_copy_;

  // ---- the response ----
  ByteBuffer out_;  // body bytes not yet framed (from out_off_)
  size_t out_off_ = 0;
  // Body parts behind out_ not read yet: file ranges (respond_parts,
  // write_file) and the bytes queued after them, in order.
  struct PendingPart {
    exchange::FileRef file;  // null: `bytes`
    uint64_t offset = 0;
    uint64_t length = 0;
    ByteBuffer bytes;
  };
  // A list, not a deque: libstdc++'s deque allocates even when empty, and
  // every stream would pay for it (two allocations per h2 request); file
  // parts are rare and few.
  std::list<PendingPart> pending_;
  uint64_t pending_bytes_ = 0;       // their bytes: part of queued_output()
  uint64_t pending_file_bytes_ = 0;  // of those, the files' (not in memory)
  bool response_started_ = false;
  bool out_eof_ = false;   // no more body after out_
  bool deferred_ = false;  // nghttp2 waits for resume()
  // The response ended with its HEADERS (no body: 204, 304, HEAD).
  bool end_with_headers_ = false;
  ByteBuffer trailer_lines_;  // end_response's trailers, when any
  bool notify_ = false;       // queued_output() fell: tell the app side
  bool end_sent_ = false;     // our END_STREAM is on the wire
  // Output that waits on the peer (Session::output_deadline): since when
  // (the wait's start, or the stream's last DATA frame).
  bool waiting_ = false;
  uint64_t stall_ms_ = 0;
  bool head_request_ = false;
  bool admitted_ = false;  // pipeline::Admission ran for this request
  int status_ = 0;

  // ---- the app side ----
  AsyncStream* async_ = nullptr;
  WsSession* ws_ = nullptr;
  BlockingJob* job_ = nullptr;
  std::shared_ptr<JobRelay> relay_;    // a job that runs for a moved stream
  BlockingJob* parked_job_ = nullptr;  // relayed before attach()
  EventLoop* parked_origin_ = nullptr;
  bool body_done_for_app_ = false;  // on_body got its last call
  bool app_complete_ = false;       // complete() was called

  // The session's dead list, then the thread's pool (stream_pool.h).
  Stream* next_free_ = nullptr;
};

}  // namespace h2
}  // namespace pounce
