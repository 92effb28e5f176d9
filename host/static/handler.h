// The answer to a request routed to a --static mount: the file below the
// mount's directory that the path names, with its validators, conditional
// and range requests, and a precompressed variant when the client takes
// one (docs/static-files.md). Called in place of the plugin's on_handle
// (plugin/dispatch.cpp call_sync), so that every protocol serves static
// files through the same exchange calls as plugin responses.
#pragma once

namespace pounce {

struct Route;
namespace exchange {
class Exchange;
}  // namespace exchange
namespace http {
struct RequestHead;
}  // namespace http

namespace static_files {

// Files up to this size are compressed on the fly (through the whole-body
// path of pipeline/response.h) when they have no precompressed variant;
// larger ones go out as they are.
constexpr unsigned long kMaxCompressOnTheFly = 1u << 20;

void serve(exchange::Exchange& ex, const http::RequestHead& head,
           const Route& r);

}  // namespace static_files
}  // namespace pounce
