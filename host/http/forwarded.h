// Who the client is behind trusted proxies: `--forwarded-allow-ips` (the
// peers whose forwarding headers are believed) and the right-to-left walk
// through RFC 7239 `Forwarded` or `X-Forwarded-For` / `X-Forwarded-Proto`.
//
// Only the proxies we trust may tell us who their client was, and each
// proxy appends the address it saw on the right. So the walk starts at the
// right end and takes the `hops`-th address from there (hops = how many of
// our proxies stand in a row in front of us). Anything further left was
// written by someone we do not know and is not believed. A header that
// does not parse makes the whole answer "not believed": the peer's own
// address stays, which is what the client would get without the header.
//
// Pure logic, no allocation per request: header values are views.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pounce::http {

// A set of address ranges (`10.0.0.0/8,::1,2001:db8::/32`). IPv4 ranges
// also match IPv4-mapped IPv6 peers (::ffff:10.1.2.3), as a dual-stack
// listener reports them. The entry `unix` matches peers on a Unix socket
// (a proxy on the same machine).
class AddressSet {
 public:
  // Parses a comma-separated list of addresses and CIDR ranges; on error
  // returns false and says which entry in `*error`.
  bool parse(std::string_view list, std::string* error);
  bool contains(const sockaddr* address) const;
  bool empty() const { return ranges_.empty() && !unix_; }

 private:
  struct Range {
    bool ipv6 = false;
    uint8_t bytes[16] = {};
    unsigned prefix = 0;  // bits
  };
  bool matches(const Range& range, const uint8_t* bytes, bool ipv6) const;
  std::vector<Range> ranges_;
  bool unix_ = false;
};

// The forwarding header lines of one request, each in the order received
// (a header sent on several lines is one comma-separated list).
struct ForwardedHeaders {
  std::span<const std::string_view> forwarded;          // RFC 7239
  std::span<const std::string_view> x_forwarded_for;    // addresses
  std::span<const std::string_view> x_forwarded_proto;  // http | https
};

enum class ForwardedOutcome : uint8_t {
  NotPresent,  // no forwarding header: the peer is the client
  Used,        // `client` (and maybe `https`) came from the headers
  Hidden,      // Forwarded says for=unknown or an obfuscated name: the
               // peer's address stays
  Malformed,   // a header did not parse: nothing in it is believed
};

struct ForwardedResult {
  ForwardedOutcome outcome = ForwardedOutcome::NotPresent;
  sockaddr_storage client{};  // when Used: port 0 unless the header gave one
  // Whether a header gave the protocol (with a Used client, or
  // X-Forwarded-Proto alone: then the outcome is NotPresent), and whether
  // it was https.
  bool proto_given = false;
  bool https = false;
};

// Resolves the client of a request from a trusted peer (the caller checks
// AddressSet::contains(peer) first). `Forwarded` is preferred when present:
// it is the standard, and a proxy that writes it writes the address and
// the protocol together. `hops` is at least 1.
ForwardedResult resolve_forwarded(const ForwardedHeaders& headers,
                                  unsigned hops);

// Parses one address as forwarding headers write it: `192.0.2.1`,
// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:4711` or `192.0.2.1:80`.
bool parse_forwarded_address(std::string_view text, sockaddr_storage* out);

}  // namespace pounce::http
