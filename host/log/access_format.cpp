#include "log/access_format.h"

#include <cstdio>

#include "tls/session_info.h"

namespace pounce::log {

namespace {

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
  }
  if (text.empty()) {
    *error = "empty format (use combined, or a template of $variables)";
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
  // A bare word is a format name ("common" and "json" are planned), never
  // a template that prints itself on every line.
  bool any_var = false;
  for (const Op& op : f->ops_) any_var |= op.var != Var::Literal;
  if (!any_var) {
    *error = "unknown format " + std::string(spec) +
             " (use combined, or a template of $variables)";
    return nullptr;
  }
  return f;
}

size_t AccessFormat::render(const AccessFields& f, char* buf,
                            size_t cap) const {
  LineWriter w(buf, cap);
  const tls::SessionInfo* t = f.tls;
  for (const Op& op : ops_) {
    switch (op.var) {
      case Var::Literal:
        w.raw(std::string_view(literals_.data() + op.offset, op.len));
        break;
      case Var::RemoteAddr:
        w.value(f.remote_addr);
        break;
      case Var::TimeLocal:
        w.value(f.time_local);
        break;
      case Var::Request:
        w.value(f.request);
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
        w.value(f.scheme);
        break;
      case Var::TlsVersion:
        w.value(t ? std::string_view(t->version) : std::string_view());
        break;
      case Var::TlsCipher:
        w.value(t ? std::string_view(t->cipher) : std::string_view());
        break;
      case Var::TlsSni:
        w.value(t ? std::string_view(t->sni) : std::string_view());
        break;
      case Var::TlsAlpn:
        w.value(t ? std::string_view(t->alpn) : std::string_view());
        break;
      case Var::TlsResumed:
        // nginx's $ssl_session_reused spelling: "r" resumed, "." full.
        w.value(!t ? std::string_view() : t->resumed ? "r" : ".");
        break;
      case Var::TlsClientSubject:
        w.value(t && t->has_client_cert ? std::string_view(t->subject)
                                        : std::string_view());
        break;
      case Var::TlsClientVerify:
        // nginx's $ssl_client_verify spelling.
        if (!t) {
          w.value({});
        } else if (!t->has_client_cert) {
          w.value("NONE");
        } else if (t->verify_result == 0) {
          w.value("SUCCESS");
        } else {
          w.raw("FAILED:");
          w.value(t->verify_text);
        }
        break;
    }
  }
  return w.finish(buf);
}

}  // namespace pounce::log
