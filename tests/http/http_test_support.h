// Helpers shared by the tests of host/http: comparable snapshots of what the
// head parser and the body decoder return, and a corpus of valid requests.
//
// Inputs are copied into heap buffers of their exact size before parsing, so
// that AddressSanitizer (POUNCE_SANITIZE=ON) catches a read past `len`.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/body_decoder.h"
#include "http/head_parser.h"

namespace pounce::http::testing {

using namespace std::string_view_literals;

// A view as an offset into the parsed buffer (-1 when it points elsewhere,
// like the static "/" of an absolute-form target without a path) plus its
// text, so that results from two copies of one input compare equal.
struct View {
  long offset = -1;
  std::string text;
  bool operator==(const View&) const = default;
};

inline View view_of(const char* data, size_t len, const char* base,
                    size_t base_len) {
  View v;
  v.text.assign(data, len);
  if (data >= base && data + len <= base + base_len) v.offset = data - base;
  return v;
}

struct HeadOutcome {
  ParseStatus status = ParseStatus::Incomplete;
  ErrorCode error = ErrorCode::None;
  // The rest is filled on Complete only.
  View method, target, path, query, host;
  int version_minor = -1;
  BodyKind body_kind = BodyKind::None;
  uint64_t content_length = 0;
  bool keep_alive = false;
  bool upgrade_websocket = false;
  bool expect_continue = false;
  size_t head_size = 0;
  std::vector<std::pair<View, View>> headers;
  bool operator==(const HeadOutcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const HeadOutcome& o);

using HeadParseFn = ParseResult (*)(const char*, size_t, const HeadLimits&,
                                    pounce_header_t*, RequestHead*);

struct EntryPoint {
  const char* name;
  HeadParseFn fn;
};

// The scalar and the SIMD entry points, and the parser pinned to each
// instruction set this CPU has: every head test runs through all of them.
const std::vector<EntryPoint>& entry_points();

// Parses input[0..len) from an exact-size heap copy.
HeadOutcome parse_head(HeadParseFn fn, std::string_view input,
                       const HeadLimits& limits = {});

struct BodyOutcome {
  DecodeStatus status = DecodeStatus::NeedMore;
  ErrorCode error = ErrorCode::None;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers = {};
  size_t consumed = 0;  // total input bytes used
  bool operator==(const BodyOutcome&) const = default;
};

std::ostream& operator<<(std::ostream& os, const BodyOutcome& o);

// How a body is framed, as the head parser reported it.
struct BodyFraming {
  BodyKind kind = BodyKind::None;
  uint64_t content_length = 0;
  BodyLimits limits{};
};

// Feeds `bytes` to a fresh decoder in pieces cut at `cuts` (sorted offsets),
// the way a connection does: the unconsumed tail is kept and offered again
// with the next piece. With `in_place`, the output aliases the input.
BodyOutcome decode_pieces(const BodyFraming& framing, std::string_view bytes,
                          const std::vector<size_t>& cuts,
                          bool in_place = false);

// A valid request (head and body) and what its body decodes to.
struct CorpusEntry {
  const char* name;
  std::string bytes;
  std::string body;
  std::vector<std::pair<std::string, std::string>> trailers = {};
  // Bytes after the body that belong to the next request.
  size_t trailing = 0;
};

inline void PrintTo(const CorpusEntry& c, std::ostream* os) {
  *os << c.name;
}

const std::vector<CorpusEntry>& valid_corpus();

// The 703-byte browser request of ARCHITECTURE.md §6
// (shared/data/browser-request-703.http).
extern const std::string_view kBrowserRequest703;

}  // namespace pounce::http::testing
