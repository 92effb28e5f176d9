#include "pipeline/response_compression.h"

#include <cstring>

#include "pipeline/content_type_rules.h"
#include "plugin/request_response.h"

namespace pounce::pipeline {

void weaken_etag(pounce_response* res) {
  if (!res->has_etag) return;
  std::string_view all = res->headers.view();
  std::string_view etag = all.substr(res->etag_offset, res->etag_len);
  if (is_weak_etag(etag)) return;
  ByteBuffer rebuilt;
  rebuilt.append(all.substr(0, res->etag_offset));
  append_weak_etag(etag, rebuilt);
  rebuilt.append(all.substr(res->etag_offset + res->etag_len));
  if (rebuilt.failed()) {
    // No memory for the copy. The strong ETag must not name the compressed
    // body, so drop its line in place (no allocation): no validator is
    // better than a wrong one.
    char* base = res->headers.data();
    size_t begin = all.rfind('\n', res->etag_offset);
    begin = begin == std::string_view::npos ? 0 : begin + 1;
    size_t end = all.find('\n', res->etag_offset + res->etag_len);
    end = end == std::string_view::npos ? all.size() : end + 1;
    memmove(base + begin, base + end, all.size() - end);
    res->headers.truncate(all.size() - (end - begin));
    if (res->has_content_type && res->content_type_offset > begin) {
      res->content_type_offset -= static_cast<uint32_t>(end - begin);
    }
    res->has_etag = false;
    return;
  }
  // Offsets after the ETag moved; only the Content-Type one matters later.
  if (res->has_content_type && res->content_type_offset > res->etag_offset) {
    res->content_type_offset +=
        static_cast<uint32_t>(rebuilt.size() - all.size());
  }
  res->headers = std::move(rebuilt);  // no copy, so nothing to fail
  res->has_etag = false;
}

}  // namespace pounce::pipeline
