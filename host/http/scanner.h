// Byte scanners used by the head parser, with a SIMD path chosen at run time
// (__builtin_cpu_supports) and a portable scalar fallback. All variants return
// the same answer for every input; tests check that.
#pragma once

#include <cstddef>

namespace pounce::http {

// Returns the offset of the first byte in p[0..len) that cannot appear inside
// a header field value: a CTL other than HTAB (this includes CR and LF), or
// DEL. Returns len when there is none.
using ValueScanFn = size_t (*)(const char* p, size_t len);

// Returns the offset of the first byte in p[0..len) that cannot appear inside
// a request-target: a byte <= 0x20 (SP, CTL, NUL), DEL, or any byte >= 0x80.
// Returns len when there is none.
using TargetScanFn = size_t (*)(const char* p, size_t len);

struct Scanner {
  const char* name;
  ValueScanFn scan_value;
  TargetScanFn scan_target;
};

const Scanner& scalar_scanner();
// The best SIMD scanner for this CPU (AVX2, else SSE4.2), or the scalar one.
const Scanner& simd_scanner();

}  // namespace pounce::http
