// Serializes a response head. Sync responses and async streams share it, so
// that the framing rules of ARCHITECTURE.md §4 live in one place: the host
// writes Date, Server, Content-Length / Transfer-Encoding and Connection; the
// plugin's validated header lines go in between.
#pragma once

#include <cstdint>
#include <string_view>

#include "http/byte_buffer.h"

namespace pounce::pipeline {

enum class Framing : uint8_t {
  ContentLength,   // Content-Length: N
  Chunked,         // Transfer-Encoding: chunked
  CloseDelimited,  // neither; the body ends with the connection (HTTP/1.0)
  NoBody,          // 1xx, 204, 304: neither header
};

enum class ConnectionHeader : uint8_t { None, Close, KeepAlive };

struct ResponseHead {
  int status = 200;
  std::string_view date_header;     // "Date: ...\r\n", from the loop's cache
  std::string_view plugin_headers;  // validated "Name: value\r\n" lines
  Framing framing = Framing::ContentLength;
  uint64_t content_length = 0;
  ConnectionHeader connection = ConnectionHeader::None;
  std::string_view content_encoding;  // "zstd" / "gzip", or empty
  bool vary_accept_encoding = false;
  std::string_view server_timing;  // the header's value, or empty
};

// Appends the head, through the empty line, to `out`.
// Without the memory for it, nothing is written and out.failed() is set.
void write_response_head(ByteBuffer& out, const ResponseHead& head);

// The chunk-size line of a chunk of `n` bytes ("1a\r\n"); returns its length.
size_t write_chunk_size(char* p, size_t n);

}  // namespace pounce::pipeline
