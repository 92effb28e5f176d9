// How a parsed request reaches its plugin, whatever protocol brought it: the
// route (mount, normalized path, mode), the request view the plugin sees,
// and the sync call. The protocol parses, then calls these with its
// exchange; async streams and WebSockets start from a Route too
// (async/stream.h, async/ws_session.h).
#pragma once

#include <pounce/pounce.h>

#include <string_view>

#include "http/error_code.h"
#include "http/head_parser.h"
#include "http/path_normalize.h"
#include "plugin/generation.h"

namespace pounce {

namespace exchange {
class Exchange;
}  // namespace exchange

// Where a request goes, decided as soon as its head is complete.
struct Route {
  const Mount* mount = nullptr;
  Generation* generation = nullptr;  // set by the caller of resolve_route
  std::string_view path;             // normalized
  std::string_view path_info;        // below the mount
  bool async = false;
  bool blocking = false;  // POUNCE_MODE_BLOCKING: on the blocking pool
  // Held when the protocol pinned `generation` for this request (the first
  // request after a hand-off). Whatever path the request takes, it is
  // released or moved on exactly once (to the stream, the WebSocket, the
  // blocking job, or with the Route).
  GenerationPin pin;
};

// Paths that cannot change under normalization skip it: no escapes and no
// dot segments is the common case.
inline bool needs_normalization(std::string_view path) {
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '%') return true;
    if (c == '.' && i > 0 && path[i - 1] == '/') return true;
  }
  return path.empty() || path[0] != '/';
}

// Normalizes head.path (into `path_buffer`, of --max-header-size + 1 bytes,
// when it holds an escape or a dot segment) and finds its mount in
// r->generation. Fills the rest of *r and returns ErrorCode::None, or the
// error the host answers with instead. Inline: it runs for every request,
// inside the protocol's own parse loop.
inline http::ErrorCode resolve_route(const http::RequestHead& head,
                                     char* path_buffer, Route* r) {
  r->path = head.path;
  if (needs_normalization(r->path)) {
    size_t n = 0;
    http::PathStatus ps = http::normalize_path(head.path, path_buffer, &n);
    if (ps == http::PathStatus::EscapesRoot) {
      return http::ErrorCode::PathEscapesRoot;
    }
    if (ps != http::PathStatus::Ok) return http::ErrorCode::BadPath;
    r->path = std::string_view(path_buffer, n);
  }
  r->mount =
      r->generation ? r->generation->route(r->path, &r->path_info) : nullptr;
  if (!r->mount) return http::ErrorCode::NoRoute;
  if (r->mount->static_root) {
    // Files are answered inline on the loop (static/handler.h).
    if (head.upgrade_websocket) return http::ErrorCode::WebSocketUnsupported;
    r->async = false;
    r->blocking = false;
    return http::ErrorCode::None;
  }
  const PluginModule& module = *r->mount->module;
  if (head.upgrade_websocket && !module.has_websocket()) {
    return http::ErrorCode::WebSocketUnsupported;
  }
  // WebSocket upgrades go to the async pool whatever the plugin's mode for
  // plain HTTP (ARCHITECTURE.md §1).
  const pounce_mode_t mode = module.mode_for(r->path_info);
  r->async = mode == POUNCE_MODE_ASYNC || head.upgrade_websocket;
  r->blocking = mode == POUNCE_MODE_BLOCKING && !r->async;
  return http::ErrorCode::None;
}

// Fills `view`, and the loop's pounce_request it points to, for `head` as
// routed by `r` on `ex`. The views live as long as `head` and `body` do.
void fill_view(exchange::Exchange& ex, const http::RequestHead& head,
               const Route& r, std::string_view body,
               pounce_request_view_t* view);

// Calls the mount's on_handle inline, then answers through `ex`: the response
// pipeline (pipeline/response.h), or the error response when the plugin
// failed.
void call_sync(exchange::Exchange& ex, const http::RequestHead& head,
               const Route& r, std::string_view body,
               const pounce_header_t* trailers, size_t trailer_count);

}  // namespace pounce
