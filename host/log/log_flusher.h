// Flushes the calling loop thread's log sinks before the loop sleeps, and
// keeps retrying (every 10 ms) while a stalled reader leaves bytes behind:
// otherwise an idle loop would never write them. An output that failed for
// good (EPIPE) leaves nothing to retry: its sink drops lines without writing.
#pragma once

#include <uv.h>

namespace pounce::log {

class LogFlusher {
 public:
  void start(uv_loop_t* loop);
  void close();

 private:
  static void on_prepare(uv_prepare_t* p);
  static void on_retry(uv_timer_t* t);
  void flush();

  uv_prepare_t prepare_{};
  uv_timer_t retry_{};
  bool retrying_ = false;
};

}  // namespace pounce::log
