#include "plugin/dispatch.h"

#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "log/logger.h"
#include "pipeline/response.h"
#include "plugin/request_response.h"
#include "server/crash_report.h"
#include "static/handler.h"

namespace pounce {

void fill_view(exchange::Exchange& ex, const http::RequestHead& head,
               const Route& r, std::string_view body,
               pounce_request_view_t* view) {
  pounce_request& req = ex.loop()->request();
  req.head = &head;
  req.exchange = &ex;
  // The loop's request object serves every exchange: set on each one.
  req.tls = ex.tls_source();
  view->size = sizeof *view;
  view->version_major = ex.http_major();
  view->version_minor = head.version_minor;
  view->reserved = 0;
  view->method = {head.method.data(), head.method.size()};
  view->target = {head.target.data(), head.target.size()};
  view->path = {r.path.data(), r.path.size()};
  view->mount_prefix = {r.mount->prefix.data(), r.mount->prefix.size()};
  view->path_info = {r.path_info.data(), r.path_info.size()};
  view->query = {head.query.data(), head.query.size()};
  view->headers = head.headers;
  view->header_count = head.header_count;
  view->body = {body.data(), body.size()};
  view->trailers = nullptr;
  view->trailer_count = 0;
  view->handle = &req;
  // ABI 1.1: what HTTP/2 carries as :scheme and :authority.
  view->scheme =
      ex.https() ? pounce_str_t{"https", 5} : pounce_str_t{"http", 4};
  view->authority = {head.host.data(), head.host.size()};
}

void call_sync(exchange::Exchange& ex, const http::RequestHead& head,
               const Route& r, std::string_view body,
               const pounce_header_t* trailers, size_t trailer_count) {
  if (r.mount->static_root) {
    static_files::serve(ex, head, r);
    return;
  }
  pounce_request_view_t view;
  fill_view(ex, head, r, body, &view);
  view.trailers = trailers;
  view.trailer_count = trailer_count;

  const Mount& mount = *r.mount;
  pounce_response& res = ex.loop()->response();
  res.reset(mount.module->name().c_str(), mount.metrics_index);
  int rc = 0;
  try {
    crash::PluginCallScope scope(&mount, "on_handle", head.method, r.path);
    res.hints = &ex;
    rc = mount.module->desc().on_handle(mount.instance, &view, &res);
  } catch (...) {
    // Exceptions must not cross the C ABI; pounce.hpp catches them. A plugin
    // that does not use it still must not take the loop down.
    LOG_ERROR("plugin %s: exception escaped on_handle; answering 500",
              res.plugin_name);
    rc = -1;
  }
  res.hints = nullptr;
  if (rc != 0 && res.error == http::ErrorCode::None) {
    if (rc != -1) {
      LOG_ERROR("plugin %s: on_handle returned %d; answering 500",
                res.plugin_name, rc);
    }
    res.error = http::ErrorCode::PluginError;
  }
  if (res.error != http::ErrorCode::None) {
    // A response_file of a failed response is closed now, not at the
    // loop's next request.
    if (res.file) res.file.reset();
    ex.respond_error(res.error, &head);
    return;
  }
  pipeline::send_response(ex, head, res);
}

}  // namespace pounce
