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

AcceptDistributor::AcceptDistributor(std::vector<ListenFd> listen_fds,
                                     std::vector<Worker*> workers)
    : listen_fds_(std::move(listen_fds)),
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
  for (ListenFd& l : listen_fds_) {
    if (l.fd >= 0) close(l.fd);
    l.fd = -1;
  }
}

void AcceptDistributor::run() {
  // The wake descriptor first, then one entry per listener.
  std::vector<pollfd> fds;
  fds.push_back({wake_fd_, POLLIN, 0});
  for (const ListenFd& l : listen_fds_) fds.push_back({l.fd, POLLIN, 0});
  AcceptErrors errors("new connections wait in the backlog");
  for (;;) {
    int rc = poll(fds.data(), fds.size(), -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("accept distributor: poll: %s", strerror(errno));
      return;
    }
    if (fds[0].revents) return;  // stop()
    for (size_t i = 1; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (!accept_pending(listen_fds_[i - 1], &errors)) return;
    }
  }
}

bool AcceptDistributor::accept_pending(const ListenFd& l,
                                       AcceptErrors* errors) {
  // Accept everything pending, then wait again. False: stop() was called.
  for (;;) {
    int fd = accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        // accept4 takes a descriptor before it looks at the queue, so
        // EAGAIN also means descriptors are free again.
        errors->succeeded();
        return true;
      }
      errors->failed(e, strerror(e));
      // The pending connection stays in the backlog and the socket stays
      // readable: back off briefly instead of spinning, but wake at once
      // for stop().
      pollfd wake = {wake_fd_, POLLIN, 0};
      return poll(&wake, 1, 10) <= 0;
    }
    errors->succeeded();
    workers_[next_]->hand_off(fd, l.tls, l.proxy, l.listener);
    next_ = (next_ + 1) % workers_.size();
  }
}

}  // namespace pounce
