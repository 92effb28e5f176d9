#include "server/socket_activation.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace pounce {

namespace {

// The first passed descriptor (SD_LISTEN_FDS_START).
constexpr int kFirstFd = 3;
// Far more than any unit passes; bounds a garbage LISTEN_FDS.
constexpr long kMaxFds = 4096;

bool parse_long(const char* text, long* out) {
  if (!text || !*text) return false;
  char* end = nullptr;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || v < 0) return false;
  *out = v;
  return true;
}

int socket_option(int fd, int option) {
  int value = -1;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) return -1;
  return value;
}

}  // namespace

bool take_inherited_sockets(std::vector<InheritedSocket>* out,
                            std::string* error) {
  out->clear();
  const char* pid_text = getenv("LISTEN_PID");
  const char* fds_text = getenv("LISTEN_FDS");
  if (!pid_text || !fds_text) return true;
  long pid = 0, count = 0;
  if (!parse_long(pid_text, &pid) || pid != static_cast<long>(getpid())) {
    // Meant for another process (the variables leaked through a parent
    // that did not remove them): not ours to take.
    return true;
  }
  std::string names = getenv("LISTEN_FDNAMES") ? getenv("LISTEN_FDNAMES") : "";
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  if (!parse_long(fds_text, &count) || count > kMaxFds) {
    *error = std::string("socket activation: LISTEN_FDS is not a count: ") +
             fds_text;
    return false;
  }
  std::vector<std::string> split;
  if (!names.empty()) {
    size_t start = 0;
    for (;;) {
      size_t colon = names.find(':', start);
      split.push_back(names.substr(start, colon - start));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (split.size() != static_cast<size_t>(count)) {
      *error = "socket activation: LISTEN_FDNAMES has " +
               std::to_string(split.size()) + " names for " +
               std::to_string(count) + " descriptors";
      return false;
    }
  }
  for (long i = 0; i < count; ++i) {
    InheritedSocket s;
    s.fd = kFirstFd + static_cast<int>(i);
    s.name = split.empty() ? "" : split[static_cast<size_t>(i)];
    const std::string which = "socket activation: descriptor " +
                              std::to_string(s.fd) +
                              (s.name.empty() ? "" : " (" + s.name + ")");
    struct stat st;
    if (fstat(s.fd, &st) != 0 || !S_ISSOCK(st.st_mode)) {
      *error = which + " is not a socket";
      return false;
    }
    s.family = socket_option(s.fd, SO_DOMAIN);
    if (socket_option(s.fd, SO_TYPE) != SOCK_STREAM ||
        (s.family != AF_INET && s.family != AF_INET6 && s.family != AF_UNIX)) {
      *error = which +
               " is not a TCP or Unix stream socket (ListenStream= in the "
               ".socket unit)";
      return false;
    }
    if (socket_option(s.fd, SO_ACCEPTCONN) != 1) {
      *error = which + " is not listening (Accept=no in the .socket unit)";
      return false;
    }
    int flags = fcntl(s.fd, F_GETFL);
    if (flags < 0 || fcntl(s.fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        fcntl(s.fd, F_SETFD, FD_CLOEXEC) != 0) {
      *error = which + ": " + strerror(errno);
      return false;
    }
    out->push_back(std::move(s));
  }
  return true;
}

}  // namespace pounce
