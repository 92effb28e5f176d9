// Serializes an HTTP/1.1 response head: the exchange's ResponseStart (what
// the app side decided) plus what HTTP/1.1 owns, so that the framing rules
// of ARCHITECTURE.md §4 live in one place: the host writes Date, Server,
// Content-Length / Transfer-Encoding and Connection; the plugin's validated
// header lines go in between. Sync responses and streams share it.
#pragma once

#include <cstdint>
#include <string_view>

#include "exchange/exchange.h"
#include "http/byte_buffer.h"

namespace pounce::http1 {

enum class Framing : uint8_t {
  ContentLength,   // Content-Length: N
  Chunked,         // Transfer-Encoding: chunked
  CloseDelimited,  // neither; the body ends with the connection (HTTP/1.0)
  NoBody,          // 1xx, 204, 304: neither header
};

enum class ConnectionHeader : uint8_t { None, Close, KeepAlive };

// What HTTP/1.1 adds to a ResponseStart.
struct HeadFraming {
  std::string_view date_header;  // "Date: ...\r\n", from the loop's cache
  Framing framing = Framing::ContentLength;
  uint64_t content_length = 0;  // Framing::ContentLength
  ConnectionHeader connection = ConnectionHeader::None;
  std::string_view request_id;  // X-Request-ID, when not empty
};

// Appends the head, through the empty line, to `out`.
// Without the memory for it, nothing is written and out.failed() is set.
void write_response_head(ByteBuffer& out, const exchange::ResponseStart& head,
                         const HeadFraming& framing);

// The chunk-size line of a chunk of `n` bytes ("1a\r\n"); returns its length.
size_t write_chunk_size(char* p, size_t n);

}  // namespace pounce::http1
