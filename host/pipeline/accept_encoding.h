// Accept-Encoding negotiation (RFC 9110 §12.5.3, ARCHITECTURE.md §5): which
// content coding a response gets. Pure; allocates nothing; runs per request
// when compression is on.
//
// Rules, in the order they apply:
// - No Accept-Encoding field at all -> Identity. RFC 9110 would allow any
//   coding, but a client that says nothing is usually a script or a probe.
// - An empty field value ("Accept-Encoding:") -> Identity (§12.5.3).
// - Codings are case-insensitive; "x-gzip" is gzip (§8.4.1.3). Codings we do
//   not produce (br, deflate, ...) are ignored.
// - "*" gives its weight to every coding not listed by name, identity
//   included.
// - q=0 excludes a coding. Identity is the fallback whatever the client says:
//   we never answer 406, so "identity;q=0" or "*;q=0" with nothing else
//   acceptable still gets an uncompressed response.
// - The highest q wins; ties go zstd > gzip > identity. Identity not named
//   (neither by itself nor through "*") is acceptable but never preferred, so
//   "gzip;q=0.5" alone gives gzip.
// - A coding named twice (in one line or across lines) takes its lowest q: a
//   refusal anywhere sticks.
// - An element we cannot read is a refusal of its coding (q=0): a malformed
//   qvalue ("q=1.5", "q=0.1234", "q=.5", "q=", "q = 1"), or junk after the
//   coding. If we cannot tell what the client said about gzip, we do not send
//   gzip. Parameters other than q (not in the grammar) are skipped.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pounce::pipeline {

enum class Coding : uint8_t { Identity, Gzip, Zstd };

// The Content-Encoding token: "identity", "gzip", "zstd".
std::string_view coding_name(Coding c);

// A set of codings the server is willing to produce (for example only gzip
// when zstd is switched off). Identity is always available.
using CodingSet = uint8_t;
constexpr CodingSet coding_bit(Coding c) {
  return static_cast<CodingSet>(1u << static_cast<unsigned>(c));
}
constexpr CodingSet kAllCodings = coding_bit(Coding::Identity) |
                                  coding_bit(Coding::Gzip) |
                                  coding_bit(Coding::Zstd);

// Accumulates the Accept-Encoding field lines of one request, then chooses.
// Trivially constructible and copyable: keep it on the stack.
class AcceptEncoding {
 public:
  // Adds one field line's value (a comma-separated list; several lines are
  // one list, RFC 9110 §5.3).
  void add(std::string_view field_value);
  // True once add() has been called, even with an empty value.
  bool present() const { return present_; }
  Coding choose(CodingSet available = kAllCodings) const;

  // Weights in thousandths (0..1000), or kUnlisted. For tests.
  static constexpr int16_t kUnlisted = -1;
  int16_t weight_zstd() const { return zstd_; }
  int16_t weight_gzip() const { return gzip_; }
  int16_t weight_identity() const { return identity_; }
  int16_t weight_any() const { return any_; }
  // br is never produced on the fly; it is read for the precompressed
  // variants of static files (host/static/), which pick among zstd, br and
  // gzip with accepts() below.
  int16_t weight_br() const { return br_; }
  // The weight a coding named with `named` (one of the weight_*() values)
  // effectively has: its own, else that of "*", else 0.
  int16_t accepts(int16_t named) const {
    if (named != kUnlisted) return named;
    return any_ != kUnlisted ? any_ : int16_t{0};
  }

 private:
  int16_t zstd_ = kUnlisted;
  int16_t gzip_ = kUnlisted;
  int16_t identity_ = kUnlisted;
  int16_t any_ = kUnlisted;  // "*"
  int16_t br_ = kUnlisted;
  bool present_ = false;
};

// Parses an RFC 9110 §12.4.2 qvalue ("0", "0.5", "1.000", at most three
// decimals) into thousandths. Returns -1 when malformed.
int parse_qvalue(std::string_view s);

// One call for the common cases. An empty span means "no Accept-Encoding
// field" (Identity).
Coding negotiate_encoding(std::span<const std::string_view> field_values,
                          CodingSet available = kAllCodings);
// Scans a request's header array (names matched case-insensitively), as the
// head parser fills it.
Coding negotiate_encoding(const pounce_header_t* headers, size_t count,
                          CodingSet available = kAllCodings);

}  // namespace pounce::pipeline
