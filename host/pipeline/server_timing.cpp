#include "pipeline/server_timing.h"

#include <cstdio>

namespace pounce::pipeline {

namespace {
// Milliseconds with three decimals, from nanoseconds, without floating
// point rounding surprises.
int put_ms(char* p, size_t cap, uint64_t ns) {
  uint64_t us = (ns + 500) / 1000;
  return snprintf(p, cap, "%llu.%03llu",
                  static_cast<unsigned long long>(us / 1000),
                  static_cast<unsigned long long>(us % 1000));
}
}  // namespace

std::string_view format_server_timing(char* buf, size_t cap, uint64_t parse_ns,
                                      uint64_t app_ns, int64_t encode_ns) {
  size_t n = 0;
  auto add = [&](const char* text) {
    int w = snprintf(buf + n, cap - n, "%s", text);
    if (w > 0)
      n += static_cast<size_t>(w) < cap - n ? static_cast<size_t>(w)
                                            : cap - n - 1;
  };
  auto add_ms = [&](uint64_t ns) {
    int w = put_ms(buf + n, cap - n, ns);
    if (w > 0)
      n += static_cast<size_t>(w) < cap - n ? static_cast<size_t>(w)
                                            : cap - n - 1;
  };
  add("parse;dur=");
  add_ms(parse_ns);
  add(", app;dur=");
  add_ms(app_ns);
  if (encode_ns >= 0) {
    add(", encode;dur=");
    add_ms(static_cast<uint64_t>(encode_ns));
  }
  return std::string_view(buf, n);
}

}  // namespace pounce::pipeline
