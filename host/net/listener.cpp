#include "net/listener.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pounce {

namespace {

int open_one(const addrinfo* ai, uint16_t port, int backlog, bool reuseport,
             std::string* error) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  ai->ai_protocol);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (reuseport &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    *error = std::string("SO_REUSEPORT: ") + strerror(errno);
    close(fd);
    return -1;
  }
  sockaddr_storage addr{};
  memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  if (addr.ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = htons(port);
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), ai->ai_addrlen) != 0) {
    *error = "bind to port " + std::to_string(port) + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  if (listen(fd, backlog) != 0) {
    *error = std::string("listen: ") + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (addr.ss_family == AF_INET) {
    return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  }
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

}  // namespace

bool open_listen_sockets(const std::string& host, uint16_t port, int backlog,
                         unsigned count, bool reuseport, ListenSockets* out,
                         std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int rc =
      getaddrinfo(host.empty() ? nullptr : host.c_str(), "0", &hints, &res);
  if (rc != 0 || !res) {
    *error = "cannot resolve --host " + host + ": " + gai_strerror(rc);
    return false;
  }
  out->fds.clear();
  uint16_t want = port;
  for (unsigned i = 0; i < count; ++i) {
    int fd = open_one(res, want, backlog, reuseport, error);
    if (fd < 0) {
      for (int f : out->fds) close(f);
      out->fds.clear();
      freeaddrinfo(res);
      *error = "cannot listen on " + host_port_text(host, want) + ": " + *error;
      return false;
    }
    if (i == 0) want = bound_port(fd);  // the others join the first's port
    out->fds.push_back(fd);
  }
  freeaddrinfo(res);
  out->port = want;
  return true;
}

bool reuseport_supported() {
#ifdef SO_REUSEPORT
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int one = 1;
  bool ok = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0;
  close(fd);
  return ok;
#else
  return false;
#endif
}

std::string host_port_text(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) {
    return "[" + host + "]:" + std::to_string(port);
  }
  return host + ":" + std::to_string(port);
}

}  // namespace pounce
