// A worker: an EventLoop that accepts HTTP connections, either from its own
// SO_REUSEPORT listening socket or from the accept distributor.
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "net/accept_errors.h"
#include "net/event_loop.h"

namespace pounce {

// A listening socket a worker accepts from, and what its connections speak.
struct ListenFd {
  int fd = -1;
  bool tls = false;
  bool proxy = false;     // ?proxy-protocol=1: a PROXY header comes first
  uint16_t listener = 0;  // its --listen index (the metrics' label)
};

class Worker : public EventLoop {
 public:
  // `listen_fds`: this worker's own SO_REUSEPORT socket of each listener
  // (reuseport mode); empty: connections come through hand_off()
  // (distributor mode). Call on the main thread, before start().
  // `on_finished` runs on the worker's thread when it has drained.
  Worker(const Config& config, unsigned index, std::vector<ListenFd> listen_fds,
         std::function<void(Worker*)> on_finished);
  ~Worker() override;

  // Gives an accepted socket to this worker; `tls` when it came from an
  // https listener, `proxy` from a PROXY protocol one, `listener` its
  // --listen index. Any thread.
  void hand_off(int fd, bool tls, bool proxy, uint16_t listener);

  // Connections accepted so far, for tests and the bench (any thread).
  uint64_t accepted() const {
    return accepted_.load(std::memory_order_relaxed);
  }

 protected:
  void on_drain() override;
  void on_finish() override;

 private:
  static void on_connection(uv_stream_t* server, int status);
  static void on_handoff(uv_async_t* a);

  struct Listening {
    uv_tcp_t tcp{};
    Worker* worker = nullptr;
    bool tls = false;
    bool proxy = false;
    uint16_t listener = 0;
  };
  // One per listener; unique_ptr so that the handles never move.
  std::vector<std::unique_ptr<Listening>> listeners_;
  uv_async_t handoff_async_{};
  // Guards handoff_fds_ and handoff_closed_: the distributor thread appends,
  // this worker's loop drains.
  std::mutex handoff_mutex_;
  std::vector<ListenFd> handoff_fds_;
  bool handoff_closed_ = false;
  // Written by this worker's loop only; read by anyone for statistics.
  std::atomic<uint64_t> accepted_{0};
  std::function<void(Worker*)> on_finished_;
  // Reuseport mode; this worker's loop only. libuv calls back with EMFILE
  // only when it has no reserve descriptor left to accept-and-close the
  // pending connections with; it then retries at once.
  AcceptErrors accept_errors_{"pending connections wait in the backlog"};
};

}  // namespace pounce
