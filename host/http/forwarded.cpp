#include "http/forwarded.h"

#include <arpa/inet.h>

#include <cstring>

#include "http/address_text.h"

namespace pounce::http {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Calls `visit(element)` for each non-empty element of a comma-separated
// list, left to right; commas inside quoted strings do not split. Stops
// when `visit` returns false. Returns false on an unterminated quote.
template <typename Visit>
bool for_each_element(std::string_view line, Visit&& visit) {
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= line.size(); ++i) {
    if (i < line.size()) {
      const char c = line[i];
      if (quoted) {
        if (c == '\\') {
          ++i;  // the escaped character
        } else if (c == '"') {
          quoted = false;
        }
        continue;
      }
      if (c == '"') {
        quoted = true;
        continue;
      }
      if (c != ',') continue;
    }
    const std::string_view element = trim(line.substr(start, i - start));
    start = i + 1;
    if (!element.empty() && !visit(element)) return true;
  }
  return !quoted;
}

enum class Pick : uint8_t { Found, Empty, Malformed };

// The `hops`-th element from the right across all lines (the leftmost one
// when there are fewer).
Pick pick_from_right(std::span<const std::string_view> lines, unsigned hops,
                     std::string_view* out) {
  std::string_view leftmost;
  bool any = false;
  unsigned remaining = hops;
  for (size_t l = lines.size(); l-- > 0;) {
    size_t count = 0;
    if (!for_each_element(lines[l], [&](std::string_view) {
          ++count;
          return true;
        })) {
      return Pick::Malformed;
    }
    if (count == 0) continue;
    if (remaining <= count) {
      const size_t want = count - remaining;
      size_t index = 0;
      for_each_element(lines[l], [&](std::string_view element) {
        if (index++ == want) {
          *out = element;
          return false;
        }
        return true;
      });
      return Pick::Found;
    }
    remaining -= static_cast<unsigned>(count);
    for_each_element(lines[l], [&](std::string_view element) {
      leftmost = element;
      return false;
    });
    any = true;
  }
  if (!any) return Pick::Empty;
  *out = leftmost;
  return Pick::Found;
}

// The value of a Forwarded parameter: a token, or a quoted string without
// escapes (addresses and protocols need none).
bool unquote(std::string_view value, std::string_view* out) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
    if (value.find('\\') != std::string_view::npos) return false;
  } else {
    // A token (RFC 9110 tchar): IPv6 addresses and ports must be quoted.
    for (char c : value) {
      const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                         (c >= 'A' && c <= 'Z');
      if (!alnum && std::string_view("!#$%&'*+-.^_`|~").find(c) ==
                        std::string_view::npos) {
        return false;
      }
    }
  }
  *out = value;
  return true;
}

bool parse_proto(std::string_view value, bool* https) {
  if (iequals(value, "https")) {
    *https = true;
    return true;
  }
  if (iequals(value, "http")) {
    *https = false;
    return true;
  }
  return false;
}

ForwardedResult malformed() {
  ForwardedResult r;
  r.outcome = ForwardedOutcome::Malformed;
  return r;
}

// One Forwarded element: `for=...;proto=...;by=...;host=...`.
ForwardedResult from_forwarded_element(std::string_view element) {
  ForwardedResult r;
  bool have_for = false;
  while (!element.empty()) {
    const size_t semi = element.find(';');
    const std::string_view pair = trim(element.substr(0, semi));
    element = semi == std::string_view::npos ? std::string_view()
                                             : element.substr(semi + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) return malformed();
    const std::string_view name = pair.substr(0, eq);
    std::string_view value;
    if (!unquote(pair.substr(eq + 1), &value)) return malformed();
    if (iequals(name, "for")) {
      if (have_for) return malformed();
      have_for = true;
      // "unknown" and obfuscated identifiers ("_hidden"): the proxy does
      // not tell; the caller keeps the peer's address.
      if (iequals(value, "unknown") || (!value.empty() && value[0] == '_')) {
        r.outcome = ForwardedOutcome::Hidden;
        continue;
      }
      if (!parse_forwarded_address(value, &r.client)) return malformed();
      r.outcome = ForwardedOutcome::Used;
    } else if (iequals(name, "proto")) {
      if (!parse_proto(value, &r.https)) return malformed();
      r.proto_given = true;
    }
  }
  if (!have_for) return malformed();
  if (r.outcome == ForwardedOutcome::Hidden) r.proto_given = false;
  return r;
}

}  // namespace

bool parse_forwarded_address(std::string_view text, sockaddr_storage* out) {
  uint16_t port = 0;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty() &&
        (rest.front() != ':' || !parse_port(rest.substr(1), &port))) {
      return false;
    }
    return parse_ip(text.substr(1, close - 1), true, port, out);
  }
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos &&
      text.find(':', colon + 1) == std::string_view::npos) {
    // One colon: IPv4 with a port.
    if (!parse_port(text.substr(colon + 1), &port)) return false;
    return parse_ip(text.substr(0, colon), false, port, out);
  }
  return parse_ip(text, colon != std::string_view::npos, 0, out);
}

ForwardedResult resolve_forwarded(const ForwardedHeaders& headers,
                                  unsigned hops) {
  if (hops == 0) hops = 1;
  std::string_view element;
  if (!headers.forwarded.empty()) {
    switch (pick_from_right(headers.forwarded, hops, &element)) {
      case Pick::Malformed:
        return malformed();
      case Pick::Found:
        return from_forwarded_element(element);
      case Pick::Empty:
        break;  // only empty lines: fall through to X-Forwarded-For
    }
  }
  ForwardedResult r;
  if (headers.x_forwarded_for.empty()) {
    // X-Forwarded-Proto alone: the proxy tells the scheme, not the client
    // (a balancer that gives the address by the PROXY protocol).
    std::string_view proto;
    if (headers.x_forwarded_proto.empty()) return r;
    switch (pick_from_right(headers.x_forwarded_proto, hops, &proto)) {
      case Pick::Malformed:
        return malformed();
      case Pick::Empty:
        return r;
      case Pick::Found:
        if (!parse_proto(proto, &r.https)) return malformed();
        r.proto_given = true;
        return r;
    }
    return r;
  }
  switch (pick_from_right(headers.x_forwarded_for, hops, &element)) {
    case Pick::Malformed:
      return malformed();
    case Pick::Empty:
      return {};
    case Pick::Found:
      break;
  }
  if (!parse_forwarded_address(element, &r.client)) return malformed();
  r.outcome = ForwardedOutcome::Used;
  if (!headers.x_forwarded_proto.empty()) {
    std::string_view proto;
    switch (pick_from_right(headers.x_forwarded_proto, hops, &proto)) {
      case Pick::Malformed:
        return malformed();
      case Pick::Empty:
        break;
      case Pick::Found:
        if (!parse_proto(proto, &r.https)) return malformed();
        r.proto_given = true;
        break;
    }
  }
  return r;
}

// --- AddressSet ----------------------------------------------------------

bool AddressSet::parse(std::string_view list, std::string* error) {
  std::vector<Range> ranges;
  bool ok = true;
  bool unix_peers = false;
  for_each_element(list, [&](std::string_view entry) {
    if (entry == "unix") {
      unix_peers = true;
      return true;
    }
    Range range;
    std::string_view address = entry;
    const size_t slash = entry.find('/');
    if (slash != std::string_view::npos) address = entry.substr(0, slash);
    sockaddr_storage parsed{};
    const bool ipv6 = address.find(':') != std::string_view::npos;
    if (!parse_ip(address, ipv6, 0, &parsed)) {
      ok = false;
      *error = "not an address or CIDR range: '" + std::string(entry) + "'";
      return false;
    }
    range.ipv6 = ipv6;
    if (ipv6) {
      std::memcpy(range.bytes,
                  &reinterpret_cast<sockaddr_in6*>(&parsed)->sin6_addr, 16);
    } else {
      std::memcpy(range.bytes,
                  &reinterpret_cast<sockaddr_in*>(&parsed)->sin_addr, 4);
    }
    const unsigned max_prefix = ipv6 ? 128 : 32;
    range.prefix = max_prefix;
    if (slash != std::string_view::npos) {
      const std::string_view bits = entry.substr(slash + 1);
      unsigned value = 0;
      bool digits = !bits.empty() && bits.size() <= 3;
      for (char c : bits) {
        if (c < '0' || c > '9') digits = false;
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
      if (!digits || value > max_prefix) {
        ok = false;
        *error = "bad prefix length in '" + std::string(entry) + "'";
        return false;
      }
      range.prefix = value;
    }
    ranges.push_back(range);
    return true;
  });
  if (!ok) return false;
  ranges_ = std::move(ranges);
  unix_ = unix_peers;
  return true;
}

bool AddressSet::matches(const Range& range, const uint8_t* bytes,
                         bool ipv6) const {
  if (range.ipv6 != ipv6) return false;
  unsigned bits = range.prefix;
  for (size_t i = 0; bits > 0; ++i) {
    const unsigned take = bits >= 8 ? 8 : bits;
    const auto mask = static_cast<uint8_t>(0xff << (8 - take));
    if ((range.bytes[i] & mask) != (bytes[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

bool AddressSet::contains(const sockaddr* address) const {
  uint8_t bytes[16];
  bool ipv6 = false;
  if (address->sa_family == AF_INET) {
    std::memcpy(bytes, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr,
                4);
  } else if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(bytes, in6->sin6_addr.s6_addr + 12, 4);
    } else {
      std::memcpy(bytes, in6->sin6_addr.s6_addr, 16);
      ipv6 = true;
    }
  } else {
    return address->sa_family == AF_UNIX && unix_;
  }
  for (const Range& range : ranges_) {
    if (matches(range, bytes, ipv6)) return true;
  }
  return false;
}

}  // namespace pounce::http
