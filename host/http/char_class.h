// Byte classes of RFC 9110, RFC 9112 and RFC 3986 as 256-entry tables, and
// the internal entry points of the scanners (scanner.h is the public face).
//
// One table with a bit per class: a class test is one load and one AND, with
// no branch on the byte value, which is what the hot loops of the head parser
// want.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "http/head_parser.h"

#if defined(__x86_64__) || defined(__i386__)
#define POUNCE_X86_SIMD 1
#include <immintrin.h>
#else
#define POUNCE_X86_SIMD 0
#endif

namespace pounce::http {
namespace cc {

enum : uint8_t {
  kTchar = 1 << 0,       // token (RFC 9110 §5.6.2)
  kFieldValue = 1 << 1,  // field-vchar / obs-text / SP / HTAB (§5.5)
  kTarget = 1 << 2,      // what a request-target may hold: 0x21-0x7E
  kUnreserved = 1 << 3,  // ALPHA / DIGIT / "-" / "." / "_" / "~" (3986 §2.3)
  kHost = 1 << 4,        // uri-host [":" port] characters (3986 §3.2.2)
  kQdtext = 1 << 5,      // qdtext of a quoted-string (9110 §5.6.4)
  kQuotedPair = 1 << 6,  // what may follow "\" in a quoted-string
};

constexpr bool in_set(unsigned c, const char* set) {
  for (; *set != '\0'; ++set) {
    if (c == static_cast<unsigned char>(*set)) return true;
  }
  return false;
}

constexpr std::array<uint8_t, 256> make_class_table() {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9');
    const bool vchar = c >= 0x21 && c <= 0x7E;
    const bool obs_text = c >= 0x80;
    const bool unreserved = alnum || in_set(c, "-._~");
    uint8_t bits = 0;
    if (alnum || in_set(c, "!#$%&'*+-.^_`|~")) bits |= kTchar;
    if (vchar || obs_text || c == ' ' || c == '\t') bits |= kFieldValue;
    if (vchar) bits |= kTarget;
    if (unreserved) bits |= kUnreserved;
    // unreserved / pct-encoded / sub-delims, ":" before the port, "[" "]"
    // around an IP-literal. No "@" (userinfo), "/", "?", "#" or "\".
    if (unreserved || in_set(c, "%!$&'()*+,;=:[]")) bits |= kHost;
    if (c == '\t' || c == ' ' || c == 0x21 || (c >= 0x23 && c <= 0x5B) ||
        (c >= 0x5D && c <= 0x7E) || obs_text) {
      bits |= kQdtext;
    }
    if (c == '\t' || c == ' ' || vchar || obs_text) bits |= kQuotedPair;
    t[c] = bits;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kClass = make_class_table();

// Hex digit values, 0xFF for anything else.
constexpr std::array<uint8_t, 256> make_hex_table() {
  std::array<uint8_t, 256> t{};
  for (unsigned c = 0; c < 256; ++c) {
    t[c] = c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : 0xFF;
  }
  return t;
}

inline constexpr std::array<uint8_t, 256> kHexValue = make_hex_table();

inline bool has(char c, uint8_t bits) {
  return (kClass[static_cast<unsigned char>(c)] & bits) != 0;
}
inline bool is_tchar(char c) {
  return has(c, kTchar);
}
inline bool is_ows(char c) {
  return c == ' ' || c == '\t';
}
inline unsigned hex_value(char c) {
  return kHexValue[static_cast<unsigned char>(c)];
}

}  // namespace cc

// The scanner kernels behind scanner.h, inline so that the head parser's
// per-ISA instantiations (head_parser.cpp) compile them into one function
// with no call per field. The SIMD kernels carry target attributes: call
// them only from code with the same target, on a CPU that has it
// (simd_level()).
//
// Each returns the offset of the first byte of p[0..len) outside its class,
// or len:
//   scan_value:  field-value bytes (HTAB, SP-"~", 0x80-0xFF; scanner.h)
//   scan_target: request-target bytes (0x21-0x7E; scanner.h)
//   scan_token:  tchar, for methods and field names
//   scan_host:   uri-host [":" port] bytes, for the Host value
namespace detail {

template <uint8_t kAllowed>
inline size_t scan_scalar(const char* p, size_t len) {
  // Four independent table loads per iteration.
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    if (!cc::has(p[i], kAllowed)) return i;
    if (!cc::has(p[i + 1], kAllowed)) return i + 1;
    if (!cc::has(p[i + 2], kAllowed)) return i + 2;
    if (!cc::has(p[i + 3], kAllowed)) return i + 3;
  }
  for (; i < len; ++i) {
    if (!cc::has(p[i], kAllowed)) return i;
  }
  return len;
}

inline size_t scan_value_scalar(const char* p, size_t len) {
  return scan_scalar<cc::kFieldValue>(p, len);
}
inline size_t scan_target_scalar(const char* p, size_t len) {
  return scan_scalar<cc::kTarget>(p, len);
}
inline size_t scan_token_scalar(const char* p, size_t len) {
  return scan_scalar<cc::kTchar>(p, len);
}
inline size_t scan_host_scalar(const char* p, size_t len) {
  return scan_scalar<cc::kHost>(p, len);
}

enum class SimdLevel : uint8_t { Scalar, Sse42, Avx2 };
// The best level this CPU supports, resolved once (scanner.cpp).
SimdLevel simd_level();

#if POUNCE_X86_SIMD

// A set of bytes within 0x20-0x7F as two 16-entry nibble tables for
// PSHUFB: b is in the set iff lo[b & 15] & hi[b >> 4] != 0. Each high
// nibble 2..7 has a bit in `hi`; lo[n] has the bits of the high nibbles
// that form a member with low nibble n. Bytes >= 0x80 have no bit in `hi`.
struct NibbleSet {
  alignas(16) std::array<uint8_t, 16> lo;
  alignas(16) std::array<uint8_t, 16> hi;
};

constexpr NibbleSet make_nibble_set(uint8_t class_bit) {
  NibbleSet t{};
  for (unsigned h = 2; h < 8; ++h)
    t.hi[h] = static_cast<uint8_t>(1u << (h - 2));
  for (unsigned c = 0; c < 0x80; ++c) {
    if (cc::kClass[c] & class_bit) t.lo[c & 15] |= t.hi[c >> 4];
  }
  return t;
}

constexpr bool nibble_set_is_exact(const NibbleSet& t, uint8_t class_bit) {
  for (unsigned c = 0; c < 256; ++c) {
    const bool simd = c < 0x80 && (t.lo[c & 15] & t.hi[c >> 4]) != 0;
    if (simd != ((cc::kClass[c] & class_bit) != 0)) return false;
  }
  return true;
}

inline constexpr NibbleSet kTokenSet = make_nibble_set(cc::kTchar);
inline constexpr NibbleSet kHostSet = make_nibble_set(cc::kHost);
static_assert(nibble_set_is_exact(kTokenSet, cc::kTchar));
static_assert(nibble_set_is_exact(kHostSet, cc::kHost));

[[gnu::target("sse4.2")]] inline unsigned not_in_set(__m128i b,
                                                     const NibbleSet& set) {
  const __m128i k0f = _mm_set1_epi8(0x0F);
  const __m128i lo = _mm_shuffle_epi8(
      _mm_load_si128(reinterpret_cast<const __m128i*>(set.lo.data())),
      _mm_and_si128(b, k0f));
  const __m128i hi = _mm_shuffle_epi8(
      _mm_load_si128(reinterpret_cast<const __m128i*>(set.hi.data())),
      _mm_and_si128(_mm_srli_epi16(b, 4), k0f));
  return static_cast<unsigned>(_mm_movemask_epi8(
      _mm_cmpeq_epi8(_mm_and_si128(lo, hi), _mm_setzero_si128())));
}

[[gnu::target("avx2")]] inline unsigned not_in_set(__m256i b,
                                                   const NibbleSet& set) {
  const __m256i k0f = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_shuffle_epi8(
      _mm256_broadcastsi128_si256(
          _mm_load_si128(reinterpret_cast<const __m128i*>(set.lo.data()))),
      _mm256_and_si256(b, k0f));
  const __m256i hi = _mm256_shuffle_epi8(
      _mm256_broadcastsi128_si256(
          _mm_load_si128(reinterpret_cast<const __m128i*>(set.hi.data()))),
      _mm256_and_si256(_mm256_srli_epi16(b, 4), k0f));
  return static_cast<unsigned>(_mm256_movemask_epi8(
      _mm256_cmpeq_epi8(_mm256_and_si256(lo, hi), _mm256_setzero_si256())));
}

// Bit i set when byte i may end the run. Field value: any CTL (b <= 0x1F
// unsigned) or DEL. HTAB is allowed in a value but costs two more
// operations per block to exclude; it is rare, so the scan loops below skip
// it when it is the byte they stop at (first_value_stop).
[[gnu::target("sse4.2")]] inline unsigned value_stops(__m128i b) {
  const __m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(b, _mm_set1_epi8(0x1F)), b);
  return static_cast<unsigned>(_mm_movemask_epi8(
      _mm_or_si128(ctl, _mm_cmpeq_epi8(b, _mm_set1_epi8(0x7F)))));
}
// Target: anything but 0x21-0x7E. As signed bytes 0x80-0xFF are negative,
// so two signed compares cover the range.
[[gnu::target("sse4.2")]] inline unsigned target_stops(__m128i b) {
  const __m128i good = _mm_and_si128(_mm_cmpgt_epi8(b, _mm_set1_epi8(0x20)),
                                     _mm_cmpgt_epi8(_mm_set1_epi8(0x7F), b));
  return ~static_cast<unsigned>(_mm_movemask_epi8(good)) & 0xFFFFu;
}
[[gnu::target("sse4.2")]] inline unsigned token_stops(__m128i b) {
  return not_in_set(b, kTokenSet);
}
[[gnu::target("sse4.2")]] inline unsigned host_stops(__m128i b) {
  return not_in_set(b, kHostSet);
}

[[gnu::target("avx2")]] inline unsigned value_stops(__m256i b) {
  const __m256i ctl =
      _mm256_cmpeq_epi8(_mm256_min_epu8(b, _mm256_set1_epi8(0x1F)), b);
  return static_cast<unsigned>(_mm256_movemask_epi8(
      _mm256_or_si256(ctl, _mm256_cmpeq_epi8(b, _mm256_set1_epi8(0x7F)))));
}
[[gnu::target("avx2")]] inline unsigned target_stops(__m256i b) {
  const __m256i good =
      _mm256_and_si256(_mm256_cmpgt_epi8(b, _mm256_set1_epi8(0x20)),
                       _mm256_cmpgt_epi8(_mm256_set1_epi8(0x7F), b));
  return ~static_cast<unsigned>(_mm256_movemask_epi8(good));
}
[[gnu::target("avx2")]] inline unsigned token_stops(__m256i b) {
  return not_in_set(b, kTokenSet);
}
[[gnu::target("avx2")]] inline unsigned host_stops(__m256i b) {
  return not_in_set(b, kHostSet);
}

// The first byte of `block` flagged in `mask` that is not an HTAB, or -1.
inline int first_value_stop(const char* block, unsigned mask) {
  do {
    const int i = __builtin_ctz(mask);
    if (block[i] != '\t') return i;
    mask &= mask - 1;
  } while (mask != 0);
  return -1;
}

// 16 bytes at a time, then the scalar kernel for the last 0-15 bytes.
// Loads never reach past p + len.
#define POUNCE_SSE42_SCAN(kind, allowed)                                     \
  [[gnu::target("sse4.2")]] inline size_t scan_##kind##_sse42(const char* p, \
                                                              size_t len) {  \
    size_t i = 0;                                                            \
    for (; i + 16 <= len; i += 16) {                                         \
      const unsigned m = kind##_stops(                                       \
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)));         \
      if (m != 0) {                                                          \
        POUNCE_FIRST_STOP_##kind(p + i, m);                                  \
      }                                                                      \
    }                                                                        \
    return i + scan_scalar<allowed>(p + i, len - i);                         \
  }
// 32 bytes at a time, then at most one 16-byte step and the scalar tail.
#define POUNCE_AVX2_SCAN(kind)                                            \
  [[gnu::target("avx2")]] inline size_t scan_##kind##_avx2(const char* p, \
                                                           size_t len) {  \
    size_t i = 0;                                                         \
    for (; i + 32 <= len; i += 32) {                                      \
      const unsigned m = kind##_stops(                                    \
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));   \
      if (m != 0) {                                                       \
        POUNCE_FIRST_STOP_##kind(p + i, m);                               \
      }                                                                   \
    }                                                                     \
    return i + scan_##kind##_sse42(p + i, len - i);                       \
  }
#define POUNCE_FIRST_STOP_value(block, m)                       \
  if (const int stop = first_value_stop(block, m); stop >= 0) { \
    return i + static_cast<size_t>(stop);                       \
  }
#define POUNCE_FIRST_STOP_target(block, m) \
  return i + static_cast<size_t>(__builtin_ctz(m))
#define POUNCE_FIRST_STOP_token(block, m) \
  return i + static_cast<size_t>(__builtin_ctz(m))
#define POUNCE_FIRST_STOP_host(block, m) \
  return i + static_cast<size_t>(__builtin_ctz(m))

POUNCE_SSE42_SCAN(value, cc::kFieldValue)
POUNCE_SSE42_SCAN(target, cc::kTarget)
POUNCE_SSE42_SCAN(token, cc::kTchar)
POUNCE_SSE42_SCAN(host, cc::kHost)
POUNCE_AVX2_SCAN(value)
POUNCE_AVX2_SCAN(target)
POUNCE_AVX2_SCAN(token)
POUNCE_AVX2_SCAN(host)

// Masks of a 64-byte block, bit i for byte i, for the head parser's
// block cursor (head_parser.cpp): it classifies the head once, in blocks
// whose addresses do not depend on the parse, and then finds the end of a
// name or a value with a shift and a count of trailing zeros. A scan per
// field instead would chain load -> compare -> movemask -> tzcnt -> next
// load for every line, which the CPU cannot overlap.
struct BlockMasks {
  uint64_t not_token;    // not a tchar
  uint64_t value_stops;  // CTL (HTAB included: the caller skips it) or DEL
};

[[gnu::target("sse4.2")]] inline BlockMasks classify_block_sse42(
    const char* p) {
  BlockMasks m{0, 0};
  for (int k = 0; k < 4; ++k) {
    const __m128i b =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * k));
    m.not_token |= static_cast<uint64_t>(token_stops(b)) << (16 * k);
    m.value_stops |= static_cast<uint64_t>(value_stops(b)) << (16 * k);
  }
  return m;
}

[[gnu::target("avx2")]] inline BlockMasks classify_block_avx2(const char* p) {
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i hi =
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32));
  return {token_stops(lo) | static_cast<uint64_t>(token_stops(hi)) << 32,
          value_stops(lo) | static_cast<uint64_t>(value_stops(hi)) << 32};
}

#undef POUNCE_FIRST_STOP_value
#undef POUNCE_FIRST_STOP_target
#undef POUNCE_FIRST_STOP_token
#undef POUNCE_FIRST_STOP_host
#undef POUNCE_SSE42_SCAN
#undef POUNCE_AVX2_SCAN

// The offset of the first byte c in p[0..len), or len: memchr without the
// call, for the '?' of a target.
[[gnu::target("sse4.2")]] inline size_t find_byte_sse42(const char* p,
                                                        size_t len, char c) {
  const __m128i needle = _mm_set1_epi8(c);
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), needle)));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  for (; i < len; ++i) {
    if (p[i] == c) return i;
  }
  return len;
}
[[gnu::target("avx2")]] inline size_t find_byte_avx2(const char* p, size_t len,
                                                     char c) {
  const __m256i needle = _mm256_set1_epi8(c);
  size_t i = 0;
  for (; i + 32 <= len; i += 32) {
    const unsigned m =
        static_cast<unsigned>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)),
            needle)));
    if (m != 0) return i + static_cast<size_t>(__builtin_ctz(m));
  }
  return i + find_byte_sse42(p + i, len - i, c);
}

// The head parser pinned to one instruction set (head_parser.cpp), so that
// tests and fuzzers can check every variant on a CPU whose best one is
// another. Call one only when simd_level() is at least its level.
ParseResult parse_request_head_sse42(const char* data, size_t len,
                                     const HeadLimits& limits,
                                     pounce_header_t* header_storage,
                                     RequestHead* out);
ParseResult parse_request_head_avx2(const char* data, size_t len,
                                    const HeadLimits& limits,
                                    pounce_header_t* header_storage,
                                    RequestHead* out);

#endif  // POUNCE_X86_SIMD

}  // namespace detail
}  // namespace pounce::http
