#include "pipeline/response.h"

#include <uv.h>

#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "pipeline/access_log.h"
#include "pipeline/content_type_rules.h"
#include "pipeline/response_compression.h"
#include "pipeline/server_timing.h"
#include "plugin/request_response.h"

namespace pounce::pipeline {

namespace {

// A response_file body (ABI 1.1): sent as it is, never compressed (it
// would have to be read through memory), as a file part the protocol sends
// without copying where it can.
void send_file_response(exchange::Exchange& ex, const http::RequestHead& head,
                        pounce_response& res, uint64_t app_done_ns) {
  const Config& cfg = ex.loop()->config();
  const int status = res.status;
  const bool no_body = status == 204 || status == 304 || head.method == "HEAD";
  exchange::ResponseStart h;
  h.status = status;
  h.headers = res.headers.view();
  h.content_length = static_cast<int64_t>(res.file_length);
  char timing[96];
  if (cfg.server_timing && ex.request_start_ns()) {
    uint64_t now = uv_hrtime();
    uint64_t parse_end = ex.request_start_ns() + ex.parse_ns();
    h.server_timing = format_server_timing(
        timing, sizeof timing, ex.parse_ns(),
        app_done_ns > parse_end ? app_done_ns - parse_end : 0,
        static_cast<int64_t>(now - app_done_ns));
  }
  exchange::BodyPart part;
  part.file = res.file.get();
  part.offset = res.file_offset;
  part.length = res.file_length;
  const bool parts = !no_body && part.length > 0;
  const bool ok = ex.respond_parts(h, parts ? &part : nullptr, parts ? 1 : 0);
  res.file.reset();  // the protocol holds its own reference
  if (!ok) {
    ex.respond_error(http::ErrorCode::OutOfMemory, &head);
    return;
  }
  record_response(ex, &head, res.metrics_mount, status,
                  static_cast<size_t>(res.file_length));
}

}  // namespace

void send_response(exchange::Exchange& ex, const http::RequestHead& head,
                   pounce_response& res) {
  Loop& loop = *ex.loop();
  const Config& cfg = loop.config();
  const uint64_t app_done_ns = cfg.server_timing ? uv_hrtime() : 0;
  const int status = res.status;
  const bool head_request = head.method == "HEAD";
  // No body and no Content-Length for 204 and 304 (RFC 9110 §8.6); HEAD keeps
  // the Content-Length of the body it does not get.
  const bool bodiless_status = status == 204 || status == 304;
  if (res.file) {
    send_file_response(ex, head, res, app_done_ns);
    return;
  }
  std::string_view body = res.body.view();
  ByteBuffer* body_owner = &res.body;  // the buffer `body` views

  exchange::ResponseStart h;
  h.status = status;
  // A body below --compression-min-size is never compressed, whatever its
  // type: checking the size first keeps small responses (the common case)
  // off the content-type rules. A HEAD is compressed like its GET and the
  // result dropped: its Content-Length is the compressed one (RFC 9110
  // §9.3.2). A 304 has no body, but the ETag and Vary of its 200 (§15.4.5).
  const bool not_modified = status == 304;
  if (cfg.compression &&
      (not_modified ||
       (!bodiless_status && body.size() >= cfg.compression_min_size))) {
    ResponseFacts facts;
    facts.status = status;
    facts.has_content_encoding = res.has_content_encoding;
    facts.content_type = res.content_type();
    facts.content_length = body.size();
    CompressDecision d = decide_compression(facts, cfg.compression_min_size);
    h.vary_accept_encoding = varies_on_accept_encoding(d);
    if (d == CompressDecision::Compress) {
      Coding c = negotiate_encoding(head.headers, head.header_count);
      if (c != Coding::Identity) {
        ByteBuffer& z = loop.compress_scratch();
        z.clear();
        // The per-loop context for whole bodies, reused: one per response
        // would cost zstd's 3.7 MB a time (ARCHITECTURE.md §5).
        if (loop.compressors().sync_context(c).compress_whole(c, body, z)) {
          const size_t k = c == Coding::Zstd ? 1 : 0;
          loop.counters().compressed_in[k].add(body.size());
          loop.counters().compressed_out[k].add(z.size());
          body = z.view();
          body_owner = &z;
          h.content_encoding = coding_name(c);
          weaken_etag(&res);
        }
      }
    } else if (d == CompressDecision::NotModified &&
               negotiate_encoding(head.headers, head.header_count) !=
                   Coding::Identity) {
      weaken_etag(&res);
    }
  }
  h.headers = res.headers.view();
  h.content_length = static_cast<int64_t>(body.size());
  h.body_owner = body_owner;
  char timing[96];
  if (cfg.server_timing && ex.request_start_ns()) {
    uint64_t now = uv_hrtime();
    uint64_t parse_end = ex.request_start_ns() + ex.parse_ns();
    h.server_timing = format_server_timing(
        timing, sizeof timing, ex.parse_ns(),
        app_done_ns > parse_end ? app_done_ns - parse_end : 0,
        static_cast<int64_t>(now - app_done_ns));
  }
  if (!ex.respond(
          h, bodiless_status || head_request ? std::string_view() : body)) {
    // No memory for this response: answer 503 instead (the responses
    // before it are intact).
    ex.respond_error(http::ErrorCode::OutOfMemory, &head);
    return;
  }
  record_response(ex, &head, res.metrics_mount, status, body.size());
}

}  // namespace pounce::pipeline
