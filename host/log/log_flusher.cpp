#include "log/log_flusher.h"

#include "log/logger.h"

namespace pounce::log {

namespace {
constexpr uint64_t kFirstRetryMs = 10;
constexpr uint64_t kMaxRetryMs = 1000;
}  // namespace

void LogFlusher::start(uv_loop_t* loop) {
  delay_ms_ = kFirstRetryMs;
  uv_prepare_init(loop, &prepare_);
  prepare_.data = this;
  uv_prepare_start(&prepare_, on_prepare);
  uv_unref(reinterpret_cast<uv_handle_t*>(&prepare_));
  uv_timer_init(loop, &retry_);
  retry_.data = this;
  // Neither handle may keep a loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&retry_));
}

void LogFlusher::close() {
  flush();
  uv_close(reinterpret_cast<uv_handle_t*>(&prepare_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&retry_), nullptr);
}

void LogFlusher::on_prepare(uv_prepare_t* p) {
  static_cast<LogFlusher*>(p->data)->flush();
}

void LogFlusher::on_retry(uv_timer_t* t) {
  auto* self = static_cast<LogFlusher*>(t->data);
  self->retrying_ = false;
  self->flush();
}

void LogFlusher::flush() {
  if (flush_thread()) {
    delay_ms_ = kFirstRetryMs;
    last_pending_ = 0;
    return;
  }
  size_t pending = pending_thread();
  if (retrying_) return;
  if (pending < last_pending_) {
    delay_ms_ = kFirstRetryMs;  // the reader is taking bytes again
  } else if (last_pending_ != 0) {
    delay_ms_ = delay_ms_ * 2 < kMaxRetryMs ? delay_ms_ * 2 : kMaxRetryMs;
  }
  last_pending_ = pending;
  retrying_ = true;
  uv_timer_start(&retry_, on_retry, delay_ms_, 0);
}

}  // namespace pounce::log
