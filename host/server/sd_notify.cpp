#include "server/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "log/logger.h"

namespace pounce {

namespace {

bool parse_u64(const char* text, uint64_t* out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  *out = v;
  return true;
}

}  // namespace

SdNotifier::SdNotifier() {
  const char* path = getenv("NOTIFY_SOCKET");
  if (path && *path && (path[0] == '/' || path[0] == '@') &&
      strlen(path) < sizeof(sockaddr_un::sun_path)) {
    address_ = path;
    // An abstract socket: '@' stands for the leading NUL.
    if (address_[0] == '@') address_[0] = '\0';
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd_ < 0) {
      LOG_WARN("NOTIFY_SOCKET: socket: %s", strerror(errno));
    }
  } else if (path && *path) {
    LOG_WARN("NOTIFY_SOCKET=%s is not a Unix socket address; not notifying",
             path);
  }
  uint64_t usec = 0;
  if (parse_u64(getenv("WATCHDOG_USEC"), &usec) && usec > 0) {
    uint64_t pid = 0;
    const char* pid_text = getenv("WATCHDOG_PID");
    // The watchdog is meant for the main PID: this process, or under the
    // supervisor its parent, whose serving child pings in its place.
    if (!pid_text || (parse_u64(pid_text, &pid) &&
                      (pid == static_cast<uint64_t>(getpid()) ||
                       pid == static_cast<uint64_t>(getppid())))) {
      watchdog_usec_ = usec;
    }
  }
}

SdNotifier::~SdNotifier() {
  if (fd_ >= 0) close(fd_);
}

void SdNotifier::send(std::string_view message) {
  if (fd_ < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  memcpy(addr.sun_path, address_.data(), address_.size());
  const socklen_t len =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size());
  ssize_t n = sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                     reinterpret_cast<const sockaddr*>(&addr), len);
  if (n < 0 && !warned_) {
    warned_ = true;
    LOG_WARN("NOTIFY_SOCKET: cannot notify the service manager: %s",
             strerror(errno));
  }
}

void SdNotifier::reloading() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const uint64_t usec = static_cast<uint64_t>(ts.tv_sec) * 1000000u +
                        static_cast<uint64_t>(ts.tv_nsec) / 1000u;
  std::string m = "RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec);
  send(m);
}

}  // namespace pounce
