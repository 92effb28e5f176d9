// The Server-Timing header (ARCHITECTURE.md §5): parse, app and encode, in
// milliseconds with three decimals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::pipeline {

// Formats "parse;dur=0.012, app;dur=0.003, encode;dur=0.020" into buf.
// encode_ns < 0 leaves encode out (a streamed response's head goes out
// before its body exists).
std::string_view format_server_timing(char* buf, size_t cap, uint64_t parse_ns,
                                      uint64_t app_ns, int64_t encode_ns);

}  // namespace pounce::pipeline
