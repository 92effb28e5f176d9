// A libuv loop on its own thread, and what every exchange on it borrows,
// whatever protocol carries the exchange: the plugin's request and response
// objects, the generation-checked handles, the compressors, the Date cache,
// the access-log format, the WebSocket budgets, and the queue through which
// other threads reach it.
//
// This is the half of a loop that the app side (host/plugin, host/async,
// host/pipeline) may see. The protocol side (net/event_loop.h: sockets, read
// and output buffers, timeouts, connections, draining) derives from it. Every
// accessor is for the loop's own thread unless it says otherwise.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "async/handles.h"
#include "cli/config.h"
#include "exchange/task_queue.h"
#include "http/byte_buffer.h"
#include "http/date_cache.h"
#include "log/access_format.h"
#include "log/log_flusher.h"
#include "log/logger.h"
#include "metrics/host_metrics.h"
#include "pipeline/compressor_pool.h"
#include "plugin/request_response.h"
#include "ws/message_budget.h"

namespace pounce {

class Loop {
 public:
  Loop(const Config& config, unsigned index, const char* role);
  virtual ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Starts the thread. `cpu` >= 0 pins it there.
  void start(int cpu);
  void join();

  // Runs `fn` on this loop's thread. Any thread. Returns false once the
  // loop has finished (the task is dropped).
  bool post(Task fn) { return tasks_.post(std::move(fn)); }

  uv_loop_t* uv() { return &loop_; }
  // The loop whose thread is calling, or nullptr (main thread, plugin
  // threads).
  static Loop* current();
  const Config& config() const { return config_; }
  unsigned index() const { return index_; }
  const char* role() const { return role_; }
  bool on_loop_thread() const {
    return std::this_thread::get_id() == thread_id_;
  }

  // ---- per-request resources, valid on the loop thread only ----
  pounce_request& request() { return request_; }
  pounce_response& response() { return response_; }
  // The buffer of a body that went out whole, given back: it becomes the
  // next response's body buffer (when that is idle and smaller), so the
  // next handler writes into memory still in cache. An HTTP/2 stream takes
  // the body's buffer instead of copying it (h2::Stream::respond); without
  // this each response would fill fresh, cold memory.
  void recycle_body(ByteBuffer& done) {
    ByteBuffer& next = response_.body;
    if (next.empty() && done.capacity() > next.capacity() &&
        done.capacity() <= kRecycledBodyBytes) {
      next.swap(done);
    }
    done.clear();
  }
  // A scratch response object for validating stream headers and trailers.
  pounce_response& scratch_response() { return scratch_response_; }
  http::DateCache& date() {
    date_.update(uv_now(&loop_));
    return date_;
  }
  // --access-log-format, compiled at startup; nullptr for the default
  // line, which has its own fast path.
  const log::AccessFormat* access_format() const {
    return access_format_.get();
  }
  HandleTable& handles() { return handles_; }
  pipeline::CompressorPool& compressors() { return compressors_; }
  // Compressed bytes on their way from a compressor to the output.
  ByteBuffer& compress_scratch() { return compress_scratch_; }
  // This loop's request metrics: written by this loop's thread only, read
  // by a scrape from any thread (metrics::Cell).
  metrics::LoopCounters& counters() { return *counters_; }
  const metrics::LoopCounters& counters() const { return *counters_; }

  // WebSockets of this loop with permessage-deflate (loop thread only): past
  // a bound, new sockets negotiate no context takeover to cap their memory.
  size_t ws_deflate_sockets = 0;
  // Message buffers of this loop's WebSockets, past each one's retained
  // part (loop thread only): --ws-buffer-budget.
  ws::MessageBudget& ws_message_budget() { return ws_message_budget_; }

 protected:
  // Called on the loop thread before it runs its loop.
  virtual void on_thread_start() {}
  // Closes the handles this class owns (the task queue's, the log
  // flusher's): the last step of a loop that has finished.
  void close_loop_handles();

 private:
  void thread_main(int cpu);

  const Config& config_;
  unsigned index_;
  const char* role_;
  uv_loop_t loop_{};
  TaskQueue tasks_;
  log::LogFlusher log_flusher_;
  std::thread thread_;
  std::thread::id thread_id_;

  pounce_request request_;
  // A larger buffer is not kept for the next response: one large download
  // does not pin its memory to the loop.
  static constexpr size_t kRecycledBodyBytes = 1024 * 1024;
  pounce_response response_;
  pounce_response scratch_response_;
  HandleTable handles_;
  pipeline::CompressorPool compressors_;
  ByteBuffer compress_scratch_;
  std::unique_ptr<metrics::LoopCounters> counters_ =
      std::make_unique<metrics::LoopCounters>();
  ws::MessageBudget ws_message_budget_;
  http::DateCache date_;
  std::unique_ptr<log::LogSink> error_sink_;
  std::unique_ptr<log::LogSink> access_sink_;
  std::unique_ptr<const log::AccessFormat> access_format_;
};

// Starts a thread with the process signals (SIGTERM, SIGINT, SIGHUP, ...)
// blocked, so that the kernel delivers them to the main thread, whose loop
// handles them. A signal landing on a worker would also interrupt a plugin's
// blocking call there (EINTR).
std::thread start_thread_without_signals(std::function<void()> fn);

// Pins the calling thread to `cpu`; logs a warning and carries on when the
// kernel refuses.
void pin_current_thread(int cpu, const char* what);
// The CPUs this process may run on (sched_getaffinity), in order.
std::vector<int> allowed_cpus();

}  // namespace pounce
