#include "static/conditional.h"

#include "http/ascii.h"
#include "static/etag.h"
#include "static/http_date.h"

namespace pounce::static_files {
namespace {

using http::iequals;

void add_line(std::string_view v, std::string_view* lines, uint8_t* n,
              bool* overflow) {
  if (*n < RequestFields::kMaxLines) {
    lines[(*n)++] = v;
  } else {
    *overflow = true;
  }
}

void set_single(std::string_view v, std::string_view* slot, uint8_t* n) {
  *slot = v;
  if (*n < 255) ++*n;
}

// Every line of a list field, as one list: Match if an element of any
// line matched, Malformed if any line broke the grammar.
EtagMatch match_lines(const std::string_view* lines, uint8_t n, bool overflow,
                      std::string_view etag, bool weak) {
  if (overflow) return EtagMatch::Malformed;
  EtagMatch result = EtagMatch::None;
  for (uint8_t i = 0; i < n; ++i) {
    const EtagMatch m = match_etag_list(lines[i], etag, weak);
    if (m == EtagMatch::Malformed) return m;
    if (m == EtagMatch::Match) result = m;
  }
  return result;
}

}  // namespace

void RequestFields::gather(const pounce_header_t* headers, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    const std::string_view name(headers[i].name.data, headers[i].name.len);
    const std::string_view value(headers[i].value.data, headers[i].value.len);
    // Cheap first: these names start with 'i' or 'r'.
    const char c = http::ascii_lower(name.empty() ? '\0' : name[0]);
    if (c == 'r') {
      if (iequals(name, "range")) set_single(value, &range, &range_lines);
      continue;
    }
    if (c != 'i' || name.size() < 8) continue;
    if (iequals(name, "if-match")) {
      add_line(value, if_match, &if_match_lines, &if_match_overflow);
    } else if (iequals(name, "if-none-match")) {
      add_line(value, if_none_match, &if_none_match_lines,
               &if_none_match_overflow);
    } else if (iequals(name, "if-modified-since")) {
      set_single(value, &if_modified_since, &if_modified_since_lines);
    } else if (iequals(name, "if-unmodified-since")) {
      set_single(value, &if_unmodified_since, &if_unmodified_since_lines);
    } else if (iequals(name, "if-range")) {
      set_single(value, &if_range, &if_range_lines);
    }
  }
}

Precondition evaluate_preconditions(const RequestFields& f,
                                    std::string_view etag,
                                    int64_t last_modified) {
  // 1 and 2.
  if (f.if_match_lines > 0) {
    if (match_lines(f.if_match, f.if_match_lines, f.if_match_overflow, etag,
                    /*weak=*/false) != EtagMatch::Match) {
      return Precondition::PreconditionFailed;
    }
  } else if (f.if_unmodified_since_lines == 1) {
    const auto date = parse_http_date(f.if_unmodified_since);
    if (date && last_modified > *date) return Precondition::PreconditionFailed;
  }
  // 3 and 4.
  if (f.if_none_match_lines > 0) {
    if (match_lines(f.if_none_match, f.if_none_match_lines,
                    f.if_none_match_overflow, etag,
                    /*weak=*/true) == EtagMatch::Match) {
      return Precondition::NotModified;
    }
  } else if (f.if_modified_since_lines == 1) {
    const auto date = parse_http_date(f.if_modified_since);
    if (date && last_modified <= *date) return Precondition::NotModified;
  }
  return Precondition::Proceed;
}

bool if_range_allows(const RequestFields& f, std::string_view etag,
                     int64_t last_modified) {
  if (f.if_range_lines == 0) return true;
  if (f.if_range_lines > 1) return false;
  std::string_view v = f.if_range;
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  if (!v.empty() && (v.front() == '"' || v.front() == 'W')) {
    return strong_match(v, etag);
  }
  const auto date = parse_http_date(v);
  return date && *date == last_modified;
}

}  // namespace pounce::static_files
