// Fuzzes the request-head parser:
// - the scalar and the SIMD entry points, and the parser pinned to each
//   instruction set this CPU has, agree on every input (status, error and
//   every view), with the default limits and with small ones;
// - the scanner kernels of every instruction set this CPU has agree with
//   the scalar ones, and the block classifiers with the byte tables;
// - a Complete head: views lie inside the input, shorter prefixes are
//   Incomplete, the path normalizes to something stable;
// - the bytes after a Complete head go through the body decoder, in one
//   piece and in three, with the same outcome.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "fuzz_support.h"
#include "http/char_class.h"
#include "http/head_parser.h"
#include "http/path_normalize.h"

namespace {

using namespace pounce::http;
using pounce::http::fuzz::BodyOutcome;
using pounce::http::fuzz::decode_pieces;

bool same(std::string_view a, std::string_view b) {
  return a.data() == b.data() && a.size() == b.size();
}

void check_same(const ParseResult& ra, const RequestHead& a,
                const ParseResult& rb, const RequestHead& b) {
  POUNCE_FUZZ_CHECK(ra.status == rb.status);
  POUNCE_FUZZ_CHECK(ra.error == rb.error);
  if (ra.status != ParseStatus::Complete) return;
  POUNCE_FUZZ_CHECK(same(a.method, b.method));
  POUNCE_FUZZ_CHECK(same(a.target, b.target));
  POUNCE_FUZZ_CHECK(same(a.path, b.path));
  POUNCE_FUZZ_CHECK(same(a.query, b.query));
  POUNCE_FUZZ_CHECK(same(a.host, b.host));
  POUNCE_FUZZ_CHECK(a.version_minor == b.version_minor);
  POUNCE_FUZZ_CHECK(a.body_kind == b.body_kind);
  POUNCE_FUZZ_CHECK(a.content_length == b.content_length);
  POUNCE_FUZZ_CHECK(a.keep_alive == b.keep_alive);
  POUNCE_FUZZ_CHECK(a.upgrade_websocket == b.upgrade_websocket);
  POUNCE_FUZZ_CHECK(a.expect_continue == b.expect_continue);
  POUNCE_FUZZ_CHECK(a.head_size == b.head_size);
  POUNCE_FUZZ_CHECK(a.header_count == b.header_count);
  for (size_t i = 0; i < a.header_count; ++i) {
    const pounce_header_t& x = a.headers[i];
    const pounce_header_t& y = b.headers[i];
    POUNCE_FUZZ_CHECK(x.name.data == y.name.data && x.name.len == y.name.len);
    POUNCE_FUZZ_CHECK(x.value.data == y.value.data &&
                      x.value.len == y.value.len);
  }
}

bool inside(std::string_view v, const char* base, size_t len) {
  return v.data() >= base && v.data() + v.size() <= base + len;
}

void check_kernels(const char* p, size_t n) {
  using ScanFn = size_t (*)(const char*, size_t);
  struct Kernels {
    ScanFn value, target, token, host;
  };
  const Kernels scalar{detail::scan_value_scalar, detail::scan_target_scalar,
                       detail::scan_token_scalar, detail::scan_host_scalar};
#if POUNCE_X86_SIMD
  std::vector<Kernels> simd;
  if (__builtin_cpu_supports("sse4.2")) {
    simd.push_back({detail::scan_value_sse42, detail::scan_target_sse42,
                    detail::scan_token_sse42, detail::scan_host_sse42});
  }
  if (__builtin_cpu_supports("avx2")) {
    simd.push_back({detail::scan_value_avx2, detail::scan_target_avx2,
                    detail::scan_token_avx2, detail::scan_host_avx2});
  }
  for (size_t off : {size_t{0}, size_t{1}, n / 2}) {
    if (off > n) continue;
    const char* q = p + off;
    const size_t m = n - off;
    for (const Kernels& k : simd) {
      // The SIMD value kernels may stop early at an HTAB; the scalar one
      // does not.
      size_t v = k.value(q, m);
      while (v < m && q[v] == '\t') v += 1 + k.value(q + v + 1, m - v - 1);
      POUNCE_FUZZ_CHECK(v == scalar.value(q, m));
      POUNCE_FUZZ_CHECK(k.target(q, m) == scalar.target(q, m));
      POUNCE_FUZZ_CHECK(k.token(q, m) == scalar.token(q, m));
      POUNCE_FUZZ_CHECK(k.host(q, m) == scalar.host(q, m));
    }
  }
  // The 64-byte block classifiers against the byte tables.
  for (size_t off = 0; off + 64 <= n; off += 64) {
    uint64_t not_token = 0, value_stops = 0;
    for (int i = 0; i < 64; ++i) {
      const auto c = static_cast<unsigned char>(p[off + i]);
      if (!cc::is_tchar(static_cast<char>(c))) not_token |= uint64_t{1} << i;
      if (c < 0x20 || c == 0x7F) value_stops |= uint64_t{1} << i;
    }
    if (__builtin_cpu_supports("sse4.2")) {
      const detail::BlockMasks m = detail::classify_block_sse42(p + off);
      POUNCE_FUZZ_CHECK(m.not_token == not_token);
      POUNCE_FUZZ_CHECK(m.value_stops == value_stops);
    }
    if (__builtin_cpu_supports("avx2")) {
      const detail::BlockMasks m = detail::classify_block_avx2(p + off);
      POUNCE_FUZZ_CHECK(m.not_token == not_token);
      POUNCE_FUZZ_CHECK(m.value_stops == value_stops);
    }
  }
#else
  (void)scalar;
  (void)p;
  (void)n;
#endif
}

ParseResult parse_copy(const char* p, size_t n, const HeadLimits& limits,
                       pounce_header_t* storage, RequestHead* head) {
  auto copy = std::make_unique<char[]>(n);
  if (n != 0) std::memcpy(copy.get(), p, n);
  return parse_request_head_simd(copy.get(), n, limits, storage, head);
}

void check_body(const RequestHead& head, const char* rest, size_t len) {
  pounce_header_t t1[8], t2[8];
  BodyLimits limits;
  limits.max_body_size = 4096;
  limits.max_trailer_size = 512;
  limits.max_trailers = 8;
  limits.max_chunk_line = 128;
  BodyDecoder one, three;
  if (head.body_kind == BodyKind::Chunked) {
    one.start_chunked(limits, t1);
    three.start_chunked(limits, t2);
  } else {
    one.start_content_length(head.content_length);
    three.start_content_length(head.content_length);
  }
  const BodyOutcome a = decode_pieces(&one, rest, len, {}, false);
  const BodyOutcome b =
      decode_pieces(&three, rest, len, {len / 3, len / 3 + len / 5}, true);
  POUNCE_FUZZ_CHECK(a == b);
}

void check_path(std::string_view path) {
  std::vector<char> out(path.size() + 1);
  size_t len = 0;
  if (normalize_path(path, out.data(), &len) != PathStatus::Ok) return;
  POUNCE_FUZZ_CHECK(len >= 1 && len <= path.size() && out[0] == '/');
  const std::string once(out.data(), len);
  POUNCE_FUZZ_CHECK(once.find("/./") == std::string::npos);
  POUNCE_FUZZ_CHECK(once.find("/../") == std::string::npos);
  std::vector<char> again(len + 1);
  size_t len2 = 0;
  POUNCE_FUZZ_CHECK(normalize_path(once, again.data(), &len2) ==
                    PathStatus::Ok);
  POUNCE_FUZZ_CHECK(std::string(again.data(), len2) == once);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  check_kernels(p, size);

  const HeadLimits small{.max_head_size = 200, .max_headers = 4};
  for (const HeadLimits& limits : {HeadLimits{}, small}) {
    pounce_header_t sa[100], sb[100];
    RequestHead a, b;
    const ParseResult ra = parse_request_head_scalar(p, size, limits, sa, &a);
    const ParseResult rb = parse_request_head_simd(p, size, limits, sb, &b);
    check_same(ra, a, rb, b);
#if POUNCE_X86_SIMD
    // The parser pinned to each instruction set this CPU has.
    if (__builtin_cpu_supports("sse4.2")) {
      const ParseResult rc =
          detail::parse_request_head_sse42(p, size, limits, sb, &b);
      check_same(ra, a, rc, b);
    }
    if (__builtin_cpu_supports("avx2")) {
      const ParseResult rc =
          detail::parse_request_head_avx2(p, size, limits, sb, &b);
      check_same(ra, a, rc, b);
    }
#endif
    POUNCE_FUZZ_CHECK((ra.status == ParseStatus::Error) ==
                      (ra.error != ErrorCode::None));
    if (ra.status != ParseStatus::Complete) continue;

    POUNCE_FUZZ_CHECK(a.head_size >= 4 && a.head_size <= size);
    POUNCE_FUZZ_CHECK(a.header_count <= limits.max_headers);
    POUNCE_FUZZ_CHECK(inside(a.method, p, a.head_size));
    POUNCE_FUZZ_CHECK(inside(a.target, p, a.head_size));
    POUNCE_FUZZ_CHECK(a.path == "/" || inside(a.path, p, a.head_size));
    for (size_t i = 0; i < a.header_count; ++i) {
      const pounce_header_t& h = a.headers[i];
      POUNCE_FUZZ_CHECK(inside({h.name.data, h.name.len}, p, a.head_size));
      POUNCE_FUZZ_CHECK(inside({h.value.data, h.value.len}, p, a.head_size));
    }
    // A prefix of a complete head is Incomplete, never an error.
    for (size_t n : {a.head_size - 1, a.head_size / 2}) {
      pounce_header_t sc[100];
      RequestHead c;
      POUNCE_FUZZ_CHECK(parse_copy(p, n, limits, sc, &c).status ==
                        ParseStatus::Incomplete);
    }
    if (!a.target.empty() && a.target[0] == '/') check_path(a.path);
    if (a.body_kind != BodyKind::None) {
      check_body(a, p + a.head_size, size - a.head_size);
    }
  }
  return 0;
}
