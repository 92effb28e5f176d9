// An incremental HTTP/1.1 response parser for the load generator.
//
// It frames responses (Content-Length, chunked, or until EOF), reads the
// status code and whether the connection stays open, and hands body bytes to
// a sink only when one is given: the hello workload never looks at its body,
// the sse workload reads every byte. Bytes may arrive split anywhere; only an
// incomplete head is copied, everything else is read in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pounce::bench {

// Receives the decoded body (chunk framing removed), piece by piece.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void on_body(std::string_view bytes) = 0;
};

class ResponseParser {
 public:
  // A head larger than this is a protocol error: no server we measure sends
  // one, and a runaway buffer would hide the real problem.
  static constexpr size_t kMaxHead = 64 * 1024;

  struct Step {
    size_t consumed = 0;    // bytes of the input used by this call
    bool complete = false;  // a final (non-1xx) response just ended
    bool error = false;     // malformed framing: the connection is unusable
  };

  // Parses at most up to the end of one response. Call again with the rest
  // of the input after a completed response (pipelining).
  Step feed(const char* data, size_t len, BodySink* sink = nullptr);

  // The peer closed the connection. Returns true when that ends a response
  // framed by EOF (no Content-Length, not chunked), which then counts as
  // complete; false when a response was cut short or none had started.
  bool finish_eof();

  // True when no byte of a next response has been seen yet.
  bool idle() const { return state_ == State::Head && pending_.empty(); }

  // Of the response that completed last (valid after complete or during its
  // body).
  int status() const { return status_; }
  bool keep_alive() const { return keep_alive_; }
  std::string_view error_reason() const { return error_; }

 private:
  enum class State {
    Head,
    Length,        // remaining_ bytes of body
    UntilEof,      // body ends when the peer closes
    ChunkSize,     // hex digits
    ChunkExt,      // chunk extension, up to LF
    ChunkData,     // remaining_ bytes of chunk data
    ChunkDataCr,   // CR after the data
    ChunkDataLf,   // LF after the data
    TrailerStart,  // first byte of a trailer line, or CR of the final CRLF
    TrailerLine,   // inside a trailer line, up to LF
    TrailerLf,     // LF of the final CRLF
  };

  bool parse_head(std::string_view head);
  Step fail(size_t consumed, const char* reason);
  Step finish(size_t consumed);
  Step body(const char* data, size_t len, size_t used, BodySink* sink);

  State state_ = State::Head;
  std::string pending_;  // an incomplete head, across reads
  uint64_t remaining_ = 0;
  int chunk_digits_ = 0;
  int status_ = 0;
  bool keep_alive_ = true;
  const char* error_ = "";
};

}  // namespace pounce::bench
