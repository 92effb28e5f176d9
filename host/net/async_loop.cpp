#include "net/async_loop.h"

#include <unistd.h>

#include "log/logger.h"
#include "net/connection.h"
#include "plugin/generation.h"

namespace pounce {

AsyncLoop::AsyncLoop(const Config& config, unsigned index, unsigned async_index,
                     std::function<void(AsyncLoop*)> on_finished)
    : EventLoop(config, index, "async"), on_finished_(std::move(on_finished)) {
  (void)async_index;
  uv_async_init(uv(), &adopt_async_, on_adopt);
  adopt_async_.data = this;
}

AsyncLoop::~AsyncLoop() {
  join();
}

bool AsyncLoop::adopt(Handoff&& h) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  incoming_.push_back(std::move(h));
  uv_async_send(&adopt_async_);
  return true;
}

void AsyncLoop::on_adopt(uv_async_t* a) {
  auto* self = static_cast<AsyncLoop*>(a->data);
  std::vector<Handoff> batch;
  {
    std::lock_guard lock(self->mutex_);
    batch.swap(self->incoming_);
  }
  for (Handoff& h : batch) Connection::adopt_handoff(self, std::move(h));
}

void AsyncLoop::allow_finish() {
  post([this] {
    finish_allowed_ = true;
    maybe_finish();
  });
}

void AsyncLoop::on_finish() {
  std::vector<Handoff> left;
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    left.swap(incoming_);
  }
  // Nothing can arrive here any more (every worker finished first), but be
  // exact about what did.
  for (Handoff& h : left) {
    close(h.fd);
    h.pin.reset();
    if (h.origin_count) h.origin_count->fetch_sub(1, std::memory_order_relaxed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&adopt_async_), nullptr);
  if (on_finished_) on_finished_(this);
}

}  // namespace pounce
