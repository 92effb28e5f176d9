// Shared by the fuzz targets: a CHECK that aborts (libFuzzer reports it as
// a crash with the input), and a body decoder driver that feeds pieces the
// way a connection does.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "http/body_decoder.h"

#define POUNCE_FUZZ_CHECK(cond)                                             \
  do {                                                                      \
    if (!(cond)) {                                                          \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
                   #cond);                                                  \
      std::abort();                                                         \
    }                                                                       \
  } while (0)

namespace pounce::http::fuzz {

struct BodyOutcome {
  DecodeStatus status = DecodeStatus::NeedMore;
  ErrorCode error = ErrorCode::None;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers;
  size_t consumed = 0;
  bool operator==(const BodyOutcome&) const = default;
};

// Decodes bytes[0..len) cut at `cuts` (ascending), keeping the unconsumed
// tail between pieces, each piece offered from an exact-size heap copy so
// that AddressSanitizer sees any read past it.
inline BodyOutcome decode_pieces(BodyDecoder* dec, const char* bytes,
                                 size_t len, const std::vector<size_t>& cuts,
                                 bool in_place) {
  BodyOutcome o;
  std::string pending;
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(len);
  for (size_t end : ends) {
    if (end < start) end = start;
    if (end > len) end = len;
    pending.append(bytes + start, end - start);
    start = end;
    auto in = std::make_unique<char[]>(pending.size());
    if (!pending.empty()) std::memcpy(in.get(), pending.data(), pending.size());
    std::unique_ptr<char[]> separate;
    char* out = in.get();
    if (!in_place) {
      separate = std::make_unique<char[]>(pending.size());
      out = separate.get();
    }
    const DecodeResult r = dec->decode(in.get(), pending.size(), out);
    POUNCE_FUZZ_CHECK(r.consumed <= pending.size());
    POUNCE_FUZZ_CHECK(r.produced <= r.consumed);
    o.body.append(out, r.produced);
    o.consumed += r.consumed;
    o.status = r.status;
    o.error = r.error;
    POUNCE_FUZZ_CHECK((r.status == DecodeStatus::Error) ==
                      (r.error != ErrorCode::None));
    if (r.status == DecodeStatus::Done) {
      for (size_t i = 0; i < dec->trailer_count(); ++i) {
        const pounce_header_t& t = dec->trailers()[i];
        o.trailers.emplace_back(std::string(t.name.data, t.name.len),
                                std::string(t.value.data, t.value.len));
      }
      // Done is final and consumes nothing more.
      const DecodeResult again = dec->decode(in.get(), pending.size(), out);
      POUNCE_FUZZ_CHECK(again.status == DecodeStatus::Done);
      POUNCE_FUZZ_CHECK(again.consumed == 0 && again.produced == 0);
    }
    if (r.status != DecodeStatus::NeedMore) break;
    pending.erase(0, r.consumed);
  }
  return o;
}

}  // namespace pounce::http::fuzz
