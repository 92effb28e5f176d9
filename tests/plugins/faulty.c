/* A plugin that breaks the response rules on purpose. Each path is one
 * fault; the host must answer 500 and keep serving.
 *
 *   /crlf      a header value with CR LF (response splitting)
 *   /nul       a header value with NUL
 *   /badname   a header name with a space
 *   /framing   sets Content-Length, which the host owns
 *   /te        sets Transfer-Encoding
 *   /error     on_handle returns non-zero
 *   /status    an invalid status (99)
 *   /ok        a normal 200 "fine"
 */
#include <pounce/pounce.h>
#include <string.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

static int is(pounce_str_t s, const char* lit) {
  return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

static pounce_str_t str(const char* s, size_t n) {
  pounce_str_t v;
  v.data = s;
  v.len = n;
  return v;
}

static void* faulty_init(const pounce_init_args_t* args) {
  (void)args;
  return (void*)&host;
}

static int faulty_handle(void* instance, const pounce_request_view_t* req,
                         pounce_response_t* res) {
  pounce_str_t p = req->path_info;
  (void)instance;
  if (is(p, "/crlf")) {
    host->response_header(res, str("X-Split", 7),
                          str("a\r\nSet-Cookie: evil=1", 21));
  } else if (is(p, "/nul")) {
    host->response_header(res, str("X-Nul", 5), str("a\0b", 3));
  } else if (is(p, "/badname")) {
    host->response_header(res, str("Bad Name", 8), str("x", 1));
  } else if (is(p, "/framing")) {
    host->response_header(res, str("Content-Length", 14), str("5", 1));
  } else if (is(p, "/te")) {
    host->response_header(res, str("transfer-encoding", 17), str("chunked", 7));
  } else if (is(p, "/connection")) {
    host->response_header(res, str("Connection", 10), str("keep-alive", 10));
  } else if (is(p, "/error")) {
    return 7;
  } else if (is(p, "/status")) {
    host->response_status(res, 99);
  }
  host->response_body(res, "fine", 4);
  return 0;
}

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("faulty"),
    .version = POUNCE_STR("1.0"),
    .mode = POUNCE_MODE_SYNC,
    .init = faulty_init,
    .on_handle = faulty_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
