// Blocking mode (POUNCE_MODE_BLOCKING): a sync-style on_handle that may
// block runs on a host thread pool instead of the worker's loop.
//
// The worker parks the connection (it stops reading it) and fills a
// BlockingJob that owns everything the handler can see: a copy of the
// request's bytes (head, body, normalized path, trailers), its own header
// arrays, both addresses, its own pounce_response and the generation pin.
// The handler therefore never touches loop memory, and the loop keeps
// serving every other connection with its shared per-loop objects. The
// finished job comes back through the loop's BlockingReturn (a queue plus a
// uv_async_t); the loop then writes the response like a sync one. A 103
// Early Hints the handler sends meanwhile travels the same way, ahead of its
// job (BlockingReturn::push_hints), and the loop hands it to the owner,
// which writes it while the handler goes on.
//
// Jobs are recycled through a per-loop free list (EventLoop::acquire_job),
// so that the steady state allocates nothing. A connection that closes
// while its job runs only detaches from it (owner = nullptr): the job comes
// back all the same and is recycled without a response.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "http/byte_buffer.h"
#include "http/head_parser.h"
#include "plugin/generation.h"
#include "plugin/request_response.h"
#include "tls/session_info.h"

struct uv_async_s;

namespace pounce {

class BlockingReturn;
struct BlockingJob;

// Who waits for a job on its loop: an HTTP/1 connection, or an HTTP/2
// stream.
class BlockingOwner {
 public:
  // The handler returned; the job is back on the owner's loop. The owner
  // answers and releases the job (EventLoop::release_job).
  virtual void finish_blocking(BlockingJob* job) = 0;
  // The handler sent a 103 Early Hints (response_early_hints) and it is on
  // the owner's loop now, ahead of the job's finish_blocking. The default
  // drops it.
  virtual void send_early_hints(std::string_view) {}

 protected:
  ~BlockingOwner() = default;
};

struct BlockingJob final : exchange::HintsSink {
  BlockingJob(size_t max_headers, std::shared_ptr<BlockingReturn> ret);
  BlockingJob(const BlockingJob&) = delete;
  BlockingJob& operator=(const BlockingJob&) = delete;
  virtual ~BlockingJob() = default;

  // The pool thread, while the handler runs (res.hints): queues the 103
  // for the loop, which hands it to the owner before the job comes back.
  void send_early_hints(std::string_view header_lines) override;

  // Copies the request into `bytes` and points the head, the view and the
  // request object at the copy. False when the memory was not there.
  bool capture(const char* head_base, size_t head_size, size_t max_header_size,
               std::string_view body, std::string_view path,
               std::string_view path_info, const pounce_header_t* trailers,
               size_t trailer_count);
  // The same for a request whose head is not one text to parse again (an
  // HTTP/2 request, decoded field by field): every view of `head` is
  // copied.
  bool capture_fields(const http::RequestHead& head, std::string_view body,
                      std::string_view path, std::string_view path_info,
                      const pounce_header_t* trailers, size_t trailer_count);
  // After capture: what the handler sees beyond the request's bytes, from
  // the exchange that submits the job (its protocol version, scheme,
  // client, request id, addresses) and from its route (the mount and the
  // pinned generation), with the connection's TLS facts. One place for
  // both protocols: the HTTP/2 path once set these itself and left out the
  // request id and the metrics mount, so that a recycled job showed a
  // blocking handler another request's id.
  void bind(exchange::Exchange& ex, BlockingOwner* who, const Mount& m,
            GenerationPin route_pin,
            std::shared_ptr<const tls::SessionInfo> tls_info);
  // Drops what the last request left behind (loop thread, before reuse).
  void recycle();

  // Set once: where the job comes back to. Shared, because a job still
  // running when its loop ends must find the channel closed, not freed.
  const std::shared_ptr<BlockingReturn> ret;

  // The request, owned (see capture()).
  ByteBuffer bytes;
  std::unique_ptr<pounce_header_t[]> headers;
  std::unique_ptr<pounce_header_t[]> trailers;
  size_t max_headers;
  http::RequestHead head;
  pounce_request req;
  PeerAddress peer;
  PeerAddress local;
  char request_id[exchange::Exchange::kMaxRequestId];  // req.request_id
  tls::InfoSnapshot tls;  // https: the connection's TLS facts
  pounce_request_view_t view{};
  pounce_response res;
  const Mount* mount = nullptr;
  const char* plugin_name = "plugin";  // the module's name, for log lines
  std::string_view route_path;         // for the crash report
  GenerationPin pin;                   // until the job is back on its loop

  // Loop thread only: who waits for the job (the parked connection or
  // stream), or nullptr once it went away.
  BlockingOwner* owner = nullptr;
  // The request's protocol version, for the view (HTTP/2: 2).
  uint8_t http_major = 1;
  // Set by the loop when the connection went away; read by the pool thread
  // before it starts the handler, so that a request nobody waits for any
  // more is not run. A hint only (a handler already running finishes), so
  // relaxed ordering suffices.
  std::atomic<bool> abandoned{false};
  // The free list and the pool's queue link jobs through this.
  BlockingJob* next = nullptr;

 private:
  // Points the request object and the view at the captured copy.
  void fill_view(size_t path_len, size_t path_info_len, size_t body_len,
                 const char* body_base, size_t trailer_count);
};

// A running handler's 103 Early Hints, on its way to the job's loop.
struct BlockingHints {
  BlockingJob* job = nullptr;
  std::string lines;
};

// The way back from the pool to one loop.
class BlockingReturn {
 public:
  explicit BlockingReturn(uv_async_s* async) : async_(async) {}
  // Pool threads: queues `job` for the loop and wakes it. False once the
  // loop has closed the channel; the caller then disposes of the job.
  bool push(BlockingJob* job);
  // Pool threads, while `job`'s handler runs: queues its hints for the
  // loop and wakes it. Dropped once the loop has closed the channel, or
  // without the memory.
  void push_hints(BlockingJob* job, std::string_view lines);
  // Loop thread: takes every finished job (swapped into `out`, whose
  // capacity is kept, so that this allocates nothing once warm), and the
  // hints queued so far, at the same moment: a job's hints were queued
  // before the job, so they are in `hints` when the job is in `out`, or in
  // an earlier take. Handle `hints` first.
  void take(std::vector<BlockingJob*>* out, std::vector<BlockingHints>* hints);
  // Loop thread, when the loop ends: refuses later pushes. Returns the jobs
  // that arrived before; the caller then closes the uv_async_t.
  std::vector<BlockingJob*> close();

 private:
  // Guards done_ and closed_, and that async_ is never signalled after the
  // loop closed it: pool threads push, the loop takes.
  std::mutex mutex_;
  std::vector<BlockingJob*> done_;
  std::vector<BlockingHints> hints_;  // also guarded by mutex_
  bool closed_ = false;
  uv_async_s* async_;
};

class BlockingPool {
 public:
  // Threads start on demand, up to `max_threads`; `max_queue` jobs may wait
  // for one beyond those that a free or startable thread takes at once.
  BlockingPool(unsigned max_threads, size_t max_queue);
  // Stops the pool (without waiting) if stop() was not called.
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Any loop thread. False when the queue is full (503 BLOCKING_QUEUE_FULL)
  // or the pool is stopping; the job then stays with the caller.
  bool submit(BlockingJob* job);

  // Main thread, at shutdown, once no loop submits any more: jobs not
  // started are dropped, running handlers get until `deadline`. A handler
  // still running then is abandoned (its thread detached, with a log line
  // naming the plugin): it must not hang the exit. Returns how many were
  // abandoned; the pool (and every generation) must then outlive the
  // process, as their code and memory may still be in use.
  size_t stop(std::chrono::steady_clock::time_point deadline);

  // What /metrics shows: jobs waiting for a thread, threads running a
  // handler, threads started. Any thread (the admin's, when scraped);
  // takes the pool's lock.
  struct Stats {
    size_t queued = 0;
    unsigned busy = 0;
    unsigned threads = 0;
  };
  Stats stats();

 private:
  struct Slot {
    std::thread thread;
    unsigned index = 0;
    const BlockingJob* running = nullptr;  // guarded by mutex_
    bool exited = false;                   // guarded by mutex_
  };

  void thread_main(Slot* slot);
  static void run_handler(BlockingJob* job);
  // With mutex_ held.
  void start_thread();

  const unsigned max_threads_;
  const size_t max_queue_;
  // Guards everything below: the loops submit, the pool threads take, and
  // stop() watches the slots.
  std::mutex mutex_;
  std::condition_variable work_cv_;  // a job was queued, or stop()
  std::condition_variable exit_cv_;  // a thread exited (stop() waits)
  BlockingJob* head_ = nullptr;      // the queue, oldest first
  BlockingJob* tail_ = nullptr;
  size_t queued_ = 0;
  unsigned idle_ = 0;  // threads that will take a job without a new thread
  std::vector<std::unique_ptr<Slot>> slots_;
  bool stopping_ = false;
};

}  // namespace pounce
