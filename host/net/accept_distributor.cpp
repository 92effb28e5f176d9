#include "net/accept_distributor.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/logger.h"
#include "net/accept_errors.h"
#include "net/event_loop.h"
#include "net/worker.h"

namespace pounce {

AcceptDistributor::AcceptDistributor(int listen_fd,
                                     std::vector<Worker*> workers)
    : listen_fd_(listen_fd),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      workers_(std::move(workers)) {}

AcceptDistributor::~AcceptDistributor() {
  stop();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void AcceptDistributor::start(int cpu) {
  thread_ = start_thread_without_signals([this, cpu] {
    pthread_setname_np(pthread_self(), "pounce-accept");
    if (cpu >= 0) pin_current_thread(cpu, "pounce-accept");
    run();
  });
}

void AcceptDistributor::stop() {
  if (!thread_.joinable()) return;
  uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;
  thread_.join();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void AcceptDistributor::run() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  AcceptErrors errors("new connections wait in the backlog");
  for (;;) {
    int rc = poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("accept distributor: poll: %s", strerror(errno));
      return;
    }
    if (fds[1].revents) return;  // stop()
    // Accept everything pending, then wait again.
    for (;;) {
      int fd =
          accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
          // accept4 takes a descriptor before it looks at the queue, so
          // EAGAIN also means descriptors are free again.
          errors.succeeded();
          break;
        }
        errors.failed(e, strerror(e));
        // The pending connection stays in the backlog and the socket stays
        // readable: back off briefly instead of spinning, but wake at once
        // for stop().
        if (poll(&fds[1], 1, 10) > 0) return;
        break;
      }
      errors.succeeded();
      workers_[next_]->hand_off(fd);
      next_ = (next_ + 1) % workers_.size();
    }
  }
}

}  // namespace pounce
