// Opening a path below a static mount's directory, and only below it.
#pragma once

#include <sys/stat.h>

#include <string_view>

namespace pounce::static_files {

class StaticRoot;

// openat2(root.dir_fd(), rel, flags | O_CLOEXEC | O_NOCTTY) with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: a symlink (relative) may lead
// anywhere inside the directory, but one that leads out of it (or any
// absolute one, or a /proc magic link) fails with EXDEV or ELOOP. With
// root.follow_symlinks(), a plain openat: symlinks lead anywhere (the
// path itself holds no ".." segment: path_map.h). `rel` "" is the
// directory itself. Returns the descriptor or -errno.
int open_beneath(const StaticRoot& root, std::string_view rel, int flags);

// Whether the running kernel has openat2 (Linux 5.6).
bool have_openat2();

}  // namespace pounce::static_files
