// Entity tags (RFC 9110 §8.8.3): the strong validator of a static file,
// and the If-Match / If-None-Match / If-Range lists it is compared with.
// Pure; allocates nothing.
#pragma once

#include <sys/stat.h>

#include <cstddef>
#include <string_view>

namespace pounce::static_files {

// Room for the longest tag make_etag writes: three 16-digit hex numbers,
// two dashes and the quotes.
constexpr size_t kMaxEtagLen = 3 * 16 + 2 + 2;

// A strong tag for the file `st` describes: "<inode>-<size>-<mtime ns>" in
// hex, quoted. The inode tells two files apart that share a size and a
// time (a file replaced by rename within one clock tick); the nanoseconds
// tell a rewrite in place apart within one second. Returns its length.
size_t make_etag(const struct stat& st, char* out);

enum class EtagMatch : unsigned char {
  None,       // no element matched
  Match,      // an element matched
  Malformed,  // the list is not one (nothing after it was looked at)
};

// Compares `etag` (a strong tag as make_etag writes it) with every element
// of `list`, a field value of If-Match or If-None-Match ("*" or a comma-
// separated list of entity-tags; §13.1.1, §13.1.2). `weak` chooses the
// comparison: weak (If-None-Match: W/"x" matches "x") or strong (If-Match:
// a weak element never matches). "*" matches. A list that breaks the
// grammar is Malformed at the first element that does.
EtagMatch match_etag_list(std::string_view list, std::string_view etag,
                          bool weak);

// Whether `value` is one entity-tag (an If-Range value that is not a date)
// that strongly matches `etag`.
bool strong_match(std::string_view value, std::string_view etag);

}  // namespace pounce::static_files
