// Fuzzes the chunked body decoder: the first input byte picks the limits and
// how the rest is cut; decoding the rest in one piece, in pieces of a fixed
// size, at one cut, and in place must all give the same outcome (status,
// error, body bytes, trailers and bytes consumed).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_support.h"

namespace {

using namespace pounce::http;
using pounce::http::fuzz::BodyOutcome;
using pounce::http::fuzz::decode_pieces;

BodyOutcome decode(const BodyLimits& limits, const char* p, size_t n,
                   const std::vector<size_t>& cuts, bool in_place) {
  std::vector<pounce_header_t> trailers(limits.max_trailers + 1);
  BodyDecoder dec;
  dec.start_chunked(limits, trailers.data());
  BodyOutcome o = decode_pieces(&dec, p, n, cuts, in_place);
  POUNCE_FUZZ_CHECK(o.body.size() <= limits.max_body_size);
  POUNCE_FUZZ_CHECK(o.consumed <= n);
  POUNCE_FUZZ_CHECK(o.trailers.size() <= limits.max_trailers);
  if (o.status == DecodeStatus::Done) {
    POUNCE_FUZZ_CHECK(dec.done());
    POUNCE_FUZZ_CHECK(dec.body_bytes() == o.body.size());
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t knob = data[0];
  const char* p = reinterpret_cast<const char*>(data + 1);
  const size_t n = size - 1;

  BodyLimits limits;
  if (knob & 0x80) {
    limits.max_body_size = 64;
    limits.max_trailer_size = 48;
    limits.max_trailers = 2;
    limits.max_chunk_line = 16;
  }
  const BodyOutcome whole = decode(limits, p, n, {}, false);

  const size_t step = 1 + (knob & 0x0F);
  std::vector<size_t> every;
  for (size_t i = step; i < n; i += step) every.push_back(i);
  POUNCE_FUZZ_CHECK(decode(limits, p, n, every, false) == whole);
  POUNCE_FUZZ_CHECK(decode(limits, p, n, every, true) == whole);

  const size_t cut = n == 0 ? 0 : (static_cast<size_t>(knob) * 131) % (n + 1);
  POUNCE_FUZZ_CHECK(decode(limits, p, n, {cut}, true) == whole);
  return 0;
}
