#include "exchange/task_queue.h"

namespace pounce {

void TaskQueue::init(uv_loop_t* loop) {
  uv_async_init(loop, &async_, on_async);
  async_.data = this;
}

void TaskQueue::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
  }
  // Tasks posted before the close still run: they may release resources.
  on_async(&async_);
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

bool TaskQueue::post(Task fn) {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    tasks_.push_back(std::move(fn));
    // Sent under the lock: close() cannot close the handle in between.
    uv_async_send(&async_);
  }
  return true;
}

void TaskQueue::on_async(uv_async_t* a) {
  auto* q = static_cast<TaskQueue*>(a->data);
  std::vector<Task> batch;
  {
    std::lock_guard lock(q->mutex_);
    batch.swap(q->tasks_);
  }
  for (Task& queued : batch) {
    // Each task's resources go as soon as it ran, not with the batch.
    Task t = std::move(queued);
    t();
  }
}

}  // namespace pounce
