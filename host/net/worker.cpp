#include "net/worker.h"

#include <unistd.h>

#include "log/logger.h"
#include "net/connection.h"

namespace pounce {

Worker::Worker(const Config& config, unsigned index, int listen_fd,
               std::function<void(Worker*)> on_finished)
    : EventLoop(config, index, "worker"), on_finished_(std::move(on_finished)) {
  uv_async_init(uv(), &handoff_async_, on_handoff);
  handoff_async_.data = this;
  if (listen_fd >= 0) {
    uv_tcp_init(uv(), &listener_);
    listener_.data = this;
    int rc = uv_tcp_open(&listener_, listen_fd);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), config.backlog,
                     on_connection);
    }
    if (rc != 0) {
      LOG_ERROR("worker %u: cannot listen: %s", index, uv_strerror(rc));
      uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
    } else {
      listening_ = true;
    }
  }
}

Worker::~Worker() {
  join();
}

void Worker::on_connection(uv_stream_t* server, int status) {
  auto* w = static_cast<Worker*>(server->data);
  if (status < 0) {
    // Out of descriptors, libuv normally accepts and closes the pending
    // connections with a reserve descriptor, silently; this runs when it
    // has none, once per retry: log the episode, not each retry.
    w->accept_errors_.failed(status, uv_strerror(status));
    return;
  }
  w->accept_errors_.succeeded();
  if (Connection::accept_from(w, server)) {
    w->accepted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Worker::hand_off(int fd) {
  {
    std::lock_guard lock(handoff_mutex_);
    if (!handoff_closed_) {
      handoff_fds_.push_back(fd);
      uv_async_send(&handoff_async_);
      return;
    }
  }
  close(fd);  // the worker is gone: nobody will serve it
}

void Worker::on_handoff(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  std::vector<int> fds;
  {
    std::lock_guard lock(w->handoff_mutex_);
    fds.swap(w->handoff_fds_);
  }
  for (int fd : fds) {
    if (w->draining()) {
      close(fd);
      continue;
    }
    if (Connection::adopt_fd(w, fd)) {
      w->accepted_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Worker::on_drain() {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
}

void Worker::on_finish() {
  {
    std::lock_guard lock(handoff_mutex_);
    handoff_closed_ = true;
    for (int fd : handoff_fds_) close(fd);
    handoff_fds_.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&handoff_async_), nullptr);
  if (on_finished_) on_finished_(this);
}

}  // namespace pounce
