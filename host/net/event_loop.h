// A loop that serves connections: the protocol-neutral Loop (its thread, and
// what every exchange borrows) plus what the HTTP/1 connections on it borrow
// per request: the read buffer, the output buffer, header storage, the
// timeout queues, the blocking pool's return channel, and the list of open
// connections with the drain that closes them. Workers and async-pool
// threads are both EventLoops; a connection belongs to exactly one of them
// at a time.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "exchange/loop.h"
#include "http/byte_buffer.h"
#include "net/timeout_queue.h"

namespace pounce {

struct BlockingHints;
struct BlockingJob;
class BlockingPool;
class BlockingReturn;
class Connection;
class Generation;

class EventLoop : public Loop {
 public:
  static constexpr size_t kReadBufferSize = 64 * 1024;

  EventLoop(const Config& config, unsigned index, const char* role);
  ~EventLoop() override;

  // ---- per-request resources of the protocol, loop thread only ----
  char* read_buffer() { return read_buffer_.get(); }
  bool read_buffer_in_use = false;  // lent to one connection's read
  ByteBuffer& out() { return out_; }
  // TLS: ciphertext lent to one connection's session for one read, and the
  // ciphertext a session produces on its way to the socket.
  char* tls_read_buffer();
  ByteBuffer& tls_wire() { return tls_wire_; }
  pounce_header_t* header_storage() { return headers_.get(); }
  pounce_header_t* trailer_storage() { return trailers_.get(); }
  char* path_buffer() { return path_buffer_.get(); }
  TimeoutSet& timeouts() { return timeouts_; }

  // ---- the async pool (workers only) ----
  // The async loops this loop hands connections to, round-robin.
  void set_async_loops(std::vector<class AsyncLoop*> loops) {
    async_loops_ = std::move(loops);
  }
  bool has_async_loops() const { return !async_loops_.empty(); }
  // Advances the round robin: call once per connection handed off.
  class AsyncLoop* next_async_loop() {
    if (async_loops_.empty()) return nullptr;
    return async_loops_[next_async_++ % async_loops_.size()];
  }
  // Connections this loop handed to async loops that are still open: they
  // count towards this loop's share of --max-connections. Decremented by the
  // async loop that closes them, hence atomic.
  std::atomic<int64_t>& handed_off() { return handed_off_; }

  // ---- the blocking pool (POUNCE_MODE_BLOCKING) ----
  void set_blocking_pool(BlockingPool* pool) { blocking_pool_ = pool; }
  BlockingPool* blocking_pool() const { return blocking_pool_; }
  // A job from this loop's free list (loop thread); nullptr without memory.
  BlockingJob* acquire_job();
  // Back to the free list, its pin released (loop thread).
  void release_job(BlockingJob* job);

  // ---- generations ----
  Generation* generation() const { return generation_; }
  void set_generation(Generation* g) { generation_ = g; }

  // ---- connections ----
  // `c`'s TLS session holds input that no socket event will announce: its
  // read_buffered_input() runs on a later turn of the loop, before it
  // waits (an idle handle), as a readable socket would be.
  void schedule_input(Connection* c);
  void cancel_input(Connection* c);  // c closes
  void add_connection(Connection* c);
  void remove_connection(Connection* c);
  size_t connection_count() const { return connection_count_; }
  size_t connection_limit() const { return connection_limit_; }
  void set_connection_limit(size_t n) { connection_limit_ = n; }
  // Applies `fn` to every open connection (the list may change inside).
  void for_each_connection(const std::function<void(Connection*)>& fn);

  // ---- shutdown ----
  bool draining() const {
    return draining_ || drain_requested_.load(std::memory_order_relaxed);
  }
  // Any thread: marks the loop as draining at once (so that a response being
  // produced right now already says Connection: close), then queues
  // begin_drain() to the loop.
  void request_drain();
  // Stops taking work: subclasses close their listeners, idle connections
  // close, busy ones finish with Connection: close. The loop ends when the
  // last connection is gone.
  void begin_drain();
  // Closes whatever is still open (the shutdown deadline passed).
  void force_close_all();
  // Ends the streams and WebSockets pinned to `g` (its reload deadline).
  void end_streams_of(const Generation* g);
  // Called when a drained loop has no connections left.
  void maybe_finish();

 protected:
  // Called on the loop thread when the loop begins to drain.
  virtual void on_drain() {}
  // Called on the loop thread before the loop closes its own handles.
  virtual void on_finish() {}
  // Whether a drained loop with no connections may end now.
  virtual bool may_finish() const { return true; }

 private:
  static void on_timeout(TimeoutNode* node, TimeoutKind kind, void* ctx);
  static void on_blocking_done(uv_async_t* a);
  static void on_input_idle(uv_idle_t* h);
  void close_own_handles();

  std::unique_ptr<char[]> read_buffer_;
  ByteBuffer out_;
  std::unique_ptr<char[]> tls_read_buffer_;  // made on first TLS read
  ByteBuffer tls_wire_;
  uv_idle_t input_idle_{};
  std::vector<Connection*> input_ready_;  // schedule_input; nulls = closed
  std::vector<Connection*> input_batch_;  // scratch, keeps its capacity
  std::unique_ptr<pounce_header_t[]> headers_;
  std::unique_ptr<pounce_header_t[]> trailers_;
  std::unique_ptr<char[]> path_buffer_;
  // Blocking mode: finished jobs come back through blocking_return_ (which
  // signals blocking_async_); idle ones wait in job_free_ (an intrusive
  // list through BlockingJob::next) for the next parked request.
  BlockingPool* blocking_pool_ = nullptr;
  uv_async_t blocking_async_{};
  std::shared_ptr<BlockingReturn> blocking_return_;
  std::vector<BlockingJob*> blocking_done_;    // scratch, keeps its capacity
  std::vector<BlockingHints> blocking_hints_;  // scratch, as blocking_done_
  BlockingJob* job_free_ = nullptr;
  std::vector<class AsyncLoop*> async_loops_;
  size_t next_async_ = 0;
  // Connections this worker handed to async loops and not closed yet: the
  // async loop that closes one decrements it (see handed_off()).
  std::atomic<int64_t> handed_off_{0};
  TimeoutSet timeouts_;

  Generation* generation_ = nullptr;
  Connection* connections_ = nullptr;  // intrusive list of open connections
  size_t connection_count_ = 0;
  size_t connection_limit_ = SIZE_MAX;
  bool draining_ = false;
  // Set by the main thread, read by this loop: only a hint that a drain is on
  // its way, so relaxed ordering suffices.
  std::atomic<bool> drain_requested_{false};
  bool finished_ = false;
};

}  // namespace pounce
