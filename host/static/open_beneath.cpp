#include "static/open_beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "static/static_root.h"

namespace pounce::static_files {
namespace {

// glibc 2.36 has no openat2 wrapper.
int sys_openat2(int dirfd, const char* path, uint64_t flags, uint64_t resolve) {
  open_how how;
  memset(&how, 0, sizeof how);
  how.flags = flags;
  how.resolve = resolve;
  return static_cast<int>(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

}  // namespace

int open_beneath(const StaticRoot& root, std::string_view rel, int flags) {
  char path[PATH_MAX];
  if (rel.size() >= sizeof path) return -ENAMETOOLONG;
  if (rel.empty()) {
    path[0] = '.';
    path[1] = '\0';
  } else {
    memcpy(path, rel.data(), rel.size());
    path[rel.size()] = '\0';
  }
  // openat2 refuses flags that mean nothing with O_PATH (EINVAL).
  flags |= (flags & O_PATH) ? O_CLOEXEC : O_CLOEXEC | O_NOCTTY;
  int fd;
  do {
    fd = root.follow_symlinks()
             ? ::openat(root.dir_fd(), path, flags)
             : sys_openat2(root.dir_fd(), path, static_cast<uint64_t>(flags),
                           RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
  } while (fd < 0 && errno == EINTR);
  return fd >= 0 ? fd : -errno;
}

bool have_openat2() {
  const int fd = sys_openat2(AT_FDCWD, "/", O_PATH | O_CLOEXEC, 0);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  return errno != ENOSYS;
}

}  // namespace pounce::static_files
