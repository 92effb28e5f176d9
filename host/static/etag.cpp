#include "static/etag.h"

#include <cstdint>

namespace pounce::static_files {
namespace {

size_t put_hex(uint64_t v, char* out) {
  char tmp[16];
  size_t n = 0;
  do {
    tmp[n++] = "0123456789abcdef"[v & 15];
    v >>= 4;
  } while (v);
  for (size_t i = 0; i < n; ++i) out[i] = tmp[n - 1 - i];
  return n;
}

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// etagc = %x21 / %x23-7E / obs-text.
bool is_etagc(unsigned char c) {
  return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
}

// Reads one entity-tag at s[*i]: sets *weak and *opaque (with its quotes).
bool read_tag(std::string_view s, size_t* i, bool* weak,
              std::string_view* opaque) {
  size_t p = *i;
  *weak = false;
  if (s.substr(p, 2) == "W/") {
    *weak = true;
    p += 2;
  }
  if (p >= s.size() || s[p] != '"') return false;
  const size_t start = p++;
  while (p < s.size() && is_etagc(static_cast<unsigned char>(s[p]))) ++p;
  if (p >= s.size() || s[p] != '"') return false;
  ++p;
  *opaque = s.substr(start, p - start);
  *i = p;
  return true;
}

}  // namespace

size_t make_etag(const struct stat& st, char* out) {
  size_t n = 0;
  out[n++] = '"';
  n += put_hex(static_cast<uint64_t>(st.st_ino), out + n);
  out[n++] = '-';
  n += put_hex(static_cast<uint64_t>(st.st_size), out + n);
  out[n++] = '-';
  const uint64_t ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1000000000u +
                      static_cast<uint64_t>(st.st_mtim.tv_nsec);
  n += put_hex(ns, out + n);
  out[n++] = '"';
  return n;
}

EtagMatch match_etag_list(std::string_view s, std::string_view etag,
                          bool weak) {
  size_t i = 0;
  while (i < s.size() && is_ows(s[i])) ++i;
  size_t end = s.size();
  while (end > i && is_ows(s[end - 1])) --end;
  if (s.substr(i, end - i) == "*") return EtagMatch::Match;
  bool matched = false;
  bool any = false;
  while (i < end) {
    // Empty list elements are allowed (§5.6.1).
    if (s[i] == ',' || is_ows(s[i])) {
      ++i;
      continue;
    }
    bool is_weak = false;
    std::string_view opaque;
    if (!read_tag(s, &i, &is_weak, &opaque)) return EtagMatch::Malformed;
    any = true;
    while (i < end && is_ows(s[i])) ++i;
    if (i < end && s[i] != ',') return EtagMatch::Malformed;
    if (opaque == etag && (weak || !is_weak)) matched = true;
  }
  if (!any) return EtagMatch::Malformed;
  return matched ? EtagMatch::Match : EtagMatch::None;
}

bool strong_match(std::string_view value, std::string_view etag) {
  while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
  while (!value.empty() && is_ows(value.back())) value.remove_suffix(1);
  size_t i = 0;
  bool is_weak = false;
  std::string_view opaque;
  if (!read_tag(value, &i, &is_weak, &opaque) || i != value.size())
    return false;
  return !is_weak && opaque == etag;
}

}  // namespace pounce::static_files
