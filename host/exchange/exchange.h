// One request/response exchange, as the app side sees it, whatever protocol
// carries it. An HTTP/1 connection is one exchange at a time
// (net/connection.h); an HTTP/2 stream will be one exchange of its
// connection. The app side (host/plugin: the sync call; host/async: streams
// and WebSockets; host/pipeline: compression, Server-Timing, the access log)
// speaks only to this interface, and never learns which protocol it has.
//
// As in h2o (h2o_req_t, its generators and ostreams), the protocol parses
// a request and hands it to the app side, which decides the response
// (status, headers, compression) and hands it back through the calls below;
// the protocol frames it (HTTP/1: status line, Content-Length or chunked,
// Connection; HTTP/2: HEADERS and DATA frames). It reports how much it still
// holds (queued_output) and calls the app side's on_output when that
// changes: the app side's backpressure.
//
// Into the app side, every protocol calls the same entry points with its
// exchange:
//   resolve_route (plugin/dispatch.h)    the mount, the normalized path, the
//                                        mode (sync, blocking, async);
//   call_sync (plugin/dispatch.h)        a whole request, on_handle inline;
//   AsyncStream::begin, deliver_body     an async request, then its body as
//                                        it arrives (on_request, on_body);
//   upgrade_websocket, WsSession::feed   a validated upgrade, then its bytes;
//   on_output, end_by_host, release      backpressure, drains and deadlines,
//                                        and the end of the app side.
//
// Threading and lifetime: every call is made on the exchange's loop. An
// exchange outlives any call into it that is on the stack (the protocol frees
// it on a later turn of the loop), so a caller may still use it after a call
// that closed it; it must not keep it past that call. The protocol lets go
// of the app side (AsyncStream::release, WsSession::release) before it goes,
// and the app side then stops calling.
#pragma once

#include <pounce/pounce.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "exchange/open_file.h"
#include "http/byte_buffer.h"
#include "http/error_code.h"

namespace pounce {

class Loop;
namespace http {
struct RequestHead;
}  // namespace http
namespace tls {
class InfoSource;
}  // namespace tls
namespace ws {
struct Handshake;
}  // namespace ws

// A socket address, as the request_addr host call reports it.
struct PeerAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

// What a PROXY protocol v2 header's TLVs said about the client's
// connection to the balancer (host/http/proxy_header.h): the ALPN protocol
// it negotiated there and the authority (SNI) it asked for. Empty when the
// TLV was absent. For the access log ($proxy_protocol_tlv_alpn,
// $proxy_protocol_tlv_authority, as nginx names them), never for routing.
struct ProxyTlvs {
  std::string alpn;
  std::string authority;
};

namespace exchange {

// The response head the app side decided on. The protocol adds what it owns:
// the date, the server name, and the framing (RFC 9110 §6.4: Content-Length
// and Transfer-Encoding in HTTP/1; END_STREAM in HTTP/2).
struct ResponseStart {
  int status = 200;
  // The plugin's headers, validated (add_response_header): "Name: value\r\n"
  // lines.
  std::string_view headers;
  // The length of the body the head describes, when it is known before the
  // body: a whole response's (after compression; a HEAD's is its GET's), a
  // stream's declared length when it goes out as written. -1: unknown, the
  // body is streamed. 204 and 304 have no body whatever this says.
  int64_t content_length = -1;
  std::string_view content_encoding;  // "zstd", "gzip", or empty
  bool vary_accept_encoding = false;
  std::string_view server_timing;  // the header's value, or empty
  // The buffer that holds exactly respond()'s body, when the caller can
  // give it away: a protocol that keeps the body until the peer takes it
  // (HTTP/2's flow control) swaps it for its own buffer instead of copying
  // it. Null: the body is only a view.
  ByteBuffer* body_owner = nullptr;
};

// Where a sync or blocking handler's 103 Early Hints go while on_handle
// runs (response_early_hints): the exchange itself, on its loop, or a
// blocking job, which hands them to its loop (net/blocking_pool.h).
class HintsSink {
 public:
  // `header_lines`: validated "Name: value\r\n" lines, at least one. Sends
  // one 103 before the final response, or nothing where the protocol has
  // no interim responses (HTTP/1.0) or the exchange is gone. Hints are
  // advisory: one that cannot be sent (no memory) is dropped.
  virtual void send_early_hints(std::string_view header_lines) = 0;

 protected:
  ~HintsSink() = default;
};

class Exchange : public HintsSink {
 public:
  // ---- the request ----
  Loop* loop() const { return exchange_loop_; }
  // When the read that brought the request began (uv_hrtime), 0 when neither
  // the access log nor Server-Timing asked for the time.
  uint64_t request_start_ns() const { return read_started_ns_; }
  // How long the request's head took to parse, from request_start_ns().
  uint64_t parse_ns() const { return parse_ns_; }
  // The protocol's major version (the request view, the access log).
  uint8_t http_major() const { return http_major_; }
  // The client's address, and ours (request_addr, the access log). false /
  // len 0 when the socket would not say.
  virtual const PeerAddress& peer() = 0;
  virtual bool local_address(PeerAddress* out) = 0;
  // The TLS facts of the connection (request_tls, $tls_* in the access log);
  // null on cleartext.
  virtual tls::InfoSource* tls_source() = 0;
  // The PROXY protocol TLVs of the connection, or null (no such header, or
  // one without them).
  virtual const ProxyTlvs* proxy_tlvs() { return nullptr; }

  // The client of the current request: the peer, unless trusted forwarding
  // headers said otherwise (pipeline/admission.h). What request_addr, the
  // access log and the rate limit use.
  const PeerAddress& client() { return has_client_ ? client_ : peer(); }
  // The current request's id (X-Request-ID), or empty (--no-request-id).
  std::string_view request_id() const {
    return std::string_view(request_id_, request_id_len_);
  }
  // Whether the client's request was https: TLS on this connection, unless
  // a trusted proxy said how its client came in (Forwarded proto=,
  // X-Forwarded-Proto; pipeline/admission.h). The scheme plugins see (the
  // request view's `scheme`) and the access log's $scheme. request_tls
  // still describes this connection's own TLS.
  bool https() {
    return forwarded_proto_ ? forwarded_https_ : tls_source() != nullptr;
  }
  // Set by the admission of each request (pipeline/admission.h).
  void reset_request_facts() {
    has_client_ = false;
    forwarded_proto_ = false;
    request_id_len_ = 0;
  }
  void set_forwarded_proto(bool https) {
    forwarded_proto_ = true;
    forwarded_https_ = https;
  }
  void set_client(const PeerAddress& client) {
    client_ = client;
    has_client_ = true;
  }
  static constexpr size_t kMaxRequestId = 64;
  void set_request_id(std::string_view id) {
    const size_t n = id.size() < kMaxRequestId ? id.size() : kMaxRequestId;
    for (size_t i = 0; i < n; ++i) request_id_[i] = id[i];
    request_id_len_ = static_cast<uint8_t>(n);
  }
  // Room for an id of `n` (<= kMaxRequestId) bytes that the caller writes
  // in place: it becomes the request id.
  char* request_id_room(size_t n) {
    request_id_len_ = static_cast<uint8_t>(n);
    return request_id_;
  }
  // A 429's Retry-After, in seconds (set with the RateLimited error).
  uint32_t retry_after_s() const { return retry_after_s_; }
  void set_retry_after(uint32_t seconds) { retry_after_s_ = seconds; }

  // ---- a whole response (sync and blocking handlers) ----
  // Queues the head and `body` (empty for HEAD, 204 and 304) for sending.
  // false when the memory was not there: nothing was queued, and the caller
  // answers with respond_error(OutOfMemory) instead.
  virtual bool respond(const ResponseStart& head, std::string_view body) = 0;
  // A whole response whose body is `parts`, in order: a file, or a
  // multipart/byteranges body (static files, a plugin's response_file).
  // head.content_length is the sum of the parts' lengths; for a HEAD, 204
  // or 304 the caller passes no parts. Every file part gets its own
  // reference, so the caller may drop its own after the call. false when
  // the memory was not there: nothing was queued, as respond().
  //
  // The protocol sends file parts without reading them through user space
  // where it can (sendfile on cleartext HTTP/1.1), otherwise in pieces
  // into its own buffers as the peer takes them: never the whole file at
  // once. A file that turns out shorter than its part (it shrank while
  // being sent) ends the connection or stream with a log line, never with
  // padding.
  //
  // The default reads the parts whole into a buffer and calls respond():
  // correct, but neither zero-copy nor bounded; every protocol overrides it.
  virtual bool respond_parts(const ResponseStart& head, const BodyPart* parts,
                             size_t count);
  // A 103 Early Hints before the response (HintsSink): HTTP/1.1 writes it
  // at once, HTTP/2 submits a HEADERS frame with :status 103. The default
  // sends nothing.
  void send_early_hints(std::string_view) override {}
  // Answers with the host's error response for `code` (the error table,
  // docs/errors.md) and logs it. `request` is the request's head when it
  // was parsed.
  virtual void respond_error(http::ErrorCode code,
                             const http::RequestHead* request) = 0;

  // ---- a streamed response (async streams) ----
  // start_response, write_body and end_response only queue: flush() sends
  // what they queued, in order, as one write where it can.
  virtual void start_response(const ResponseStart& head) = 0;
  virtual void write_body(std::string_view bytes) = 0;
  // The next `length` bytes of the streamed body are `file`'s from
  // `offset` (stream_write_file): queued like write_body, with its own
  // reference to the file, and counted in queued_output() as they are
  // until sent. The default reads them into write_body.
  virtual void write_file(OpenFile* file, uint64_t offset, uint64_t length);
  // The end of the body, with `trailers` ("Name: value\r\n" lines, or
  // empty) when trailers_allowed().
  virtual void end_response(std::string_view trailers) = 0;
  // Whether the started response can carry trailers (HTTP/1: chunked only).
  virtual bool trailers_allowed() const = 0;
  // Hands what is queued to the transport. May call the app side's
  // on_output() before it returns, and may close the exchange.
  virtual void flush() = 0;
  // Bytes accepted but not yet taken by the peer: the app side's
  // backpressure (--stream-high-water, --stream-max-buffer).
  virtual size_t queued_output() const = 0;
  // Of queued_output(), the bytes of file ranges not read yet
  // (write_file): backpressure, but no memory, so --stream-max-buffer does
  // not count them.
  virtual size_t queued_file_output() const { return 0; }
  // The response ended and its last byte is out: the app side is done. The
  // protocol releases it (on_close(DONE)) and goes on with its next request.
  virtual void complete() = 0;
  // Before the response started: answers with the error instead, after
  // on_close(ERROR); the exchange then closes.
  virtual void fail(http::ErrorCode code) = 0;
  // Closes the exchange without completing the response (the client sees it
  // cut short), after on_close(reason).
  virtual void abort(pounce_close_reason_t reason) = 0;

  // ---- an upgraded exchange (WebSocket) ----
  // Queues the protocol's acceptance of a validated WebSocket handshake
  // (HTTP/1: the 101; RFC 8441: a 200 to the extended CONNECT), with the
  // chosen subprotocol (-1: none). false when `chosen_protocol` is not one
  // the client offered: nothing was queued.
  virtual bool accept_websocket(const ws::Handshake& handshake,
                                int chosen_protocol) = 0;
  // Refuses the upgrade with `status` and no body; the exchange then closes.
  virtual void refuse_websocket(int status) = 0;
  // Where the app side writes the bytes of an upgraded exchange (WebSocket
  // frames); flush() sends them.
  virtual ByteBuffer& tunnel_output() = 0;
  // While corked, flush() keeps the bytes and uncork() sends them all at
  // once: the replies to one read's frames leave in one write.
  virtual void cork() = 0;
  virtual void uncork() = 0;
  // The close handshake is complete (or failed): close once the last byte
  // queued is out.
  virtual void close_after_output() = 0;
  // Our close frame is out: wait (bounded) for the peer's answer.
  virtual void await_close() = 0;
  // Drops the exchange now, without waiting for the output (the peer
  // vanished or overflowed it). Inside a call that feeds input, the drop
  // happens when that call returns.
  virtual void drop() = 0;

 protected:
  explicit Exchange(Loop* loop) : exchange_loop_(loop) {}
  // Not deleted through this interface: the protocol owns its exchanges.
  ~Exchange() = default;
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // An exchange whose request has not reached the app side yet may move,
  // with its connection, to another loop (an HTTP/2 connection moving to an
  // async loop); the app side never sees the change.
  void rebind_loop(Loop* loop) { exchange_loop_ = loop; }

  // Kept up to date by the protocol for the request being served.
  uint64_t read_started_ns_ = 0;
  uint64_t parse_ns_ = 0;
  uint8_t http_major_ = 1;

 private:
  PeerAddress client_;
  bool has_client_ = false;
  bool forwarded_proto_ = false;  // forwarded_https_ holds a proxy's word
  bool forwarded_https_ = false;
  uint8_t request_id_len_ = 0;
  uint32_t retry_after_s_ = 0;
  char request_id_[kMaxRequestId];

  Loop* exchange_loop_;
};

}  // namespace exchange
}  // namespace pounce
