#include "log/access_format.h"

#include <algorithm>
#include <cstdio>

#include "tls/session_info.h"

namespace pounce::log {

namespace {

size_t utf8_length(const unsigned char* p, size_t n);

// Appends to a fixed buffer, keeping the last byte for the '\n'.
class LineWriter {
 public:
  LineWriter(char* buf, size_t cap) : p_(buf), end_(buf + cap - 1) {}

  void raw(std::string_view s) {
    size_t n = s.size() < room() ? s.size() : room();
    for (size_t i = 0; i < n; ++i) p_[i] = s[i];
    p_ += n;
  }
  // A value from the request or the TLS handshake: the client chose its
  // bytes, so nothing in it may end the line or close a quoted field.
  void value(std::string_view s) {
    if (s.empty()) {
      raw("-");
      return;
    }
    static const char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        if (room() < 1) return;
        *p_++ = static_cast<char>(c);
      } else {
        if (room() < 4) return;
        *p_++ = '\\';
        *p_++ = 'x';
        *p_++ = kHex[c >> 4];
        *p_++ = kHex[c & 0xf];
      }
    }
  }
  // A JSON string value: quoted, escaped, valid UTF-8 (invalid bytes become
  // U+FFFD); an empty value is null.
  void json(std::string_view s) {
    if (s.empty()) {
      raw("null");
      return;
    }
    if (room() < 2) return;
    *p_++ = '"';
    static const char kHex[] = "0123456789abcdef";
    const auto* b = reinterpret_cast<const unsigned char*>(s.data());
    const size_t n = s.size();
    // Stops one byte short, so that the closing quote always fits.
    for (size_t i = 0; i < n;) {
      const unsigned char c = b[i];
      if (c >= 0x20 && c < 0x7f) {
        if (c == '"' || c == '\\') {
          if (room() < 3) break;
          *p_++ = '\\';
        } else if (room() < 2) {
          break;
        }
        *p_++ = static_cast<char>(c);
        ++i;
        continue;
      }
      if (c < 0x80) {  // control bytes and DEL
        if (room() < 7) break;
        *p_++ = '\\';
        *p_++ = 'u';
        *p_++ = '0';
        *p_++ = '0';
        *p_++ = kHex[c >> 4];
        *p_++ = kHex[c & 0xf];
        ++i;
        continue;
      }
      const size_t len = utf8_length(b + i, n - i);
      if (len == 0) {
        if (room() < 7) break;
        raw("\\ufffd");
        ++i;
        continue;
      }
      if (room() < len + 1) break;
      for (size_t k = 0; k < len; ++k) *p_++ = static_cast<char>(b[i + k]);
      i += len;
    }
    *p_++ = '"';
  }
  template <typename... Args>
  void format(const char* fmt, Args... args) {
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, fmt, args...);
    if (n > 0) raw(std::string_view(tmp, static_cast<size_t>(n)));
  }
  size_t finish(char* buf) {
    *p_++ = '\n';
    return static_cast<size_t>(p_ - buf);
  }

 private:
  size_t room() const { return static_cast<size_t>(end_ - p_); }
  char* p_;
  char* end_;
};

// The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_length(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  size_t len;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((p[k] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (p[k] & 0x3f);
  }
  if (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) return 0;
  if (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) return 0;
  return len;
}

// "GET /x HTTP/1.1" -> its three parts (empty when it has not three).
void split_request_line(std::string_view line, std::string_view* method,
                        std::string_view* target, std::string_view* protocol) {
  const size_t first = line.find(' ');
  const size_t last = line.rfind(' ');
  if (first == std::string_view::npos || first == last) return;
  *method = line.substr(0, first);
  *target = line.substr(first + 1, last - first - 1);
  *protocol = line.substr(last + 1);
}

// "27/Nov/2026:18:36:07 +0000" -> "2026-11-27T18:36:07+00:00" in out[26];
// returns the length, or 0 when the input is not in that form.
size_t iso8601_from_clf(std::string_view clf, char* out) {
  static constexpr std::string_view kMonths =
      "JanFebMarAprMayJunJulAugSepOctNovDec";
  if (clf.size() != 26 || clf[2] != '/' || clf[6] != '/' || clf[20] != ' ') {
    return 0;
  }
  const size_t m = kMonths.find(clf.substr(3, 3));
  if (m == std::string_view::npos || m % 3 != 0) return 0;
  const int month = static_cast<int>(m / 3) + 1;
  const std::string_view day = clf.substr(0, 2);
  const std::string_view year = clf.substr(7, 4);
  const std::string_view hms = clf.substr(12, 8);
  const std::string_view zone = clf.substr(21, 5);
  char* p = out;
  auto put = [&](std::string_view v) {
    for (char c : v) *p++ = c;
  };
  put(year);
  *p++ = '-';
  *p++ = static_cast<char>('0' + month / 10);
  *p++ = static_cast<char>('0' + month % 10);
  *p++ = '-';
  put(day);
  *p++ = 'T';
  put(hms);
  put(zone.substr(0, 3));
  *p++ = ':';
  put(zone.substr(3, 2));
  return static_cast<size_t>(p - out);
}

}  // namespace

bool AccessFormat::lookup(std::string_view name, Var* out) {
  static constexpr struct {
    std::string_view name;
    Var var;
  } kVars[] = {
      {"remote_addr", Var::RemoteAddr},
      {"time_local", Var::TimeLocal},
      {"request", Var::Request},
      {"status", Var::Status},
      {"body_bytes_sent", Var::BodyBytesSent},
      {"request_time", Var::RequestTime},
      {"scheme", Var::Scheme},
      {"tls_version", Var::TlsVersion},
      {"tls_cipher", Var::TlsCipher},
      {"tls_sni", Var::TlsSni},
      {"tls_alpn", Var::TlsAlpn},
      {"tls_resumed", Var::TlsResumed},
      {"tls_client_subject", Var::TlsClientSubject},
      {"tls_client_verify", Var::TlsClientVerify},
      {"request_method", Var::Method},
      {"request_uri", Var::Target},
      {"server_protocol", Var::Protocol},
      {"http_user_agent", Var::UserAgent},
      {"request_id", Var::RequestId},
      {"mount", Var::Mount},
      {"time_iso8601", Var::TimeIso8601},
      {"proxy_protocol_tlv_alpn", Var::ProxyAlpn},
      {"proxy_protocol_tlv_authority", Var::ProxyAuthority},
  };
  for (const auto& v : kVars) {
    if (v.name == name) {
      *out = v.var;
      return true;
    }
  }
  return false;
}

std::unique_ptr<AccessFormat> AccessFormat::compile(std::string_view spec,
                                                    std::string* error) {
  auto f = std::make_unique<AccessFormat>();
  std::string_view text = spec;
  if (spec == kDefaultName) {
    f->default_ = true;
    text = kCombined;
  } else if (spec == "common") {
    text = kCommon;
  } else if (spec == "json") {
    f->json_ = true;
    text = kJson;
  }
  if (text.empty()) {
    *error =
        "empty format (use combined, common, json, or a template of "
        "$variables)";
    return nullptr;
  }
  if (text.size() > 4096) {
    *error = "format longer than 4096 bytes";
    return nullptr;
  }
  auto literal = [&](std::string_view s) {
    if (s.empty()) return;
    if (!f->ops_.empty() && f->ops_.back().var == Var::Literal) {
      f->ops_.back().len += static_cast<uint32_t>(s.size());
    } else {
      f->ops_.push_back({Var::Literal,
                         static_cast<uint32_t>(f->literals_.size()),
                         static_cast<uint32_t>(s.size())});
    }
    f->literals_.append(s);
  };
  auto is_name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c != '$') {
      // The template is written by the operator, yet a newline in it would
      // still split every line in two for whoever parses the log.
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        char buf[64];
        snprintf(buf, sizeof buf, "control byte 0x%02X at offset %zu", c, i);
        *error = buf;
        return nullptr;
      }
      size_t j = text.find('$', i);
      if (j == std::string_view::npos) j = text.size();
      // Control bytes inside the run are caught on the next turn.
      size_t k = i;
      while (k < j) {
        unsigned char b = static_cast<unsigned char>(text[k]);
        if ((b < 0x20 && b != '\t') || b == 0x7f) break;
        ++k;
      }
      literal(text.substr(i, k - i));
      i = k;
      continue;
    }
    // "$$" is a literal '$'; "${name}" separates a name from the text after.
    if (i + 1 < text.size() && text[i + 1] == '$') {
      literal("$");
      i += 2;
      continue;
    }
    std::string_view name;
    size_t next;
    if (i + 1 < text.size() && text[i + 1] == '{') {
      size_t close = text.find('}', i + 2);
      if (close == std::string_view::npos) {
        *error = "unterminated ${ at offset " + std::to_string(i);
        return nullptr;
      }
      name = text.substr(i + 2, close - i - 2);
      next = close + 1;
    } else {
      size_t j = i + 1;
      while (j < text.size() && is_name_char(text[j])) ++j;
      name = text.substr(i + 1, j - i - 1);
      next = j;
    }
    Var var;
    if (name.empty()) {
      *error = "a '$' without a variable name at offset " + std::to_string(i) +
               " (write $$ for a dollar sign)";
      return nullptr;
    }
    if (!lookup(name, &var)) {
      *error = "unknown variable $" + std::string(name);
      return nullptr;
    }
    f->ops_.push_back({var, 0, 0});
    i = next;
  }
  // A bare word is a format name, never a template that prints itself on
  // every line.
  bool any_var = false;
  for (const Op& op : f->ops_) any_var |= op.var != Var::Literal;
  if (!any_var) {
    *error = "unknown format " + std::string(spec) +
             " (use combined, common, json, or a template of $variables)";
    return nullptr;
  }
  return f;
}

size_t AccessFormat::render(const AccessFields& f, char* buf,
                            size_t cap) const {
  LineWriter w(buf, cap);
  const tls::SessionInfo* t = f.tls;
  const bool json = json_;
  auto str = [&w, json](std::string_view v) {
    if (json) {
      w.json(v);
    } else {
      w.value(v);
    }
  };
  std::string_view method = f.method, target = f.target, protocol = f.protocol;
  if (method.empty() && target.empty() && protocol.empty()) {
    split_request_line(f.request, &method, &target, &protocol);
  }
  for (const Op& op : ops_) {
    switch (op.var) {
      case Var::Literal:
        w.raw(std::string_view(literals_.data() + op.offset, op.len));
        break;
      case Var::RemoteAddr:
        str(f.remote_addr);
        break;
      case Var::TimeLocal:
        str(f.time_local);
        break;
      case Var::Request:
        str(f.request);
        break;
      case Var::Status:
        w.format("%d", f.status);
        break;
      case Var::BodyBytesSent:
        w.format("%zu", f.body_bytes_sent);
        break;
      case Var::RequestTime:
        w.format("%.6f", f.request_time);
        break;
      case Var::Scheme:
        str(f.scheme);
        break;
      case Var::TlsVersion:
        str(t ? std::string_view(t->version) : std::string_view());
        break;
      case Var::TlsCipher:
        str(t ? std::string_view(t->cipher) : std::string_view());
        break;
      case Var::TlsSni:
        str(t ? std::string_view(t->sni) : std::string_view());
        break;
      case Var::TlsAlpn:
        str(t ? std::string_view(t->alpn) : std::string_view());
        break;
      case Var::TlsResumed:
        // nginx's $ssl_session_reused spelling: "r" resumed, "." full.
        str(!t ? std::string_view() : t->resumed ? "r" : ".");
        break;
      case Var::TlsClientSubject:
        str(t && t->has_client_cert ? std::string_view(t->subject)
                                    : std::string_view());
        break;
      case Var::TlsClientVerify:
        // nginx's $ssl_client_verify spelling.
        if (!t) {
          str({});
        } else if (!t->has_client_cert) {
          str("NONE");
        } else if (t->verify_result == 0) {
          str("SUCCESS");
        } else if (json) {
          char failed[256];
          const int n = snprintf(failed, sizeof failed, "FAILED:%.*s",
                                 static_cast<int>(t->verify_text.size()),
                                 t->verify_text.data());
          w.json(std::string_view(
              failed,
              n > 0 ? std::min(static_cast<size_t>(n), sizeof failed - 1) : 0));
        } else {
          w.raw("FAILED:");
          str(t->verify_text);
        }
        break;
      case Var::Method:
        str(method);
        break;
      case Var::Target:
        str(target);
        break;
      case Var::Protocol:
        str(protocol);
        break;
      case Var::UserAgent:
        str(f.user_agent);
        break;
      case Var::RequestId:
        str(f.request_id);
        break;
      case Var::Mount:
        str(f.mount);
        break;
      case Var::ProxyAlpn:
        str(f.proxy_alpn);
        break;
      case Var::ProxyAuthority:
        str(f.proxy_authority);
        break;
      case Var::TimeIso8601: {
        char iso[32];
        str(std::string_view(iso, iso8601_from_clf(f.time_local, iso)));
        break;
      }
    }
  }
  return w.finish(buf);
}

}  // namespace pounce::log
