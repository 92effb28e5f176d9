#include "static/range.h"

#include <algorithm>

#include "http/ascii.h"

namespace pounce::static_files {
namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// 1*DIGIT at s[*i], saturating at UINT64_MAX: a huge offset is a number
// past any file's end, not a syntax error.
bool read_number(std::string_view s, size_t* i, uint64_t* out) {
  size_t p = *i;
  uint64_t v = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
    const uint64_t d = static_cast<uint64_t>(s[p] - '0');
    v = v > (UINT64_MAX - d) / 10 ? UINT64_MAX : v * 10 + d;
    ++p;
  }
  if (p == *i) return false;
  *i = p;
  *out = v;
  return true;
}

RangeSet whole() {
  return RangeSet{};
}

}  // namespace

RangeSet parse_range(std::string_view s, uint64_t size) {
  // range-unit "=" range-set; the unit is case-insensitive (§14.1).
  if (s.size() < 6 || !http::iequals(s.substr(0, 6), "bytes=")) return whole();
  RangeSet set;
  size_t elements = 0;  // range-specs read, satisfiable or not
  bool any_satisfiable = false;
  uint64_t total = 0;
  size_t i = 6;
  while (i < s.size()) {
    if (s[i] == ',' || is_ows(s[i])) {
      ++i;
      continue;
    }
    uint64_t first = 0;
    uint64_t last = UINT64_MAX;
    bool suffix = false;
    if (s[i] == '-') {
      ++i;
      suffix = true;
      if (!read_number(s, &i, &last)) return whole();
    } else {
      if (!read_number(s, &i, &first)) return whole();
      if (i >= s.size() || s[i] != '-') return whole();
      ++i;
      if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        read_number(s, &i, &last);
        if (last < first) return whole();  // invalid (§14.1.1)
      }
    }
    while (i < s.size() && is_ows(s[i])) ++i;
    if (i < s.size() && s[i] != ',') return whole();
    if (++elements > kMaxRanges) return whole();
    // Satisfiable? (§14.1.1: a suffix of 0, or a first-pos at or past the
    // end, is not.)
    ByteRange r;
    if (suffix) {
      if (last == 0 || size == 0) continue;
      const uint64_t n = std::min(last, size);
      r = {size - n, n};
    } else {
      if (first >= size) continue;
      const uint64_t end = last >= size ? size - 1 : last;
      r = {first, end - first + 1};
    }
    any_satisfiable = true;
    set.ranges[set.count++] = r;
    total += r.length;
    if (total > size) return whole();
  }
  if (elements == 0) return whole();
  if (size == 0) return whole();
  if (!any_satisfiable) {
    set.outcome = RangeOutcome::Unsatisfiable;
    set.count = 0;
    return set;
  }
  if (set.count == 1) {
    set.outcome = RangeOutcome::Single;
    return set;
  }
  // Overlapping ranges are refused (§14.2 allows it; a client that asks
  // for them is rarely anything but an attack).
  ByteRange sorted[kMaxRanges];
  std::copy(set.ranges, set.ranges + set.count, sorted);
  std::sort(
      sorted, sorted + set.count,
      [](const ByteRange& a, const ByteRange& b) { return a.first < b.first; });
  for (size_t k = 1; k < set.count; ++k) {
    if (sorted[k].first < sorted[k - 1].first + sorted[k - 1].length) {
      return whole();
    }
  }
  set.outcome = RangeOutcome::Multiple;
  return set;
}

}  // namespace pounce::static_files
