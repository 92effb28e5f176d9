// The HTTP/1.1 request-head parser: a pure function over one contiguous
// buffer. It returns views into the caller's bytes and allocates nothing.
//
// Strictness follows ARCHITECTURE.md §4: every smuggling vector in the error
// table is rejected with its ErrorCode; an incomplete head is not an error,
// the caller calls again with more bytes (like picohttpparser's -2).
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/error_code.h"

namespace pounce::http {

struct HeadLimits {
  // Request line + header fields + the final empty line, in bytes
  // (--max-header-size). Leading empty lines do not count.
  size_t max_head_size = 16384;
  // Number of header fields (--max-headers).
  size_t max_headers = 100;
};

enum class BodyKind : uint8_t {
  None,           // no Content-Length, no Transfer-Encoding: length 0
  ContentLength,  // content_length bytes follow
  Chunked,        // Transfer-Encoding: chunked
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // the raw request-target
  // The target split at the first '?'. For absolute-form targets
  // ("http://host/p?q") `path` is the path part ("/p"), or "/" when empty.
  // For asterisk-form ("*") it is "*".
  std::string_view path;
  std::string_view query;     // without the '?'; empty when absent
  uint8_t version_minor = 1;  // HTTP/1.x with x > 1 is reported as 1

  const pounce_header_t* headers = nullptr;  // the caller's storage
  size_t header_count = 0;

  // Derived facts the connection needs.
  BodyKind body_kind = BodyKind::None;
  uint64_t content_length = 0;  // valid when body_kind == ContentLength
  // After this request the connection may serve another: HTTP/1.1 without
  // "Connection: close", or HTTP/1.0 with "Connection: keep-alive".
  bool keep_alive = true;
  // Upgrade lists "websocket" (the handshake checks Connection etc.).
  bool upgrade_websocket = false;
  bool expect_continue = false;  // "Expect: 100-continue"
  std::string_view host;         // the Host value, empty when absent (1.0)

  // Bytes consumed: leading empty lines, the head and its final CRLF CRLF.
  size_t head_size = 0;
};

enum class ParseStatus : uint8_t {
  Complete,    // `out` is filled; the head ends at data + out.head_size
  Incomplete,  // no error so far; call again with more bytes
  Error,       // reject with `error`; `out` is unspecified
};

struct ParseResult {
  ParseStatus status;
  ErrorCode error = ErrorCode::None;
};

// Parses the request head at the start of data[0..len).
// `header_storage` must hold limits.max_headers entries; on Complete,
// out->headers points at it. Views in `out` point into `data`.
// Uses the fastest scanner the CPU supports (see scanner.h).
ParseResult parse_request_head(const char* data, size_t len,
                               const HeadLimits& limits,
                               pounce_header_t* header_storage,
                               RequestHead* out);

// The same parser pinned to one scanner, for tests and benchmarks. Both give
// identical results for every input.
ParseResult parse_request_head_scalar(const char* data, size_t len,
                                      const HeadLimits& limits,
                                      pounce_header_t* header_storage,
                                      RequestHead* out);
ParseResult parse_request_head_simd(const char* data, size_t len,
                                    const HeadLimits& limits,
                                    pounce_header_t* header_storage,
                                    RequestHead* out);

// Which scanner parse_request_head uses on this CPU: "avx2", "sse4.2" or
// "scalar".
std::string_view active_scanner_name();

// Parses a block of header fields (used for chunked trailers): zero or more
// field lines followed by an empty line, with the same rules as the request
// head. Returns Complete with *consumed set to the bytes up to and including
// the final CRLF. `max_size` and `max_fields` bound the block; exceeding
// them gives `too_large_error`.
ParseResult parse_field_block(const char* data, size_t len, size_t max_size,
                              size_t max_fields, ErrorCode too_large_error,
                              pounce_header_t* storage, size_t* field_count,
                              size_t* consumed);

}  // namespace pounce::http
