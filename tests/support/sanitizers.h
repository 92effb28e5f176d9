// Which sanitizer the test binary (and so the pounce-host it starts, built
// with the same flags) runs under: memory figures and skip decisions depend
// on it. ASan's and TSan's shadow memory count in RSS, and neither runtime
// can run under an address-space limit.
#pragma once

namespace pounce::test {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
#else
inline constexpr bool kAsan = false;
#endif

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

}  // namespace pounce::test
