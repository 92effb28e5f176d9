// When a response is compressed at all (ARCHITECTURE.md §5 "When to skip
// it"), and the ETag rule that goes with compressing (§4: a compressed
// response's ETag is made weak). Pure; allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/byte_buffer.h"

namespace pounce::pipeline {

// What the pipeline knows about a response when its head is about to go out.
struct ResponseFacts {
  // The request's method does not matter: a HEAD response carries the
  // header fields of the GET's (RFC 9110 §9.3.2), compressed or not.
  int status = 200;
  bool has_content_encoding = false;  // the plugin set Content-Encoding
  // The Content-Type value as sent (parameters allowed); empty when absent.
  std::string_view content_type;
  // The body length when known (sync body, or a declared stream length);
  // kUnknownLength for a stream without one.
  static constexpr uint64_t kUnknownLength = UINT64_MAX;
  uint64_t content_length = kUnknownLength;
};

enum class CompressDecision : uint8_t {
  Compress,         // eligible: negotiate Accept-Encoding
  SkipStatus,       // 1xx, 204, 205, 206
  SkipEncoded,      // Content-Encoding already set
  SkipContentType,  // already compressed, unknown binary, or no type
  SkipSmall,        // known length below --compression-min-size
  // A 304 whose 200 would be compressed: no body to compress, but the
  // header fields of that 200 (RFC 9110 §15.4.5): Vary: Accept-Encoding,
  // and the weak ETag when Accept-Encoding picks a coding.
  NotModified,
};

// Checked in the order of the enum. A stream of unknown length is eligible
// whatever its size. A 304 is decided as the 200 it stands for, whose
// length it does not know (so taken as large enough), from the headers the
// plugin gave it: without a Content-Type, like that 200, it is not
// compressible. `min_size` is --compression-min-size.
CompressDecision decide_compression(const ResponseFacts& r, uint64_t min_size);

// Whether the response carries "Vary: Accept-Encoding": when the coding was
// chosen from Accept-Encoding, or (a 304) would have been.
constexpr bool varies_on_accept_encoding(CompressDecision d) {
  return d == CompressDecision::Compress || d == CompressDecision::NotModified;
}

// Whether a body of this Content-Type is worth compressing. Case-
// insensitive, parameters ignored ("Text/HTML; charset=utf-8" is text/html).
// Denies: no type; image/* but image/svg+xml; video/*; audio/*; font/woff
// and woff2; archives and compressed data (zip, gzip, zstd, bzip2, xz,
// 7z, rar, br, jar, apk, the OOXML/ODF zip containers, +zip/+gzip/+zstd
// suffixes); application/pdf; application/octet-stream; multipart/byteranges.
bool is_compressible_type(std::string_view content_type);

// An ETag for the compressed representation: a strong tag "abc" becomes the
// weak W/"abc" (RFC 9110 §8.8.3: the bytes differ from the identity
// representation's). A weak tag stays as it is. Anything else also gets the
// W/ prefix: we do not validate what the plugin sent.
bool is_weak_etag(std::string_view etag);
void append_weak_etag(std::string_view etag, ByteBuffer& out);

}  // namespace pounce::pipeline
