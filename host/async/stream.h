// One async HTTP response stream: the plugin's start / write / end turned
// into a response head and body chunks on its exchange.
//
//   plugin chunk -> (compressor, flushed per chunk) -> exchange (HTTP/1:
//   chunked framing) -> socket
//
// Nothing is buffered beyond what the peer will not take yet: every call
// hands its bytes to the exchange, which sends them at once. Backpressure is
// the exchange's queue: over --stream-high-water a write returns
// POUNCE_HIGH_WATER and on_writable fires below half of it; past
// --stream-max-buffer the stream is closed.
//
// Owned by the protocol side of its exchange, on the exchange's loop; every
// method runs there.
#pragma once

#include <pounce/pounce.h>

#include <cstdint>
#include <string>
#include <vector>

#include "async/owner_state.h"
#include "http/head_parser.h"
#include "pipeline/compressor.h"
#include "plugin/dispatch.h"
#include "plugin/generation.h"

namespace pounce {

namespace exchange {
class Exchange;
class OpenFile;
}  // namespace exchange
class Loop;
class Generation;
struct Mount;

class AsyncStream {
 public:
  enum class State : uint8_t {
    Waiting,  // on_request ran; no response started yet
    Started,  // the head is out; writing the body
    Ended,    // stream_end was called; the last bytes are being written
    Closed,   // on_close was called; the object is about to be freed
  };

  // `pin` keeps the mount's generation loaded until the stream is freed.
  // Takes a handle. The protocol makes it its exchange's stream, then calls
  // begin().
  AsyncStream(exchange::Exchange* ex, const Mount* mount, GenerationPin pin,
              const http::RequestHead& head);
  ~AsyncStream();
  AsyncStream(const AsyncStream&) = delete;
  AsyncStream& operator=(const AsyncStream&) = delete;

  // ---- the plugin's calls (owning loop) ----
  int start(int status, const pounce_header_t* headers, size_t count,
            int64_t content_length);
  int write(const void* data, size_t len);
  // stream_write_file: `length` bytes of `file` from `offset` (checked
  // against its size by the caller), with write()'s answers;
  // POUNCE_ERR_UNSUPPORTED on a compressed stream.
  int write_file(exchange::OpenFile* file, uint64_t offset, uint64_t length);
  int end(const pounce_header_t* trailers, size_t count);
  int abort();

  // ---- the protocol's calls ----
  // Runs on_request for `head`, routed by `r`: the stream's first hook.
  // The exchange may have failed (and released the stream) when it returns.
  void begin(const http::RequestHead& head, const Route& r);
  // Request-body bytes for on_body; `done` with the last of them.
  void deliver_body(char* data, size_t len, bool done);
  // The response's bytes reached the peer, `queued` bytes remain.
  void on_output(size_t queued);
  // A producer on another thread was told POUNCE_HIGH_WATER: call
  // on_writable once the queue is below half the mark (now, if it is).
  void want_writable();
  // Ends the stream by the host (drain deadline, timeout): a final chunk
  // when it can, else an error response or a close.
  void end_by_host(pounce_close_reason_t reason);
  // The queue's level after a write: POUNCE_OK, POUNCE_HIGH_WATER, or
  // POUNCE_ERR_CLOSED past --stream-max-buffer (the stream is aborted).
  int after_write();
  // The exchange lets go of `s`: its access-log line, then on_close(reason)
  // (on a later turn when inside one of the plugin's calls), then it is
  // freed. Every later call of the plugin answers POUNCE_ERR_CLOSED.
  static void release(AsyncStream* s, pounce_close_reason_t reason);
  exchange::Exchange* exchange() const { return ex_; }
  // Detached or closed: on_close is due or running. Such an owner takes no
  // new timer and no post (they would outlive it), and its calls answer
  // POUNCE_ERR_CLOSED.
  bool closing() const { return !ex_ || state_ == State::Closed; }
  Loop* loop() const { return loop_; }
  // Inside one of the plugin's calls (start/write/end/abort): the host then
  // defers on_close and the end of the stream to a later loop turn, so that
  // a plugin never sees its own state freed under its feet.
  bool in_plugin_call() const { return calls_.active(); }

  // Timers belong to their stream: cancelled when it closes.
  OwnedTimers& timers() { return timers_; }

  uint64_t handle() const { return handle_; }
  void* user() const { return user_; }
  void set_user(void* u) { user_ = u; }
  State state() const { return state_; }
  bool started() const { return state_ != State::Waiting; }
  const Mount* mount() const { return mount_; }
  Generation* generation() const { return pin_.get(); }
  int status() const { return status_; }
  uint64_t body_bytes() const { return body_written_; }
  std::string_view request_line() const { return request_line_; }

 private:
  // on_writable found due inside the plugin's own call: look again on the
  // next turn of the loop (pounce.h: no hook runs inside a host call).
  void defer_writable();
  // Calls on_close once and releases the plugin's side.
  void close(pounce_close_reason_t reason);

  // First member, so that it is released last: the stream's own clean-up
  // runs while its plugin's code is still mapped.
  GenerationPin pin_;
  exchange::Exchange* ex_;  // null once detached
  Loop* loop_;
  PluginCallDepth calls_;
  const Mount* mount_;
  uint64_t handle_ = 0;
  void* user_ = nullptr;
  State state_ = State::Waiting;

  // Facts of the request, kept because its views die with on_request.
  bool head_request_;
  pipeline::Coding coding_;
  uint64_t request_start_ns_;

  int status_ = 0;
  bool bodiless_ = false;      // 204 or 304: writes are dropped
  bool fixed_length_ = false;  // the head declared the body's length
  int64_t declared_length_ = -1;
  uint64_t body_written_ = 0;  // bytes the plugin wrote (before compression)
  pipeline::Compressor* compressor_ = nullptr;  // from the loop's pool
  bool want_writable_ = false;
  bool writable_deferred_ = false;  // a look-again is posted
  OwnedTimers timers_;
  std::string request_line_;  // for the access log, kept past on_request
};

}  // namespace pounce
