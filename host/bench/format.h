// Number formatting shared by the table, the progress line and the report.
#pragma once

#include <cstdint>
#include <string>

namespace pounce::bench {

std::string format_count(double v);        // 1234567 -> "1,234,567"
std::string format_latency_us(double us);  // 850 -> "850us", 1234 -> "1.23ms"
std::string format_kib(uint64_t kib);      // 5300 -> "5.2 MiB"
std::string format_fixed(double v, int decimals);

}  // namespace pounce::bench
