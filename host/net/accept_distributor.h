// --accept-mode distributor: one thread accepts every connection and hands
// each to a worker, round-robin, through the worker's queue and uv_async_t.
// Only this thread waits on the listening socket, so there is no thundering
// herd, and round-robin keeps the connection counts even.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

#include "net/worker.h"

namespace pounce {

class AcceptErrors;

class AcceptDistributor {
 public:
  // One socket per listener; the distributor owns and closes them.
  AcceptDistributor(std::vector<ListenFd> listen_fds,
                    std::vector<Worker*> workers);
  ~AcceptDistributor();

  void start(int cpu);
  // Stops accepting and joins the thread; closes the listening sockets.
  void stop();

 private:
  void run();
  bool accept_pending(const ListenFd& l, AcceptErrors* errors);

  std::vector<ListenFd> listen_fds_;
  int wake_fd_;  // an eventfd that stop() signals
  std::vector<Worker*> workers_;
  std::thread thread_;
  size_t next_ = 0;  // touched by the accept thread only
};

}  // namespace pounce
