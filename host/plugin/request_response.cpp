#include "plugin/request_response.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>

#include "http/char_class.h"
#include "log/logger.h"

namespace pounce {

// The plugin allocates *out and says how large it is: every field the 1.0
// struct has is required, and the host writes nothing past out->size (a
// field appended later would be written only when `size` covers it).
constexpr size_t kAddrSize10 = offsetof(pounce_addr_t, text) + 48;
static_assert(sizeof(pounce_addr_t) >= kAddrSize10);
static_assert(POUNCE_AF_INET == 2 && POUNCE_AF_INET6 == 10,
              "1.0 plugins compare against Linux's AF_* numbers");

int format_address(const sockaddr* sa, pounce_addr_t* out) {
  if (!out || out->size < kAddrSize10) return POUNCE_ERR_INVALID;
  out->family = POUNCE_AF_UNSPEC;
  out->port = 0;
  out->text[0] = '\0';
  if (!sa) return POUNCE_ERR_INVALID;
  // The OS's AF_* numbers are translated: pounce_addr_t.family carries
  // Pounce's constants, which equal Linux's but not every system's.
  int32_t family;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, out->text, sizeof out->text);
    out->port = ntohs(in->sin_port);
    family = POUNCE_AF_INET;
  } else if (sa->sa_family == AF_INET6) {
    auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &in6->sin6_addr, out->text, sizeof out->text);
    out->port = ntohs(in6->sin6_port);
    family = POUNCE_AF_INET6;
  } else if (sa->sa_family == AF_UNIX) {
    // A Unix socket listener (--listen unix:PATH). Its clients are unnamed:
    // "unix:" says where they came from, as nginx's $remote_addr does.
    snprintf(out->text, sizeof out->text, "unix:");
    family = POUNCE_AF_UNIX;
  } else {
    return POUNCE_ERR_INVALID;
  }
  out->family = family;
  return POUNCE_OK;
}

namespace {

// What a response header's name says about it.
enum class Special {
  None,
  Framing,
  HostOwned,
  ContentType,
  ContentEncoding,
  ETag
};

// Appends "n: v\r\n" to res->headers and notes what `special` says.
int append_header_line(pounce_response* res, std::string_view n,
                       std::string_view v, Special special);

// Why a plugin's response header (response_header, response_early_hints)
// is refused, or nullptr when it is not; *special says what the name is.
const char* header_fault(std::string_view n, std::string_view v,
                         Special* special) {
  *special = Special::None;
  if (n.empty()) return "empty name";
  for (unsigned char c : n) {
    if (!(http::cc::kClass[c] & http::cc::kTchar)) {
      return "invalid character in name";
    }
  }
  // A value must not carry CR, LF, NUL or another CTL: that would split the
  // response (RFC 9110 §5.5).
  for (unsigned char c : v) {
    if (!(http::cc::kClass[c] & http::cc::kFieldValue)) {
      return "control character in value";
    }
  }
  // The host owns the framing (ARCHITECTURE.md §4), and with it the
  // connection-specific fields RFC 9113 §8.2.2 forbids in HTTP/2
  // (Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding,
  // Upgrade): refused whatever protocol carries the response, so that a
  // plugin gets the same 500 over both. Dispatch on the length first: most
  // names match none of these and cost one switch.
  switch (n.size()) {
    case 4:
      if (iequals(n, "date")) *special = Special::HostOwned;
      if (iequals(n, "etag")) *special = Special::ETag;
      break;
    case 6:
      if (iequals(n, "server")) *special = Special::HostOwned;
      break;
    case 7:
      if (iequals(n, "upgrade")) *special = Special::Framing;
      break;
    case 10:
      if (iequals(n, "connection") || iequals(n, "keep-alive")) {
        *special = Special::Framing;
      }
      break;
    case 12:
      if (iequals(n, "content-type")) *special = Special::ContentType;
      break;
    case 14:
      if (iequals(n, "content-length")) *special = Special::Framing;
      break;
    case 16:
      if (iequals(n, "content-encoding")) *special = Special::ContentEncoding;
      if (iequals(n, "proxy-connection")) *special = Special::Framing;
      break;
    case 17:
      if (iequals(n, "transfer-encoding")) *special = Special::Framing;
      break;
    default:
      break;
  }
  if (*special == Special::Framing) return "a framing header the host owns";
  if (*special == Special::HostOwned) return "a header the host sets";
  return nullptr;
}

std::string_view view_of(pounce_str_t s) {
  return s.data ? std::string_view(s.data, s.len) : std::string_view();
}

// Optional whitespace around a value goes, as a parser would drop it.
std::string_view trim_value(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  return v;
}

}  // namespace

int add_response_header(pounce_response* res, pounce_str_t name,
                        pounce_str_t value) {
  if (!res) return POUNCE_ERR_INVALID;
  std::string_view n = view_of(name);
  std::string_view v = view_of(value);
  Special special;
  const char* why = header_fault(n, v, &special);
  if (special == Special::HostOwned) {
    LOG_WARN("plugin %s: ignoring response header %.*s, which the host sets",
             res->plugin_name, static_cast<int>(n.size()), n.data());
    return POUNCE_ERR_INVALID;
  }
  if (why) {
    // The first fault decides the 500; later calls change nothing.
    if (res->error == http::ErrorCode::None) {
      res->error = special == Special::Framing
                       ? http::ErrorCode::FramingHeaderSet
                       : http::ErrorCode::InvalidResponseHeader;
      LOG_ERROR("plugin %s: %s in response header \"%.*s\"; answering 500",
                res->plugin_name, why,
                static_cast<int>(n.size() > 64 ? 64 : n.size()), n.data());
    }
    return POUNCE_ERR_INVALID;
  }
  return append_header_line(res, n, trim_value(v), special);
}

int add_host_header(pounce_response* res, std::string_view name,
                    std::string_view value) {
  Special special = Special::None;
  if (name == "Content-Type") {
    special = Special::ContentType;
  } else if (name == "ETag") {
    special = Special::ETag;
  } else if (name == "Content-Encoding") {
    special = Special::ContentEncoding;
  }
  return append_header_line(res, name, value, special);
}

namespace {

int append_header_line(pounce_response* res, std::string_view n,
                       std::string_view v, Special special) {
  ByteBuffer& h = res->headers;
  char* p = h.prepare(n.size() + v.size() + 4);
  if (!p) {
    // The headers so far are intact; this one is not added.
    h.forget_failure();
    return POUNCE_ERR_NOMEM;
  }
  copy_view(p, n);
  p[n.size()] = ':';
  p[n.size() + 1] = ' ';
  copy_view(p + n.size() + 2, v);
  p[n.size() + 2 + v.size()] = '\r';
  p[n.size() + 3 + v.size()] = '\n';
  uint32_t value_offset = static_cast<uint32_t>(h.size() + n.size() + 2);
  h.commit(n.size() + v.size() + 4);
  if (special == Special::ContentType) {
    res->has_content_type = true;
    res->content_type_offset = value_offset;
    res->content_type_len = static_cast<uint32_t>(v.size());
  } else if (special == Special::ContentEncoding) {
    res->has_content_encoding = true;
  } else if (special == Special::ETag) {
    res->has_etag = true;
    res->etag_offset = value_offset;
    res->etag_len = static_cast<uint32_t>(v.size());
  }
  return POUNCE_OK;
}

}  // namespace

int adopt_plugin_file(int fd, uint64_t offset, uint64_t length,
                      exchange::OpenFile** out, const char** why) {
  *out = nullptr;
  *why = nullptr;
  if (fd < 0) {
    *why = "a negative file descriptor";
    return POUNCE_ERR_INVALID;
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    *why = "a descriptor fstat() refuses";
    return POUNCE_ERR_INVALID;
  }
  // Only a regular file has a size to frame the body with and a page cache
  // for sendfile to read from: a pipe or a socket would block the loop.
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    *why = S_ISDIR(st.st_mode) ? "a directory" : "not a regular file";
    return POUNCE_ERR_INVALID;
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || length > size - offset) {
    ::close(fd);
    *why = "a range past the end of the file";
    return POUNCE_ERR_INVALID;
  }
  *out = exchange::OpenFile::adopt(fd, st);  // closes fd when it fails
  return *out ? POUNCE_OK : POUNCE_ERR_NOMEM;
}

int format_early_hints(const pounce_response* res,
                       const pounce_header_t* headers, size_t count,
                       std::string* lines) {
  if (!res || !headers || count == 0 || !lines) return POUNCE_ERR_INVALID;
  lines->clear();
  try {
    for (size_t i = 0; i < count; ++i) {
      std::string_view n = view_of(headers[i].name);
      std::string_view v = view_of(headers[i].value);
      Special special;
      if (const char* why = header_fault(n, v, &special)) {
        // Hints are advisory: the final response is not affected.
        LOG_ERROR("plugin %s: %s in early hint \"%.*s\"; no 103 sent",
                  res->plugin_name, why,
                  static_cast<int>(n.size() > 64 ? 64 : n.size()), n.data());
        lines->clear();
        return POUNCE_ERR_INVALID;
      }
      v = trim_value(v);
      if (lines->size() + n.size() + v.size() + 4 > kMaxEarlyHintsBytes) {
        lines->clear();
        return POUNCE_ERR_TOO_LARGE;
      }
      lines->append(n).append(": ").append(v).append("\r\n");
    }
  } catch (const std::bad_alloc&) {
    lines->clear();
    return POUNCE_ERR_NOMEM;
  }
  return POUNCE_OK;
}

}  // namespace pounce
