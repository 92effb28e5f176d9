// The file a static request names: the route's normalized path below the
// mount (http/path_normalize.h already removed dot segments and refused a
// climb above "/") decoded into a path relative to the mount's directory,
// with every rule that keeps it inside and away from hidden files. Pure.
#pragma once

#include <string>
#include <string_view>

namespace pounce::static_files {

struct MappedPath {
  // Relative to the mount's directory: "" for the directory itself, else
  // "a/b.txt" (segments joined by '/', never a leading or trailing one).
  std::string rel;
  // The request path ended with '/' (a directory's index is asked for).
  bool trailing_slash = false;
};

// Maps `path_info` ("" or "/...", normalized) into *out, reusing its
// buffer. false (the answer is 404) when a segment, once percent-decoded:
// - starts with '.' (dotfiles and dot directories, and so "." and ".."
//   however they were spelled);
// - holds '/' (from %2F), '\', NUL or another control byte;
// - is not valid UTF-8 (an overlong "%C0%AE" is not a '.', and is not a
//   name either);
// - is empty (a "//" inside the path).
bool map_path(std::string_view path_info, MappedPath* out);

}  // namespace pounce::static_files
