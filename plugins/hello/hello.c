/*
 * hello: the smallest useful plugin, in plain C99 to prove the ABI is C.
 *
 *   GET /, GET /hello  -> 200 text/plain        "Hello, World!"
 *   GET /json          -> 200 application/json  {"message":"Hello, World!"}
 *   GET /big           -> 200 text/plain        65,536 bytes, 'a'..'z' repeated
 *   anything else      -> 404
 *
 * HEAD is answered like GET (the host drops the body). Paths are relative to
 * the mount, so `--plugin /greet=libhello.so` serves /greet/hello.
 */
#include <pounce/pounce.h>
#include <stdlib.h>
#include <string.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

static const char kMessage[] = "Hello, World!";

/* The body of /big: a response larger than HTTP/2's default stream window
 * (65,535), so that a benchmark of it has flow control in play. Built once
 * per mount at init (the instance is that buffer: no state shared between
 * mounts or reloads); varied letters so that nothing that dedups or
 * compresses makes it unrealistically cheap. `pounce-host bench --workload
 * big` checks it byte for byte. */
#define BIG_SIZE 65536

static int str_eq(pounce_str_t s, const char* lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.data, lit, n) == 0;
}

/* Writes `text` as a JSON string (quotes included) to out; returns the
 * length, or 0 when it does not fit. */
static size_t json_string(char* out, size_t cap, const char* text) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  const unsigned char* p;
  if (cap < 2) return 0;
  out[n++] = '"';
  for (p = (const unsigned char*)text; *p; ++p) {
    if (n + 7 > cap) return 0;
    if (*p == '"' || *p == '\\') {
      out[n++] = '\\';
      out[n++] = (char)*p;
    } else if (*p < 0x20) {
      out[n++] = '\\';
      out[n++] = 'u';
      out[n++] = '0';
      out[n++] = '0';
      out[n++] = hex[*p >> 4];
      out[n++] = hex[*p & 15];
    } else {
      out[n++] = (char)*p;
    }
  }
  out[n++] = '"';
  return n;
}

static void* hello_init(const pounce_init_args_t* args) {
  size_t i;
  char* big = (char*)malloc(BIG_SIZE);
  if (!big) {
    if (args->error && args->error_cap > 0) {
      strncpy(args->error, "out of memory", args->error_cap - 1);
      args->error[args->error_cap - 1] = '\0';
    }
    return NULL;
  }
  for (i = 0; i < BIG_SIZE; ++i) big[i] = (char)('a' + i % 26);
  return big;
}

static void hello_shutdown(void* instance) {
  free(instance);
}

static int hello_handle(void* instance, const pounce_request_view_t* req,
                        pounce_response_t* res) {
  static const pounce_str_t content_type = POUNCE_STR("Content-Type");
  pounce_str_t path = req->path_info;
  int is_get = str_eq(req->method, "GET") || str_eq(req->method, "HEAD");
  (void)instance;
  if (path.len == 0) path.data = "/", path.len = 1;

  if (is_get && (str_eq(path, "/") || str_eq(path, "/hello"))) {
    static const pounce_str_t text = POUNCE_STR("text/plain");
    host->response_header(res, content_type, text);
    return host->response_body(res, kMessage, sizeof kMessage - 1);
  }
  if (is_get && str_eq(path, "/json")) {
    /* Serialized on every request, as a JSON benchmark demands. */
    static const pounce_str_t json = POUNCE_STR("application/json");
    char body[64];
    size_t n = 0, s;
    memcpy(body, "{\"message\":", 11);
    n = 11;
    s = json_string(body + n, sizeof body - n - 1, kMessage);
    if (s == 0) return 1;
    n += s;
    body[n++] = '}';
    host->response_header(res, content_type, json);
    return host->response_body(res, body, n);
  }
  if (is_get && str_eq(path, "/big")) {
    static const pounce_str_t text = POUNCE_STR("text/plain");
    host->response_header(res, content_type, text);
    return host->response_body(res, instance, BIG_SIZE);
  }
  {
    static const pounce_str_t text = POUNCE_STR("text/plain");
    static const char kNotFound[] = "Not Found\n";
    host->response_status(res, 404);
    host->response_header(res, content_type, text);
    return host->response_body(res, kNotFound, sizeof kNotFound - 1);
  }
}

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("hello"),
    .version = POUNCE_STR("1.0.0"),
    .mode = POUNCE_MODE_SYNC,
    .init = hello_init,
    .shutdown = hello_shutdown,
    .on_handle = hello_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
