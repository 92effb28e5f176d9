#include "static/static_root.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "static/open_beneath.h"

namespace pounce::static_files {

std::unique_ptr<StaticRoot> StaticRoot::open(const std::string& prefix,
                                             const std::string& dir,
                                             bool follow_symlinks,
                                             std::string* error) {
  // Roots are made on the main thread, but a counter costs nothing and
  // keeps ids unique whoever builds them: it orders nothing else.
  static std::atomic<uint64_t> next_id{1};
  if (!follow_symlinks && !have_openat2()) {
    *error = "--static " + prefix + "=" + dir +
             ": the kernel has no openat2 (Linux 5.6 or later), which keeps "
             "symlinks inside the directory; upgrade, or allow any symlink "
             "with --static-follow-symlinks";
    return nullptr;
  }
  const int fd = ::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    *error = "--static " + prefix + "=" + dir + ": " + strerror(errno);
    return nullptr;
  }
  std::unique_ptr<StaticRoot> root(new StaticRoot());
  root->prefix_ = prefix;
  root->dir_ = dir;
  root->dir_fd_ = fd;
  root->follow_symlinks_ = follow_symlinks;
  root->id_ = next_id.fetch_add(1, std::memory_order_relaxed);
  return root;
}

StaticRoot::~StaticRoot() {
  if (dir_fd_ >= 0) ::close(dir_fd_);
}

}  // namespace pounce::static_files
