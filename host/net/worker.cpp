#include "net/worker.h"

#include <unistd.h>

#include "log/logger.h"
#include "net/connection.h"

namespace pounce {

Worker::Worker(const Config& config, unsigned index,
               std::vector<ListenFd> listen_fds,
               std::function<void(Worker*)> on_finished)
    : EventLoop(config, index, "worker"), on_finished_(std::move(on_finished)) {
  uv_async_init(uv(), &handoff_async_, on_handoff);
  handoff_async_.data = this;
  for (const ListenFd& lf : listen_fds) {
    auto l = std::make_unique<Listening>();
    l->worker = this;
    l->tls = lf.tls;
    l->proxy = lf.proxy;
    l->listener = lf.listener;
    uv_tcp_init(uv(), &l->tcp);
    l->tcp.data = l.get();
    int rc = uv_tcp_open(&l->tcp, lf.fd);
    if (rc == 0) {
      rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp), config.backlog,
                     on_connection);
    }
    if (rc != 0) {
      LOG_ERROR("worker %u: cannot listen: %s", index, uv_strerror(rc));
      uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), nullptr);
      // The handle is closing: keep its memory until the loop is gone.
    }
    listeners_.push_back(std::move(l));
  }
}

Worker::~Worker() {
  join();
}

void Worker::on_connection(uv_stream_t* server, int status) {
  auto* l = static_cast<Listening*>(server->data);
  Worker* w = l->worker;
  if (status < 0) {
    // Out of descriptors, libuv normally accepts and closes the pending
    // connections with a reserve descriptor, silently; this runs when it
    // has none, once per retry: log the episode, not each retry.
    w->accept_errors_.failed(status, uv_strerror(status));
    return;
  }
  w->accept_errors_.succeeded();
  if (Connection::accept_from(w, server, l->tls, l->proxy, l->listener)) {
    w->accepted_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Worker::hand_off(int fd, bool tls, bool proxy, uint16_t listener) {
  {
    std::lock_guard lock(handoff_mutex_);
    if (!handoff_closed_) {
      handoff_fds_.push_back(ListenFd{fd, tls, proxy, listener});
      uv_async_send(&handoff_async_);
      return;
    }
  }
  close(fd);  // the worker is gone: nobody will serve it
}

void Worker::on_handoff(uv_async_t* a) {
  auto* w = static_cast<Worker*>(a->data);
  std::vector<ListenFd> fds;
  {
    std::lock_guard lock(w->handoff_mutex_);
    fds.swap(w->handoff_fds_);
  }
  for (const ListenFd& lf : fds) {
    if (w->draining()) {
      close(lf.fd);
      continue;
    }
    if (Connection::adopt_fd(w, lf.fd, lf.tls, lf.proxy, lf.listener)) {
      w->accepted_.fetch_add(1, std::memory_order_relaxed);
    }
  }
}

void Worker::on_drain() {
  for (auto& l : listeners_) {
    auto* h = reinterpret_cast<uv_handle_t*>(&l->tcp);
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  }
}

void Worker::on_finish() {
  {
    std::lock_guard lock(handoff_mutex_);
    handoff_closed_ = true;
    for (const ListenFd& lf : handoff_fds_) close(lf.fd);
    handoff_fds_.clear();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&handoff_async_), nullptr);
  if (on_finished_) on_finished_(this);
}

}  // namespace pounce
