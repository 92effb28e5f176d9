// Accept-Encoding negotiation; the rules are in accept_encoding.h.
//
// Grammar (RFC 9110 §12.5.3, §12.4.2, §5.6.1, §5.6.6):
//   Accept-Encoding = #( codings [ weight ] )
//   codings         = content-coding / "identity" / "*"
//   weight          = OWS ";" OWS "q=" qvalue
// We also skip other parameters (token or quoted-string values) so that an
// extension some client invents does not cost it compression.
#include "pipeline/accept_encoding.h"

#include <algorithm>

#include "http/ascii.h"
#include "http/char_class.h"

namespace pounce::pipeline {
namespace {

using http::cc::is_ows;
using http::cc::is_tchar;

constexpr int16_t kMalformed = -2;

using http::iequals;

enum class Named : uint8_t { Other, Zstd, Gzip, Br, Identity, Any };

Named classify(std::string_view token) {
  switch (token.size()) {
    case 1:
      return token[0] == '*' ? Named::Any : Named::Other;
    case 2:
      return iequals(token, "br") ? Named::Br : Named::Other;
    case 4:
      if (iequals(token, "gzip")) return Named::Gzip;
      if (iequals(token, "zstd")) return Named::Zstd;
      return Named::Other;
    case 6:
      return iequals(token, "x-gzip") ? Named::Gzip : Named::Other;
    case 8:
      return iequals(token, "identity") ? Named::Identity : Named::Other;
    default:
      return Named::Other;
  }
}

size_t skip_ows(std::string_view s, size_t i) {
  while (i < s.size() && is_ows(s[i])) ++i;
  return i;
}

size_t skip_token(std::string_view s, size_t i) {
  while (i < s.size() && is_tchar(s[i])) ++i;
  return i;
}

// Index of the closing quote's successor, or npos when unterminated.
size_t skip_quoted(std::string_view s, size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Index of the ',' ending the element that contains i (or s.size()), so
// that a ',' inside a quoted string does not split an element.
size_t skip_to_comma(std::string_view s, size_t i) {
  while (i < s.size() && s[i] != ',') {
    if (s[i] == '"') {
      i = skip_quoted(s, i);
      if (i == std::string_view::npos) return s.size();
    } else {
      ++i;
    }
  }
  return i;
}

// Parses the parameters after a coding, starting at s[i] (just past the
// coding). Returns the weight in thousandths, or kMalformed; *end is set to
// the index of the ',' (or s.size()) that ends the element.
int16_t parse_weight(std::string_view s, size_t i, size_t* end) {
  int16_t weight = 1000;
  i = skip_ows(s, i);
  while (i < s.size() && s[i] == ';') {
    i = skip_ows(s, i + 1);
    const size_t name_start = i;
    i = skip_token(s, i);
    const std::string_view name = s.substr(name_start, i - name_start);
    if (name.empty() || i >= s.size() || s[i] != '=') {
      *end = skip_to_comma(s, i);
      return kMalformed;
    }
    ++i;
    const size_t value_start = i;
    if (i < s.size() && s[i] == '"') {
      i = skip_quoted(s, i);
      if (i == std::string_view::npos) {
        *end = s.size();
        return kMalformed;
      }
      // A quoted qvalue is not a qvalue.
      if (name.size() == 1 && http::ascii_lower(name[0]) == 'q')
        weight = kMalformed;
    } else {
      i = skip_token(s, i);
      if (name.size() == 1 && http::ascii_lower(name[0]) == 'q') {
        const int q = parse_qvalue(s.substr(value_start, i - value_start));
        weight = q < 0 ? kMalformed : static_cast<int16_t>(q);
      }
    }
    i = skip_ows(s, i);
  }
  if (i < s.size() && s[i] != ',') {
    *end = skip_to_comma(s, i);
    return kMalformed;
  }
  *end = i;
  return weight;
}

void merge(int16_t* slot, int16_t weight) {
  if (weight == kMalformed) weight = 0;
  *slot = *slot == AcceptEncoding::kUnlisted ? weight : std::min(*slot, weight);
}

bool is_accept_encoding(std::string_view name) {
  return iequals(name, "accept-encoding");
}

}  // namespace

std::string_view coding_name(Coding c) {
  switch (c) {
    case Coding::Gzip:
      return "gzip";
    case Coding::Zstd:
      return "zstd";
    case Coding::Identity:
      break;
  }
  return "identity";
}

int parse_qvalue(std::string_view s) {
  if (s.empty() || s.size() > 5) return -1;
  if (s[0] != '0' && s[0] != '1') return -1;
  const int whole = s[0] - '0';
  if (s.size() == 1) return whole * 1000;
  if (s[1] != '.') return -1;
  int frac = 0;
  int scale = 100;
  for (size_t i = 2; i < s.size(); ++i, scale /= 10) {
    if (s[i] < '0' || s[i] > '9') return -1;
    frac += (s[i] - '0') * scale;
  }
  if (whole == 1 && frac != 0) return -1;
  return whole * 1000 + frac;
}

void AcceptEncoding::add(std::string_view v) {
  present_ = true;
  size_t i = 0;
  while (i < v.size()) {
    // Empty list elements and the OWS around commas (§5.6.1).
    if (v[i] == ',' || is_ows(v[i])) {
      ++i;
      continue;
    }
    const size_t start = i;
    i = skip_token(v, i);
    if (i == start) {
      // No coding at all (";q=1", a quote, a control byte): nothing to
      // refuse, nothing to accept.
      i = skip_to_comma(v, i);
      continue;
    }
    const Named named = classify(v.substr(start, i - start));
    size_t end = i;
    const int16_t weight = parse_weight(v, i, &end);
    i = end;
    switch (named) {
      case Named::Zstd:
        merge(&zstd_, weight);
        break;
      case Named::Gzip:
        merge(&gzip_, weight);
        break;
      case Named::Br:
        merge(&br_, weight);
        break;
      case Named::Identity:
        merge(&identity_, weight);
        break;
      case Named::Any:
        merge(&any_, weight);
        break;
      case Named::Other:
        break;
    }
  }
}

Coding AcceptEncoding::choose(CodingSet available) const {
  if (!present_) return Coding::Identity;
  auto effective = [this](int16_t named) {
    if (named != kUnlisted) return named;
    return any_ != kUnlisted ? any_ : int16_t{0};
  };
  Coding best = Coding::Identity;
  int16_t best_q = 0;
  // Preference order: a later candidate must beat, not tie.
  if (available & coding_bit(Coding::Zstd)) {
    const int16_t q = effective(zstd_);
    if (q > best_q) {
      best = Coding::Zstd;
      best_q = q;
    }
  }
  if (available & coding_bit(Coding::Gzip)) {
    const int16_t q = effective(gzip_);
    if (q > best_q) {
      best = Coding::Gzip;
      best_q = q;
    }
  }
  // Identity not named counts as q=0 here: acceptable, never preferred.
  if (best != Coding::Identity && effective(identity_) > best_q) {
    return Coding::Identity;
  }
  return best;
}

Coding negotiate_encoding(std::span<const std::string_view> field_values,
                          CodingSet available) {
  AcceptEncoding ae;
  for (std::string_view v : field_values) ae.add(v);
  return ae.choose(available);
}

Coding negotiate_encoding(const pounce_header_t* headers, size_t count,
                          CodingSet available) {
  AcceptEncoding ae;
  for (size_t i = 0; i < count; ++i) {
    const pounce_header_t& h = headers[i];
    if (h.name.len != 15) continue;
    if (!is_accept_encoding({h.name.data, h.name.len})) continue;
    ae.add({h.value.data, h.value.len});
  }
  return ae.choose(available);
}

}  // namespace pounce::pipeline
