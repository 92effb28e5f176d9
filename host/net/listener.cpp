#include "net/listener.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

namespace {

bool unix_address(const std::string& path, sockaddr_un* addr,
                  std::string* error) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr->sun_path) {
    *error = "unix:" + path + ": the path must be 1 to " +
             std::to_string(sizeof addr->sun_path - 1) + " bytes";
    return false;
  }
  memcpy(addr->sun_path, path.data(), path.size());
  return true;
}

// Whether a process accepts connections on the socket file at `path`.
// Refused means nobody listens: the file is stale. Anything else (accepted,
// or a full backlog, EAGAIN) means it is alive. A non-blocking connect to a
// Unix socket completes or fails at once.
bool unix_socket_alive(const sockaddr_un& addr, int* err) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *err = errno;
    return true;
  }
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  *err = rc == 0 ? 0 : errno;
  close(fd);
  return !(rc != 0 && (*err == ECONNREFUSED || *err == ENOENT));
}

}  // namespace

int open_unix_listener(const std::string& path, unsigned mode, int backlog,
                       UnixSocketFile* created, std::string* error) {
  sockaddr_un addr;
  if (!unix_address(path, &addr, error)) return -1;
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "cannot listen on unix:" + path +
               ": the file exists and is not a socket";
      return -1;
    }
    int err = 0;
    if (unix_socket_alive(addr, &err)) {
      *error = "cannot listen on unix:" + path +
               (err == 0 || err == EAGAIN
                    ? std::string(": another process listens on it")
                    : ": cannot tell whether it is in use: " +
                          std::string(strerror(err)));
      return -1;
    }
    // Stale: its process is gone. Removing it is what lets us bind.
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      *error = "cannot remove the stale socket unix:" + path + ": " +
               strerror(errno);
      return -1;
    }
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "cannot listen on unix:" + path + ": bind: " + strerror(errno);
    close(fd);
    return -1;
  }
  // Before listen(): no client can connect while the file still has the
  // umask's mode.
  if (chmod(path.c_str(), mode) != 0 || lstat(path.c_str(), &st) != 0) {
    *error = "cannot set the mode of unix:" + path + ": " + strerror(errno);
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  if (listen(fd, backlog) != 0) {
    *error = "cannot listen on unix:" + path + ": " + strerror(errno);
    close(fd);
    unlink(path.c_str());
    return -1;
  }
  created->path = path;
  created->dev = st.st_dev;
  created->ino = st.st_ino;
  return fd;
}

void remove_unix_socket_file(const UnixSocketFile& file) {
  struct stat st;
  if (lstat(file.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) &&
      st.st_dev == file.dev && st.st_ino == file.ino) {
    unlink(file.path.c_str());
  }
}

bool share_listen_socket(int fd, unsigned count, std::vector<int>* out,
                         std::string* error) {
  out->clear();
  out->push_back(fd);
  for (unsigned i = 1; i < count; ++i) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) {
      *error = std::string("dup of a listening socket: ") + strerror(errno);
      for (size_t j = 1; j < out->size(); ++j) close((*out)[j]);
      out->clear();
      return false;
    }
    out->push_back(d);
  }
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
