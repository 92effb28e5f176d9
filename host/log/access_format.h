// --access-log-format: which facts one access-log line shows. The default,
// "combined", is the line the connection writes on its own fast path
// (Common Log Format plus the duration in seconds); "common" is the Common
// Log Format; "json" is one JSON object per line; any other value is a
// template of $variables. All are compiled once at startup into a list of
// ops that render() walks per request without parsing or allocating.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace pounce::tls {
struct SessionInfo;
}  // namespace pounce::tls

namespace pounce::log {

// The facts a line may show, gathered by the connection.
struct AccessFields {
  std::string_view remote_addr;  // "127.0.0.1", or "-" when unknown
  std::string_view time_local;   // "27/Nov/2026:18:36:07 +0000"
  std::string_view request;      // "GET / HTTP/1.1", or "-"
  std::string_view scheme;       // "http" or "https"
  // The request line's parts; when empty, render() takes them from
  // `request` (which the HTTP/1 connection always has).
  std::string_view method;
  std::string_view target;
  std::string_view protocol;    // "HTTP/1.1"
  std::string_view user_agent;  // empty when the request has none
  std::string_view request_id;  // X-Request-ID, kept or generated
  std::string_view mount;       // the plugin's mount prefix, or empty
  // The PROXY protocol v2 TLVs of the connection, or empty.
  std::string_view proxy_alpn;
  std::string_view proxy_authority;
  int status = 0;
  size_t body_bytes_sent = 0;
  double request_time = 0;                // seconds
  const tls::SessionInfo* tls = nullptr;  // null on cleartext
};

class AccessFormat {
 public:
  // The default value of --access-log-format.
  static constexpr std::string_view kDefaultName = "combined";
  // What "combined" renders, as a template.
  static constexpr std::string_view kCombined =
      "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent "
      "$request_time";
  // "common": the Common Log Format.
  static constexpr std::string_view kCommon =
      "$remote_addr - - [$time_local] \"$request\" $status $body_bytes_sent";
  // "json": in JSON mode every string variable renders as a JSON string
  // (or null when the request has no such value), so the template holds
  // no quotes of its own around them.
  static constexpr std::string_view kJson =
      "{\"time\":$time_iso8601,\"client\":$remote_addr,"
      "\"method\":$request_method,\"target\":$request_uri,"
      "\"protocol\":$server_protocol,\"status\":$status,"
      "\"bytes\":$body_bytes_sent,\"duration\":$request_time,"
      "\"request_id\":$request_id,\"mount\":$mount,"
      "\"tls_version\":$tls_version,\"user_agent\":$http_user_agent}";

  // Compiles "combined" or a template. Returns nullptr with *error set
  // (naming the offending variable or byte) when the template is invalid.
  static std::unique_ptr<AccessFormat> compile(std::string_view spec,
                                               std::string* error);

  // Whether this is the default line, which the connection writes without
  // the ops (the hello path's cost must not move).
  bool is_default() const { return default_; }

  // Writes one line, ending in '\n', into buf[0..cap) and returns its
  // length. A line longer than cap is cut, and still ends in '\n' (a cut
  // JSON line is then not valid JSON, but it is still one line). Every
  // value is escaped so that no request can break a line or forge a field:
  // in text formats a byte outside printable ASCII, '"' and '\' become
  // "\xHH" and an empty value prints "-"; in JSON, strings are escaped as
  // JSON requires, control bytes as \u00XX, and bytes that are not valid
  // UTF-8 become U+FFFD. cap must be at least 1.
  size_t render(const AccessFields& f, char* buf, size_t cap) const;

 private:
  enum class Var : uint8_t {
    Literal,
    RemoteAddr,
    TimeLocal,
    Request,
    Status,
    BodyBytesSent,
    RequestTime,
    Scheme,
    TlsVersion,
    TlsCipher,
    TlsSni,
    TlsAlpn,
    TlsResumed,
    TlsClientSubject,
    TlsClientVerify,
    Method,
    Target,
    Protocol,
    UserAgent,
    RequestId,
    Mount,
    TimeIso8601,
    ProxyAlpn,
    ProxyAuthority,
  };
  struct Op {
    Var var;
    uint32_t offset;  // Literal: into literals_
    uint32_t len;
  };
  static bool lookup(std::string_view name, Var* out);

  bool default_ = false;
  bool json_ = false;
  std::string literals_;
  std::vector<Op> ops_;
};

}  // namespace pounce::log
