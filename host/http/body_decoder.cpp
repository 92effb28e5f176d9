// The request-body decoder: Content-Length and chunked (RFC 9112 §6, §7.1).
//
// Decisions:
// - Every error inside the chunked framing gets the code of the element it
//   is in, also for a bare LF or a CR without LF: the chunk-size line gives
//   BadChunkSize (up to the end of the size) or BadChunkExtension (from the
//   first BWS or ";" on), the CRLF after the data gives BadChunkData, the
//   trailer section gives BadTrailer (TrailersTooLarge for its limits).
// - chunk-size is 1*16HEXDIG: a 17th digit is BadChunkSize even when it is
//   a leading zero, so the value can never overflow.
// - The size is checked against max_body_size as soon as its digits end,
//   so an announced chunk that would take the body over the limit is
//   BodyTooLarge before its data is read, and a size of 17 or more digits
//   is BadChunkSize (malformed) rather than BodyTooLarge.
// - A chunk line longer than max_chunk_line (CRLF included) is
//   BadChunkExtension, unless an earlier byte already gave another error.
// - Trailer fields are only checked for syntax and limits; the host never
//   merges them into the head, so framing fields among them are harmless.
#include "http/body_decoder.h"

#include <algorithm>
#include <cstring>

#include "http/char_class.h"
#include "http/head_parser.h"

namespace pounce::http {
namespace {

enum class LineStatus : uint8_t { Complete, Incomplete, Error };

struct ChunkLine {
  LineStatus status;
  ErrorCode error = ErrorCode::None;
  uint64_t size = 0;
  size_t length = 0;  // bytes of the line, CRLF included
};

// chunk = chunk-size [ chunk-ext ] CRLF
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
// ext-val = token / quoted-string
// A byte-at-a-time state machine: the line may be cut anywhere, and a short
// line is the common case.
ChunkLine parse_chunk_line(const char* p, size_t n, uint64_t budget) {
  enum class S : uint8_t {
    Size,
    AfterSize,  // BWS after the size: only ";" may follow
    NameStart,  // after ";": BWS, then the name
    Name,
    AfterName,   // BWS after the name: "=" or ";"
    ValueStart,  // after "=": BWS, then a token or a quoted-string
    Token,
    Quoted,
    QuotedPair,
    AfterQuoted,  // right after the closing DQUOTE
    AfterValue,   // BWS after the value: only ";" may follow
    Lf,           // after the CR
  };
  S s = S::Size;
  uint64_t size = 0;
  size_t digits = 0;
  bool ext_seen = false;
  const auto bad = [](ErrorCode code) {
    return ChunkLine{LineStatus::Error, code};
  };
  const ErrorCode kExt = ErrorCode::BadChunkExtension;
  for (size_t i = 0; i < n; ++i) {
    const char c = p[i];
    switch (s) {
      case S::Size: {
        const unsigned d = cc::hex_value(c);
        if (d < 16) {
          if (++digits > 16) return bad(ErrorCode::BadChunkSize);
          size = (size << 4) | d;
          break;
        }
        if (digits == 0) return bad(ErrorCode::BadChunkSize);
        // Checked once the size is whole, so that an overflowing size is a
        // malformed one (400), never mistaken for a large body (413).
        if (size > budget) return bad(ErrorCode::BodyTooLarge);
        ext_seen = c != '\r';
        if (c == '\r') {
          s = S::Lf;
        } else if (c == ';') {
          s = S::NameStart;
        } else if (cc::is_ows(c)) {
          s = S::AfterSize;
        } else {
          return bad(ErrorCode::BadChunkSize);
        }
        break;
      }
      case S::AfterSize:
      case S::AfterValue:
        if (c == ';') {
          s = S::NameStart;
        } else if (!cc::is_ows(c)) {
          return bad(kExt);
        }
        break;
      case S::NameStart:
        if (cc::is_tchar(c)) {
          s = S::Name;
        } else if (!cc::is_ows(c)) {
          return bad(kExt);
        }
        break;
      case S::Name:
      case S::AfterName:
        if (s == S::Name && cc::is_tchar(c)) break;
        if (c == '=') {
          s = S::ValueStart;
        } else if (c == ';') {
          s = S::NameStart;
        } else if (cc::is_ows(c)) {
          s = S::AfterName;
        } else if (c == '\r' && s == S::Name) {
          s = S::Lf;
        } else {
          return bad(kExt);
        }
        break;
      case S::ValueStart:
        if (c == '"') {
          s = S::Quoted;
        } else if (cc::is_tchar(c)) {
          s = S::Token;
        } else if (!cc::is_ows(c)) {
          return bad(kExt);
        }
        break;
      case S::Token:
      case S::AfterQuoted:
        if (s == S::Token && cc::is_tchar(c)) break;
        if (c == ';') {
          s = S::NameStart;
        } else if (cc::is_ows(c)) {
          s = S::AfterValue;
        } else if (c == '\r') {
          s = S::Lf;
        } else {
          return bad(kExt);
        }
        break;
      case S::Quoted:
        if (c == '"') {
          s = S::AfterQuoted;
        } else if (c == '\\') {
          s = S::QuotedPair;
        } else if (!cc::has(c, cc::kQdtext)) {
          return bad(kExt);
        }
        break;
      case S::QuotedPair:
        if (!cc::has(c, cc::kQuotedPair)) return bad(kExt);
        s = S::Quoted;
        break;
      case S::Lf:
        if (c != '\n') {
          // CR without LF: the code of the part of the line it ends.
          return bad(ext_seen ? kExt : ErrorCode::BadChunkSize);
        }
        return ChunkLine{LineStatus::Complete, ErrorCode::None, size, i + 1};
    }
  }
  return ChunkLine{LineStatus::Incomplete};
}

}  // namespace

void BodyDecoder::start_content_length(uint64_t length) {
  state_ = length == 0 ? State::Done : State::LengthData;
  remaining_ = length;
  body_bytes_ = 0;
  trailers_ = nullptr;
  trailer_count_ = 0;
  error_ = ErrorCode::None;
}

void BodyDecoder::start_chunked(const BodyLimits& limits,
                                pounce_header_t* trailer_storage) {
  state_ = State::ChunkSize;
  remaining_ = 0;
  body_bytes_ = 0;
  limits_ = limits;
  trailer_storage_ = trailer_storage;
  trailers_ = nullptr;
  trailer_count_ = 0;
  error_ = ErrorCode::None;
}

DecodeResult BodyDecoder::decode(const char* in, size_t len, char* out) {
  size_t pos = 0;
  size_t produced = 0;
  const auto result = [&](DecodeStatus status) {
    return DecodeResult{status, error_, pos, produced};
  };
  const auto fail = [&](ErrorCode code) {
    state_ = State::Failed;
    error_ = code;
    return result(DecodeStatus::Error);
  };
  // Moves up to `remaining_` available bytes to the output.
  const auto copy_data = [&]() {
    const size_t n = static_cast<size_t>(
        std::min<uint64_t>(remaining_, static_cast<uint64_t>(len - pos)));
    if (n != 0) std::memmove(out + produced, in + pos, n);
    pos += n;
    produced += n;
    remaining_ -= n;
    body_bytes_ += n;
  };
  while (true) {
    switch (state_) {
      case State::Done:
        return result(DecodeStatus::Done);
      case State::Failed:
        return result(DecodeStatus::Error);
      case State::LengthData:
        copy_data();
        if (remaining_ != 0) return result(DecodeStatus::NeedMore);
        state_ = State::Done;
        break;
      case State::ChunkSize: {
        const size_t avail = len - pos;
        const size_t window = std::min(avail, limits_.max_chunk_line);
        const uint64_t budget = limits_.max_body_size > body_bytes_
                                    ? limits_.max_body_size - body_bytes_
                                    : 0;
        const ChunkLine line = parse_chunk_line(in + pos, window, budget);
        if (line.status == LineStatus::Error) return fail(line.error);
        if (line.status == LineStatus::Incomplete) {
          if (avail >= limits_.max_chunk_line) {
            return fail(ErrorCode::BadChunkExtension);
          }
          return result(DecodeStatus::NeedMore);
        }
        pos += line.length;
        remaining_ = line.size;
        state_ = line.size == 0 ? State::Trailers : State::ChunkData;
        break;
      }
      case State::ChunkData:
        copy_data();
        if (remaining_ != 0) return result(DecodeStatus::NeedMore);
        state_ = State::ChunkDataEnd;
        break;
      case State::ChunkDataEnd: {
        const size_t avail = len - pos;
        if (avail >= 1 && in[pos] != '\r') return fail(ErrorCode::BadChunkData);
        if (avail >= 2 && in[pos + 1] != '\n') {
          return fail(ErrorCode::BadChunkData);
        }
        if (avail < 2) return result(DecodeStatus::NeedMore);
        pos += 2;
        state_ = State::ChunkSize;
        break;
      }
      case State::Trailers: {
        size_t count = 0;
        size_t used = 0;
        const ParseResult r = parse_field_block(
            in + pos, len - pos, limits_.max_trailer_size, limits_.max_trailers,
            ErrorCode::TrailersTooLarge, trailer_storage_, &count, &used);
        if (r.status == ParseStatus::Incomplete) {
          return result(DecodeStatus::NeedMore);
        }
        if (r.status == ParseStatus::Error) {
          return fail(r.error == ErrorCode::TrailersTooLarge
                          ? ErrorCode::TrailersTooLarge
                          : ErrorCode::BadTrailer);
        }
        pos += used;
        trailers_ = trailer_storage_;
        trailer_count_ = count;
        state_ = State::Done;
        break;
      }
    }
  }
}

}  // namespace pounce::http
