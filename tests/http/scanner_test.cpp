// The scanners: every variant this CPU runs gives the scalar answer for
// every byte value at every position of buffers of every length up to a few
// SIMD blocks.
#include "http/scanner.h"

#include <gtest/gtest.h>

#include <memory>
#include <string_view>
#include <vector>

#include "http/char_class.h"

namespace pounce::http {
namespace {

using ScanFn = size_t (*)(const char*, size_t);

// The public scanners and every kernel the head parser compiles in.
struct Variant {
  const char* name;
  ScanFn value;
  ScanFn target;
  ScanFn token;  // nullptr: not part of this scanner
  bool supported;
};

std::vector<Variant> variants() {
  std::vector<Variant> v = {
      {"scalar", scalar_scanner().scan_value, scalar_scanner().scan_target,
       nullptr, true},
      {"simd", simd_scanner().scan_value, simd_scanner().scan_target, nullptr,
       true},
      {"scalar kernels", detail::scan_value_scalar, detail::scan_target_scalar,
       detail::scan_token_scalar, true},
  };
#if POUNCE_X86_SIMD
  v.push_back({"sse4.2 kernels", detail::scan_value_sse42,
               detail::scan_target_sse42, detail::scan_token_sse42,
               __builtin_cpu_supports("sse4.2") != 0});
  v.push_back({"avx2 kernels", detail::scan_value_avx2,
               detail::scan_target_avx2, detail::scan_token_avx2,
               __builtin_cpu_supports("avx2") != 0});
#endif
  return v;
}

bool value_ok(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}
bool target_ok(unsigned char c) {
  return c > 0x20 && c < 0x7F;
}
// RFC 9110 §5.6.2, spelled out independently of char_class.h.
bool token_ok(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

TEST(Scanner, EveryVariantFindsTheFirstBadByte) {
  for (const Variant& v : variants()) {
    if (!v.supported) continue;
    SCOPED_TRACE(v.name);
    for (size_t len = 0; len <= 100; ++len) {
      // Exact-size buffers: a read past `len` is an ASan error.
      auto buf = std::make_unique<char[]>(len);
      for (size_t pos = 0; pos < len; ++pos) {
        std::fill(buf.get(), buf.get() + len, 'a');
        for (int b = 0; b < 256; ++b) {
          const auto c = static_cast<unsigned char>(b);
          buf[pos] = static_cast<char>(c);
          ASSERT_EQ(v.value(buf.get(), len), value_ok(c) ? len : pos)
              << "len " << len << " pos " << pos << " byte " << b;
          ASSERT_EQ(v.target(buf.get(), len), target_ok(c) ? len : pos)
              << "len " << len << " pos " << pos << " byte " << b;
          if (v.token != nullptr) {
            ASSERT_EQ(v.token(buf.get(), len), token_ok(c) ? len : pos)
                << "len " << len << " pos " << pos << " byte " << b;
          }
        }
      }
      std::fill(buf.get(), buf.get() + len, 'a');
      ASSERT_EQ(v.value(buf.get(), len), len);
      ASSERT_EQ(v.target(buf.get(), len), len);
    }
  }
}

TEST(Scanner, FindsTheFirstOfSeveralBadBytes) {
  for (const Variant& v : variants()) {
    if (!v.supported) continue;
    char buf[96];
    std::fill(buf, buf + sizeof buf, 'x');
    buf[70] = '\r';
    buf[40] = '\x7f';
    EXPECT_EQ(v.value(buf, sizeof buf), 40u) << v.name;
    buf[33] = ' ';
    EXPECT_EQ(v.target(buf, sizeof buf), 33u) << v.name;
    EXPECT_EQ(v.value(buf, sizeof buf), 40u) << v.name;
  }
}

TEST(Scanner, NamesItsVariants) {
  EXPECT_STREQ(scalar_scanner().name, "scalar");
  // The best path the CPU itself reports, not whatever the dispatcher chose.
  std::string best = "scalar";
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    best = "avx2";
  } else if (__builtin_cpu_supports("sse4.2")) {
    best = "sse4.2";
  }
#endif
  EXPECT_EQ(std::string(simd_scanner().name), best);
}

}  // namespace
}  // namespace pounce::http
