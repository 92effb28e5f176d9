#include "pipeline/response_compression.h"

#include <cstring>

#include "pipeline/content_type_rules.h"
#include "plugin/exchange.h"

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
  // Offsets after the ETag moved; only the Content-Type one matters later.
  if (res->has_content_type && res->content_type_offset > res->etag_offset) {
    res->content_type_offset +=
        static_cast<uint32_t>(rebuilt.size() - all.size());
  }
  res->headers.clear();
  res->headers.append(rebuilt.view());
  res->has_etag = false;
}

}  // namespace pounce::pipeline
