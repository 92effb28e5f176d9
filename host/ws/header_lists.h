// Small helpers for the comma-separated header lists of the handshake
// (RFC 9110 §5.6.1: 1#element with optional whitespace, empty elements
// skipped), internal to host/ws.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <string_view>

#include "http/char_class.h"

namespace pounce::ws::detail {

inline bool ieq(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x + 32);
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y + 32);
    if (x != y) return false;
  }
  return true;
}

inline bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!http::cc::is_tchar(c)) return false;
  }
  return true;
}

inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && http::cc::is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && http::cc::is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Calls fn(element) for each non-empty, trimmed element of a comma list.
// Stops early, returning false, when fn returns false.
template <typename Fn>
bool for_each_list_element(std::string_view v, Fn&& fn) {
  while (true) {
    const size_t comma = v.find(',');
    const std::string_view element = trim_ows(v.substr(0, comma));
    if (!element.empty() && !fn(element)) return false;
    if (comma == std::string_view::npos) return true;
    v.remove_prefix(comma + 1);
  }
}

// Whether a comma list contains `token`, case-insensitively.
inline bool list_has_token(std::string_view v, std::string_view token) {
  bool found = false;
  for_each_list_element(v, [&](std::string_view e) {
    if (ieq(e, token)) found = true;
    return !found;
  });
  return found;
}

inline std::string_view view_of(const pounce_str_t& s) {
  return {s.data, s.len};
}

}  // namespace pounce::ws::detail
