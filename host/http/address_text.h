// IP addresses and ports as text, the way the PROXY protocol v1 line and
// the forwarding headers (X-Forwarded-For, RFC 7239 Forwarded) and
// --forwarded-allow-ips write them: decimal ports, IPv4 dotted quads and
// IPv6 in RFC 4291 text (without brackets). Nothing is allocated.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string_view>

namespace pounce::http {

// A port: 1 to 5 decimal digits, at most 65535 (leading zeros allowed, as
// both formats do). False for anything else.
bool parse_port(std::string_view text, uint16_t* port);

// Fills `*out` (sockaddr_in, or sockaddr_in6 when `ipv6`) with the address
// in `text` and `port`. False when `text` is not an address of that family;
// `*out` is then unspecified.
bool parse_ip(std::string_view text, bool ipv6, uint16_t port,
              sockaddr_storage* out);

}  // namespace pounce::http
