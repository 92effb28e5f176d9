// --accept-mode distributor: one thread accepts every connection and hands
// each to a worker, round-robin, through the worker's queue and uv_async_t.
// Only this thread waits on the listening socket, so there is no thundering
// herd, and round-robin keeps the connection counts even.
#pragma once

#include <atomic>
#include <thread>
#include <vector>

namespace pounce {

class Worker;

class AcceptDistributor {
 public:
  AcceptDistributor(int listen_fd, std::vector<Worker*> workers);
  ~AcceptDistributor();

  void start(int cpu);
  // Stops accepting and joins the thread; closes the listening socket.
  void stop();

 private:
  void run();

  int listen_fd_;
  int wake_fd_;  // an eventfd that stop() signals
  std::vector<Worker*> workers_;
  std::thread thread_;
  size_t next_ = 0;  // touched by the accept thread only
};

}  // namespace pounce
