// The host side of the opaque pounce_request and pounce_response objects a
// sync handler receives. One of each lives in every loop and is reused for
// every request, so the sync path allocates nothing once warm.
#pragma once

#include <pounce/pounce.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "exchange/exchange.h"
#include "http/ascii.h"
#include "http/byte_buffer.h"
#include "http/error_code.h"
#include "http/head_parser.h"

namespace pounce {

using http::iequals;

// Fills *out from a socket address. Returns POUNCE_OK or POUNCE_ERR_INVALID.
int format_address(const sockaddr* sa, pounce_addr_t* out);

}  // namespace pounce

struct pounce_request {
  const pounce::http::RequestHead* head = nullptr;
  // On the loop: the exchange the request came with, which knows the
  // addresses.
  pounce::exchange::Exchange* exchange = nullptr;
  // A blocking-mode request runs off the loop, which owns the exchange: both
  // addresses are fetched before, `exchange` is null, and these are used
  // instead.
  const pounce::PeerAddress* peer = nullptr;
  const pounce::PeerAddress* local = nullptr;
  // The connection's TLS facts for request_tls; null on cleartext. Set for
  // every request (the loop's pounce_request is reused): the exchange's
  // tls_source() on the loop, a snapshot the job holds in blocking mode.
  pounce::tls::InfoSource* tls = nullptr;
  // Blocking mode: the request id (the exchange's, copied); on the loop
  // the exchange's request_id() is used.
  std::string_view request_id;
};

struct pounce_response {
  int status = 200;
  // Validated "Name: value\r\n" lines, in the order the plugin added them.
  pounce::ByteBuffer headers;
  pounce::ByteBuffer body;
  // Set when the plugin broke a rule; the host then answers 500 instead.
  pounce::http::ErrorCode error = pounce::http::ErrorCode::None;
  const char* plugin_name = "plugin";
  // The mount's metrics index (metrics::MountTable), for the request count.
  uint16_t metrics_mount = 0;
  // Facts the response pipeline needs (compression skip rules, weak ETag).
  bool has_content_encoding = false;
  bool has_content_type = false;
  bool has_etag = false;
  // The ETag value, as an offset into `headers`.
  uint32_t etag_offset = 0;
  uint32_t etag_len = 0;
  // The Content-Type value, as an offset into `headers`.
  uint32_t content_type_offset = 0;
  uint32_t content_type_len = 0;
  // response_file (ABI 1.1): the body is file_length bytes of `file` from
  // file_offset instead of `body`. Carried with the response to the loop
  // (a blocking job's response travels whole).
  pounce::exchange::FileRef file;
  uint64_t file_offset = 0;
  uint64_t file_length = 0;
  // Where response_early_hints sends, set only while on_handle runs: the
  // exchange (sync), or the blocking job (blocking). Null: not now.
  pounce::exchange::HintsSink* hints = nullptr;

  void reset(const char* name, uint16_t mount = 0) {
    metrics_mount = mount;
    status = 200;
    headers.clear();
    body.clear();
    error = pounce::http::ErrorCode::None;
    plugin_name = name;
    has_content_encoding = false;
    has_content_type = false;
    has_etag = false;
    if (file) file.reset();  // a test, not a call, on the common path
  }
  std::string_view content_type() const {
    return has_content_type
               ? std::string_view(headers.data() + content_type_offset,
                                  content_type_len)
               : std::string_view();
  }
};

namespace pounce {

// Validates and appends one response header (the response_header call).
// Returns a pounce_result_t.
int add_response_header(pounce_response* res, pounce_str_t name,
                        pounce_str_t value);

// Appends a header the host made itself from values it has checked (static
// files: the type from the MIME table, the validators, Cache-Control),
// without add_response_header's checks: they cost more than the rest of a
// 304. Content-Type, ETag and Content-Encoding are noted as that does.
int add_host_header(pounce_response* res, std::string_view name,
                    std::string_view value);

// Takes ownership of a plugin's `fd` for a file body of `length` bytes
// from `offset` (response_file, stream_write_file): fstat()s it and
// checks that it is a regular file that holds the range. On POUNCE_OK
// *out holds the one reference; on an error the descriptor is closed and
// *why says what was wrong (POUNCE_ERR_INVALID) or POUNCE_ERR_NOMEM is
// returned. Any thread.
int adopt_plugin_file(int fd, uint64_t offset, uint64_t length,
                      exchange::OpenFile** out, const char** why);
// The most bytes of header lines one 103 Early Hints may carry.
constexpr size_t kMaxEarlyHintsBytes = 64 * 1024;

// Validates `headers` as add_response_header does and writes them to *lines
// as "Name: value\r\n" (the response_early_hints call). Returns a
// pounce_result_t; a refused header is logged and changes nothing else.
int format_early_hints(const pounce_response* res,
                       const pounce_header_t* headers, size_t count,
                       std::string* lines);

}  // namespace pounce
