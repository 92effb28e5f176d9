#include "static/path_map.h"

#include <cstdint>

namespace pounce::static_files {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing past
// U+10FFFF.
bool valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte, 0xc0/0xc1, or past 0xf4
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

bool map_path(std::string_view p, MappedPath* out) {
  out->rel.clear();
  out->trailing_slash = false;
  if (p.empty()) return true;
  if (p[0] != '/') return false;
  size_t i = 1;
  while (i <= p.size()) {
    size_t end = p.find('/', i);
    if (end == std::string_view::npos) end = p.size();
    const std::string_view seg = p.substr(i, end - i);
    if (seg.empty()) {
      // Only the last segment may be empty: "/dir/".
      if (end != p.size()) return false;
      out->trailing_slash = true;
      break;
    }
    if (!out->rel.empty()) out->rel.push_back('/');
    const size_t name_start = out->rel.size();
    for (size_t k = 0; k < seg.size(); ++k) {
      char c = seg[k];
      if (c == '%') {
        if (k + 2 >= seg.size()) return false;
        const int hi = hex(seg[k + 1]);
        const int lo = hex(seg[k + 2]);
        if (hi < 0 || lo < 0) return false;
        c = static_cast<char>(hi * 16 + lo);
        k += 2;
      }
      const auto u = static_cast<unsigned char>(c);
      if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) return false;
      out->rel.push_back(c);
    }
    const std::string_view name = std::string_view(out->rel).substr(name_start);
    if (name.empty() || name[0] == '.' || !valid_utf8(name)) return false;
    i = end + 1;
  }
  return true;
}

}  // namespace pounce::static_files
