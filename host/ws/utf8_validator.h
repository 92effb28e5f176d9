// Incremental UTF-8 validation (RFC 3629 §4) for WebSocket text messages
// and close reasons (RFC 6455 §5.6, §8.1).
//
// Incremental: a code point may be split across reads and across fragments
// of one message, so the validator keeps the state of an unfinished
// sequence between calls.
// Fail-fast: feed() reports the first byte that cannot continue a valid
// sequence, so a connection is failed as soon as an invalid sequence is
// seen, not when the message ends (Autobahn 6.4.x). Rejected: stray
// continuation bytes, C0/C1 and F5-FF lead bytes, overlong encodings
// (E0 80-9F, F0 80-8F), UTF-16 surrogates (ED A0-BF) and code points above
// U+10FFFF (F4 90-BF).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::ws {

class Utf8Validator {
 public:
  // Validates the next n bytes. Returns false at the first invalid byte;
  // the validator then stays failed until reset().
  bool feed(const uint8_t* p, size_t n);
  bool feed(std::string_view s) {
    return feed(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  // No sequence is left unfinished: the text may end here.
  bool complete() const { return need_ == 0 && !failed_; }
  bool failed() const { return failed_; }
  void reset() {
    need_ = 0;
    lo_ = 0x80;
    hi_ = 0xBF;
    failed_ = false;
  }

 private:
  bool feed_slow(const uint8_t* p, size_t n);

  uint8_t need_ = 0;   // continuation bytes still expected
  uint8_t lo_ = 0x80;  // the range allowed for the next continuation byte
  uint8_t hi_ = 0xBF;
  bool failed_ = false;
};

// Whole-buffer validation.
bool is_valid_utf8(std::string_view s);

}  // namespace pounce::ws
