// Conditional requests (RFC 9110 §13) against a static file's validators:
// which precondition header fields a request carries, and what they decide,
// in the order of §13.2.2. Pure; allocates nothing.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::static_files {

// The request's precondition and range fields, gathered in one pass over
// its headers. A list field may come in several lines (§5.3); a field that
// must be single (a date, Range, If-Range) and comes twice is invalid.
struct RequestFields {
  static constexpr size_t kMaxLines = 8;
  std::string_view if_match[kMaxLines];
  std::string_view if_none_match[kMaxLines];
  uint8_t if_match_lines = 0;
  uint8_t if_none_match_lines = 0;
  bool if_match_overflow = false;       // more lines than kMaxLines
  bool if_none_match_overflow = false;  // more lines than kMaxLines
  std::string_view if_modified_since;
  std::string_view if_unmodified_since;
  std::string_view if_range;
  std::string_view range;
  uint8_t if_modified_since_lines = 0;
  uint8_t if_unmodified_since_lines = 0;
  uint8_t if_range_lines = 0;
  uint8_t range_lines = 0;

  void gather(const pounce_header_t* headers, size_t count);
};

enum class Precondition : unsigned char {
  Proceed,             // serve the representation (ranges may apply)
  NotModified,         // 304
  PreconditionFailed,  // 412
};

// §13.2.2 steps 1-4 for a GET or HEAD of a representation whose strong
// ETag is `etag` and whose Last-Modified is `last_modified` (seconds):
//   1. If-Match: no strong match (or a list we cannot read) -> 412;
//   2. else If-Unmodified-Since (a valid date): modified since -> 412;
//   3. If-None-Match: a weak match (or "*") -> 304; a list we cannot read
//      matches nothing;
//   4. else If-Modified-Since (a valid, single date): not modified since
//      -> 304.
// A date we cannot read, or one given twice, is ignored (§13.1.3-4).
Precondition evaluate_preconditions(const RequestFields& f,
                                    std::string_view etag,
                                    int64_t last_modified);

// §13.2.2 step 5 (§13.1.5): whether the Range field applies. true without
// If-Range; with it, when its entity-tag strongly matches `etag`, or its
// date is exactly `last_modified`. A weak tag, another tag, another date or
// an If-Range we cannot read: false (the whole representation is sent).
bool if_range_allows(const RequestFields& f, std::string_view etag,
                     int64_t last_modified);

}  // namespace pounce::static_files
