#include "net/response_head.h"

#include <cstring>

#include "http/status_text.h"

namespace pounce::http1 {

namespace {
constexpr std::string_view kServer = "Server: pounce\r\n";
}

void write_response_head(ByteBuffer& out, const exchange::ResponseStart& h,
                         const HeadFraming& f) {
  std::string_view status_line = http::status_line(h.status);
  size_t need = status_line.size() + f.date_header.size() + kServer.size() +
                h.headers.size() + h.content_encoding.size() +
                h.server_timing.size() + f.request_id.size() + 176;
  char* start = out.prepare(need);
  if (!start) return;  // out.failed() tells the caller
  char* p = start;
  auto put = [&p](std::string_view s) { p = copy_view(p, s); };
  put(status_line);
  put(f.date_header);
  put(kServer);
  put(h.headers);
  if (!h.content_encoding.empty()) {
    put("Content-Encoding: ");
    put(h.content_encoding);
    put("\r\n");
  }
  if (h.vary_accept_encoding) put("Vary: Accept-Encoding\r\n");
  if (!h.server_timing.empty()) {
    put("Server-Timing: ");
    put(h.server_timing);
    put("\r\n");
  }
  if (!f.request_id.empty()) {
    put("X-Request-ID: ");
    put(f.request_id);
    put("\r\n");
  }
  switch (f.framing) {
    case Framing::ContentLength:
      put("Content-Length: ");
      p += format_decimal(p, f.content_length);
      put("\r\n");
      break;
    case Framing::Chunked:
      put("Transfer-Encoding: chunked\r\n");
      break;
    case Framing::CloseDelimited:
    case Framing::NoBody:
      break;
  }
  switch (f.connection) {
    case ConnectionHeader::Close:
      put("Connection: close\r\n");
      break;
    case ConnectionHeader::KeepAlive:
      // An HTTP/1.0 client asked to keep the connection (RFC 9112 §9.3).
      put("Connection: keep-alive\r\n");
      break;
    case ConnectionHeader::None:
      break;
  }
  put("\r\n");
  out.commit(static_cast<size_t>(p - start));
}

size_t write_chunk_size(char* p, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  char tmp[16];
  size_t len = 0;
  do {
    tmp[len++] = kHex[n & 15];
    n >>= 4;
  } while (n);
  for (size_t i = 0; i < len; ++i) p[i] = tmp[len - 1 - i];
  p[len] = '\r';
  p[len + 1] = '\n';
  return len + 2;
}

}  // namespace pounce::http1
