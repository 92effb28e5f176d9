// A resumable request-body decoder for Content-Length and chunked bodies.
//
// It accepts its input split at any byte. Data bytes are consumed as they
// arrive; a chunk-size line or the trailer section is consumed only once it
// is complete, so the caller keeps the unconsumed tail and offers it again,
// followed by the next bytes (the same contract as the head parser).
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <cstdint>

#include "http/error_code.h"

namespace pounce::http {

struct BodyLimits {
  uint64_t max_body_size = 1048576;  // decoded bytes (--max-body-size)
  size_t max_trailer_size = 16384;   // the trailer section (--max-header-size)
  size_t max_trailers = 100;         // trailer fields (--max-headers)
  // A chunk-size line (size, extensions, CRLF) longer than this is rejected
  // (BadChunkExtension): extensions carry no meaning for us, and an unbounded
  // line would let a client pin memory.
  size_t max_chunk_line = 4096;
};

enum class DecodeStatus : uint8_t {
  NeedMore,  // everything offered that could be used was consumed
  Done,      // the body is complete; bytes after `consumed` are the next
             // request
  Error,
};

struct DecodeResult {
  DecodeStatus status;
  ErrorCode error = ErrorCode::None;
  size_t consumed = 0;  // input bytes used
  size_t produced = 0;  // body bytes written to `out`
};

class BodyDecoder {
 public:
  // A body of exactly `length` bytes. The caller checks the limit first (so
  // that it can answer 413 before reading).
  void start_content_length(uint64_t length);
  // A chunked body. `trailer_storage` holds limits.max_trailers entries; it
  // receives views of the trailer fields when decode() returns Done.
  void start_chunked(const BodyLimits& limits,
                     pounce_header_t* trailer_storage);

  // Decodes in[0..len) and writes the body bytes to `out`, which has room
  // for `len` bytes and may alias `in` at the same or a lower address
  // (in-place compaction: data is moved with memmove semantics).
  DecodeResult decode(const char* in, size_t len, char* out);

  bool done() const { return state_ == State::Done; }
  uint64_t body_bytes() const { return body_bytes_; }
  // Valid after Done, as views into the `in` of the final decode() call.
  const pounce_header_t* trailers() const { return trailers_; }
  size_t trailer_count() const { return trailer_count_; }

 private:
  enum class State : uint8_t {
    LengthData,    // Content-Length bytes remain
    ChunkSize,     // expecting a chunk-size line
    ChunkData,     // inside a chunk's data
    ChunkDataEnd,  // expecting the CRLF after a chunk's data
    Trailers,      // after the last chunk: the trailer section
    Done,
    Failed,
  };

  State state_ = State::Done;
  uint64_t remaining_ = 0;  // bytes left in the body or current chunk
  uint64_t body_bytes_ = 0;
  BodyLimits limits_{};
  pounce_header_t* trailer_storage_ = nullptr;
  const pounce_header_t* trailers_ = nullptr;
  size_t trailer_count_ = 0;
  ErrorCode error_ = ErrorCode::None;  // why, once Failed
};

}  // namespace pounce::http
