#include "bench/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace pounce::bench {

std::string format_fixed(double v, int decimals) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string format_count(double v) {
  if (!std::isfinite(v)) return "?";
  uint64_t n = static_cast<uint64_t>(std::llround(std::max(v, 0.0)));
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_latency_us(double us) {
  char buf[32];
  if (us < 0) return "n/a";  // not measured (h2load gives no percentiles)
  if (us < 1000) {
    snprintf(buf, sizeof buf, "%.0fus", us);
  } else if (us < 1'000'000) {
    snprintf(buf, sizeof buf, "%.2fms", us / 1000);
  } else {
    snprintf(buf, sizeof buf, "%.2fs", us / 1e6);
  }
  return buf;
}

std::string format_kib(uint64_t kib) {
  char buf[32];
  if (kib < 1024) {
    snprintf(buf, sizeof buf, "%llu KiB", static_cast<unsigned long long>(kib));
  } else {
    snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(kib) / 1024);
  }
  return buf;
}

}  // namespace pounce::bench
