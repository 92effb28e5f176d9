#include "ws/utf8_validator.h"

#include <cstring>

namespace pounce::ws {
namespace {

constexpr uint64_t kHighBits = 0x8080808080808080ull;

// Bytes before the first one >= 0x80, looked at 16 bytes per step. Most
// text on the wire is ASCII, so this loop is where validation spends its
// time.
inline size_t ascii_prefix(const uint8_t* p, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint64_t a, b;
    memcpy(&a, p + i, 8);
    memcpy(&b, p + i + 8, 8);
    if (((a | b) & kHighBits) != 0) break;
  }
  while (i < n && p[i] < 0x80) ++i;
  return i;
}

}  // namespace

bool Utf8Validator::feed(const uint8_t* p, size_t n) {
  if (failed_) return false;
  if (need_ == 0) {
    const size_t skip = ascii_prefix(p, n);
    p += skip;
    n -= skip;
    if (n == 0) return true;
  }
  return feed_slow(p, n);
}

bool Utf8Validator::feed_slow(const uint8_t* p, size_t n) {
  uint8_t need = need_, lo = lo_, hi = hi_;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = p[i];
    if (need != 0) {
      if (b < lo || b > hi) {
        failed_ = true;
        return false;
      }
      --need;
      lo = 0x80;
      hi = 0xBF;
      continue;
    }
    if (b < 0x80) {
      // Back in ASCII: skip the run without the per-byte state machine.
      i += ascii_prefix(p + i + 1, n - i - 1);
      continue;
    }
    // RFC 3629 §4: the first continuation byte of E0, ED, F0 and F4 has a
    // narrower range; that is what excludes overlongs, surrogates and
    // code points above U+10FFFF.
    if (b >= 0xC2 && b <= 0xDF) {
      need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
      need = 2;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      need = 3;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      failed_ = true;  // 80-BF (stray continuation), C0, C1, F5-FF
      return false;
    }
  }
  need_ = need;
  lo_ = lo;
  hi_ = hi;
  return true;
}

bool is_valid_utf8(std::string_view s) {
  Utf8Validator v;
  return v.feed(s) && v.complete();
}

}  // namespace pounce::ws
