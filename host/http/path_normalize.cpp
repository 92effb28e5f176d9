// Path normalization for routing (RFC 3986 §6.2.2, §5.2.4).
//
// Decisions:
// - Empty segments are kept: "/a//b" stays "/a//b". Merging them would make
//   two different resources of a file-backed plugin look like one.
// - A dot segment is recognised after decoding, so "%2e" and "%2E%2e" are
//   dot segments. A trailing "." or ".." leaves the slash before it:
//   "/a/." -> "/a/", "/a/b/.." -> "/a/", "/a/.." -> "/".
// - ".." at the root is an error (EscapesRoot), never clamped to "/": a
//   client that sends one is probing for path traversal.
// - An escape that decodes to an unreserved character is decoded; every
//   other escape stays, with upper-case hex ("%2f" -> "%2F"). "%00" and a
//   malformed escape ("%", "%4", "%zz") are BadEncoding. Other bytes are
//   copied unchanged: the head parser has already limited the target to
//   visible ASCII.
#include "http/path_normalize.h"

#include "http/char_class.h"

namespace pounce::http {

PathStatus normalize_path(std::string_view path, char* out, size_t* out_len) {
  const size_t n = path.size();
  if (n == 0 || path[0] != '/') return PathStatus::NotAbsolute;
  static constexpr char kHex[] = "0123456789ABCDEF";
  size_t w = 0;
  out[w++] = '/';
  size_t i = 1;
  // out[0..w) always ends with '/' when a segment starts.
  while (true) {
    const size_t seg = w;
    while (i < n && path[i] != '/') {
      const char c = path[i];
      if (c != '%') {
        out[w++] = c;
        ++i;
        continue;
      }
      if (i + 2 >= n) return PathStatus::BadEncoding;
      const unsigned hi = cc::hex_value(path[i + 1]);
      const unsigned lo = cc::hex_value(path[i + 2]);
      if (hi > 15 || lo > 15) return PathStatus::BadEncoding;
      const unsigned char v = static_cast<unsigned char>(hi << 4 | lo);
      if (v == 0) return PathStatus::BadEncoding;
      if (cc::has(static_cast<char>(v), cc::kUnreserved)) {
        out[w++] = static_cast<char>(v);
      } else {
        out[w++] = '%';
        out[w++] = kHex[hi];
        out[w++] = kHex[lo];
      }
      i += 3;
    }
    const size_t len = w - seg;
    const bool dot = len == 1 && out[seg] == '.';
    const bool dot_dot = len == 2 && out[seg] == '.' && out[seg + 1] == '.';
    if (dot) {
      w = seg;
    } else if (dot_dot) {
      if (seg == 1) return PathStatus::EscapesRoot;
      // Drop the previous segment; out[seg - 1] is its trailing '/'.
      size_t j = seg - 2;
      while (out[j] != '/') --j;
      w = j + 1;
    }
    if (i >= n) break;
    ++i;  // the '/'
    if (!dot && !dot_dot) out[w++] = '/';
  }
  *out_len = w;
  return PathStatus::Ok;
}

}  // namespace pounce::http
