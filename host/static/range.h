// Byte ranges (RFC 9110 §14): what a Range field asks of a representation
// of a known size, and whether the answer is 206, 416 or the whole
// representation. Pure; allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce::static_files {

struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;  // never 0
};

enum class RangeOutcome : unsigned char {
  // Serve the whole representation with 200: no Range, another unit, a
  // field we cannot read (bytes=5-2 among them: §14.1.1 calls it invalid,
  // and §14.2 lets a server ignore the field), an empty representation, or
  // a request we refuse to split: more than kMaxRanges ranges, ranges
  // that overlap, or ranges that add up to more bytes than the
  // representation (a multipart amplification).
  Whole,
  Single,         // 206 with Content-Range: ranges[0]
  Multiple,       // 206 multipart/byteranges, in the order asked for
  Unsatisfiable,  // 416 with Content-Range: bytes */size
};

constexpr size_t kMaxRanges = 16;

struct RangeSet {
  RangeOutcome outcome = RangeOutcome::Whole;
  ByteRange ranges[kMaxRanges];
  size_t count = 0;
};

// Reads `field` (the Range value) against a representation of `size` bytes.
// first-last is clamped to the end; "-N" is the last N bytes (all of them
// when N >= size); a range starting at or past the end, and "-0", are
// unsatisfiable, and the field is 416 only when every range is.
RangeSet parse_range(std::string_view field, uint64_t size);

}  // namespace pounce::static_files
