// The scanners of scanner.h: out-of-line copies of the kernels in
// char_class.h, and the run-time choice of the SIMD ones.
#include "http/scanner.h"

#include "http/char_class.h"

namespace pounce::http {
namespace {

size_t value_scalar(const char* p, size_t len) {
  return detail::scan_value_scalar(p, len);
}
size_t target_scalar(const char* p, size_t len) {
  return detail::scan_target_scalar(p, len);
}

#if POUNCE_X86_SIMD
[[gnu::target("sse4.2")]] size_t value_sse42(const char* p, size_t len) {
  return detail::scan_value_sse42(p, len);
}
[[gnu::target("sse4.2")]] size_t target_sse42(const char* p, size_t len) {
  return detail::scan_target_sse42(p, len);
}
[[gnu::target("avx2")]] size_t value_avx2(const char* p, size_t len) {
  return detail::scan_value_avx2(p, len);
}
[[gnu::target("avx2")]] size_t target_avx2(const char* p, size_t len) {
  return detail::scan_target_avx2(p, len);
}
#endif

}  // namespace

namespace detail {

SimdLevel simd_level() {
#if POUNCE_X86_SIMD
  static const SimdLevel level = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) return SimdLevel::Avx2;
    if (__builtin_cpu_supports("sse4.2")) return SimdLevel::Sse42;
    return SimdLevel::Scalar;
  }();
  return level;
#else
  return SimdLevel::Scalar;
#endif
}

}  // namespace detail

const Scanner& scalar_scanner() {
  static constexpr Scanner kScalar{"scalar", value_scalar, target_scalar};
  return kScalar;
}

const Scanner& simd_scanner() {
#if POUNCE_X86_SIMD
  static constexpr Scanner kAvx2{"avx2", value_avx2, target_avx2};
  static constexpr Scanner kSse42{"sse4.2", value_sse42, target_sse42};
  switch (detail::simd_level()) {
    case detail::SimdLevel::Avx2:
      return kAvx2;
    case detail::SimdLevel::Sse42:
      return kSse42;
    case detail::SimdLevel::Scalar:
      break;
  }
#endif
  return scalar_scanner();
}

}  // namespace pounce::http
