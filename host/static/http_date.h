// HTTP dates (RFC 9110 §5.6.7): Last-Modified is sent as an IMF-fixdate,
// and If-Modified-Since, If-Unmodified-Since and If-Range are read in any
// of the three formats a recipient must accept. Pure; allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace pounce::static_files {

// "Sun, 06 Nov 1994 08:49:37 GMT": always 29 bytes.
constexpr size_t kHttpDateLen = 29;

// Writes the IMF-fixdate of `unix_seconds` (UTC) to out[0..29).
void format_http_date(int64_t unix_seconds, char* out);

// Parses an IMF-fixdate, an obsolete RFC 850 date ("Sunday, 06-Nov-94
// 08:49:37 GMT") or an asctime() date ("Sun Nov  6 08:49:37 1994"), with
// surrounding whitespace allowed. Anything else, including a date that
// names a day that does not exist, is nullopt: a recipient ignores a
// conditional header whose date it cannot read (§13.1.3, §13.1.4). A
// two-digit year is taken within 50 years of 2000 (§5.6.7: "more than
// 50 years in the future" means the past century).
std::optional<int64_t> parse_http_date(std::string_view text);

}  // namespace pounce::static_files
