// One --static mount's directory: opened once when the generation is built
// (main thread), then only read by the loops. Every file of the mount is
// opened relative to `dir_fd`, so that a rename or symlink swap of the
// configured path itself does not move the mount.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace pounce::static_files {

class StaticRoot {
 public:
  // Opens `dir` (O_PATH|O_DIRECTORY). nullptr with *error set when it is
  // not a directory that can be opened, or (without follow_symlinks) when
  // the kernel lacks openat2 (Linux 5.6), which the containment needs.
  static std::unique_ptr<StaticRoot> open(const std::string& prefix,
                                          const std::string& dir,
                                          bool follow_symlinks,
                                          std::string* error);
  ~StaticRoot();
  StaticRoot(const StaticRoot&) = delete;
  StaticRoot& operator=(const StaticRoot&) = delete;

  const std::string& prefix() const { return prefix_; }
  const std::string& dir() const { return dir_; }
  int dir_fd() const { return dir_fd_; }
  bool follow_symlinks() const { return follow_symlinks_; }
  // Unique for the life of the process: the open-file caches key their
  // entries with it, so that a reload's new roots never see an old
  // root's entries.
  uint64_t id() const { return id_; }

 private:
  StaticRoot() = default;
  std::string prefix_;
  std::string dir_;
  int dir_fd_ = -1;
  bool follow_symlinks_ = false;
  uint64_t id_ = 0;
};

}  // namespace pounce::static_files
