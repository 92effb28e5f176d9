// Normalizes a request path for routing (ARCHITECTURE.md §3):
// percent-decoding of unreserved characters, upper-case hex in the escapes
// that stay, and dot-segment removal (RFC 3986 §5.2.4 and §6.2.2).
#pragma once

#include <cstddef>
#include <string_view>

namespace pounce::http {

enum class PathStatus : unsigned char {
  Ok,
  BadEncoding,  // '%' not followed by two hex digits, or an encoded NUL
  NotAbsolute,  // does not start with '/'
  EscapesRoot,  // a ".." climbs above "/"
};

// Writes the normalized form of `path` (the part of an origin-form target
// before '?') to `out`, which must have room for path.size() bytes. On Ok,
// *out_len is set and the result starts with '/'. Pure; allocates nothing.
//
// Examples: "/a/./b/../c" -> "/a/c"; "/%7Euser" -> "/~user";
// "/a%2fb" -> "/a%2Fb" (a reserved character stays encoded);
// "/%2e%2e/x" -> EscapesRoot.
PathStatus normalize_path(std::string_view path, char* out, size_t* out_len);

}  // namespace pounce::http
