// One async HTTP response stream: the plugin's start / write / end turned
// into a response head and chunks on the connection's socket.
//
//   plugin chunk -> (compressor, flushed per chunk) -> chunked framing ->
//   socket
//
// Nothing is buffered beyond what the kernel will not take yet: every call
// hands its bytes to the connection, which writes them at once. Backpressure
// is the connection's queue: over --stream-high-water a write returns
// POUNCE_HIGH_WATER and on_writable fires below half of it; past
// --stream-max-buffer the stream is closed.
//
// Owned by the connection, on the connection's loop; every method runs there.
#pragma once

#include <pounce/pounce.h>

#include <cstdint>
#include <string>
#include <vector>

#include "async/owner_state.h"
#include "http/head_parser.h"
#include "pipeline/compressor.h"
#include "pipeline/response_head.h"
#include "plugin/generation.h"

namespace pounce {

class Connection;
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
  AsyncStream(Connection* conn, const Mount* mount, GenerationPin pin,
              const http::RequestHead& head, uint64_t request_start_ns);
  ~AsyncStream();

  // ---- the plugin's calls (owning loop) ----
  int start(int status, const pounce_header_t* headers, size_t count,
            int64_t content_length);
  int write(const void* data, size_t len);
  int end(const pounce_header_t* trailers, size_t count);
  int abort();

  // ---- the connection's calls ----
  // The response's bytes reached the socket, `queued` bytes remain.
  void on_output(size_t queued);
  // A producer on another thread was told POUNCE_HIGH_WATER: call
  // on_writable once the queue is below half the mark (now, if it is).
  void want_writable();
  // Ends the stream by the host (drain deadline, timeout): a final chunk
  // when it can, else an error response or a close.
  void end_by_host(pounce_close_reason_t reason);
  // Calls on_close once and releases the plugin's side.
  void close(pounce_close_reason_t reason);
  // The connection is gone (or leaving); every later call of the plugin
  // answers POUNCE_ERR_CLOSED.
  void detach() { conn_ = nullptr; }
  Connection* connection() const { return conn_; }
  // Detached or closed: on_close is due or running. Such an owner takes no
  // new timer and no post (they would outlive it), and its calls answer
  // POUNCE_ERR_CLOSED.
  bool closing() const { return !conn_ || state_ == State::Closed; }
  Loop* loop() const { return loop_; }
  // Inside one of the plugin's calls (start/write/end/abort): the host then
  // defers on_close and the end of the stream to a later loop turn, so that
  // a plugin never sees its own state freed under its feet.
  bool in_plugin_call() const { return calls_.active(); }

  // Timers belong to their stream: cancelled when it closes.
  OwnedTimers& timers() { return timers_; }

  uint64_t handle() const { return handle_; }
  void set_handle(uint64_t h) { handle_ = h; }
  void* user() const { return user_; }
  void set_user(void* u) { user_ = u; }
  State state() const { return state_; }
  bool started() const { return state_ != State::Waiting; }
  // The connection may be kept for the next request after this one.
  bool keep_alive() const { return keep_alive_; }
  const Mount* mount() const { return mount_; }
  Generation* generation() const { return pin_.get(); }
  int status() const { return status_; }
  uint64_t body_bytes() const { return body_written_; }
  std::string_view request_line() const { return request_line_; }

 private:
  // on_writable found due inside the plugin's own call: look again on the
  // next turn of the loop (pounce.h: no hook runs inside a host call).
  void defer_writable();
  void frame_chunk(const char* data, size_t len);
  size_t queued() const;

  // First member, so that it is released last: the stream's own clean-up
  // runs while its plugin's code is still mapped.
  GenerationPin pin_;
  Connection* conn_;
  Loop* loop_;
  PluginCallDepth calls_;
  const Mount* mount_;
  uint64_t handle_ = 0;
  void* user_ = nullptr;
  State state_ = State::Waiting;

  // Facts of the request, kept because its views die with on_request.
  bool head_request_;
  bool http10_;
  bool keep_alive_;
  pipeline::Coding coding_;
  uint64_t request_start_ns_;

  int status_ = 0;
  pipeline::Framing framing_ = pipeline::Framing::Chunked;
  int64_t declared_length_ = -1;
  uint64_t body_written_ = 0;  // bytes the plugin wrote (before compression)
  pipeline::Compressor* compressor_ = nullptr;  // from the loop's pool
  bool want_writable_ = false;
  bool writable_deferred_ = false;  // a look-again is posted
  OwnedTimers timers_;
  std::string request_line_;  // for the access log, kept past on_request
};

}  // namespace pounce
