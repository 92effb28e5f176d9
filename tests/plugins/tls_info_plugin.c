/* Answers with what request_tls reports (issue 12 §4), as one JSON object,
 * from every kind of hook, so that the integration tests can compare https
 * and cleartext:
 *
 *   /sync/...      on_handle, sync mode (the plugin's default)
 *   /blocking/...  on_handle, blocking mode (the pool's thread)
 *   /async/...     on_request, async mode
 *   any WebSocket  on_ws_upgrade records the facts; the first message after
 *                  the 101 carries them
 *
 * Cleartext: {"tls":false,"mode":"sync","rc":0,"clean":true}, where
 * "clean" says that every string of the struct came back {NULL, 0} and
 * every flag 0, over bytes the plugin had filled with garbage. TLS:
 * {"tls":true,"mode":...,"rc":1,"version":"TLSv1.3","cipher":...,
 *  "sni":...|null,"alpn":...|null,"resumed":false,"client_cert":false,
 *  "verify_result":0,"subject":...|null,"issuer":...,"serial":...,
 *  "sha256":...,"verify_text":...} */
#include <pounce/pounce.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;
static int g_instance;

typedef struct {
  char* p;
  size_t left;
} out_t;

static void put(out_t* o, const char* s, size_t n) {
  if (n >= o->left) n = o->left ? o->left - 1 : 0;
  memcpy(o->p, s, n);
  o->p += n;
  o->left -= n;
  if (o->left) *o->p = '\0';
}
static void puts_(out_t* o, const char* s) {
  put(o, s, strlen(s));
}

/* A JSON string (or null), escaped: DNs and SNI names are client data. */
static void put_str(out_t* o, const char* key, pounce_str_t v) {
  size_t i;
  char esc[8];
  puts_(o, ",\"");
  puts_(o, key);
  puts_(o, "\":");
  if (!v.data) {
    puts_(o, "null");
    return;
  }
  puts_(o, "\"");
  for (i = 0; i < v.len; ++i) {
    unsigned char c = (unsigned char)v.data[i];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      put(o, esc, 2);
    } else if (c < 0x20 || c >= 0x7f) {
      snprintf(esc, sizeof esc, "\\u%04x", c);
      put(o, esc, 6);
    } else {
      put(o, (const char*)&c, 1);
    }
  }
  puts_(o, "\"");
}

static void put_int(out_t* o, const char* key, long v) {
  char buf[64];
  snprintf(buf, sizeof buf, ",\"%s\":%ld", key, v);
  puts_(o, buf);
}
static void put_bool(out_t* o, const char* key, int v) {
  char buf[64];
  snprintf(buf, sizeof buf, ",\"%s\":%s", key, v ? "true" : "false");
  puts_(o, buf);
}

static int is_clear(const pounce_str_t* s) {
  return s->data == NULL && s->len == 0;
}

/* The JSON for `req` into buf; returns its length. */
static size_t describe(const pounce_request_view_t* req, const char* mode,
                       char* buf, size_t cap) {
  pounce_tls_info_t t;
  out_t o = {buf, cap};
  int rc;
  memset(&t, 0xA5, sizeof t); /* the host must overwrite all of it */
  t.size = sizeof t;
  if (!POUNCE_HOST_HAS(host, request_tls)) {
    puts_(&o, "{\"error\":\"no request_tls\"}");
    return (size_t)(o.p - buf);
  }
  rc = host->request_tls(req->handle, &t);
  puts_(&o, rc == 1 ? "{\"tls\":true" : "{\"tls\":false");
  puts_(&o, ",\"mode\":\"");
  puts_(&o, mode);
  puts_(&o, "\"");
  put_int(&o, "rc", rc);
  if (rc != 1) {
    put_bool(&o, "clean",
             is_clear(&t.version) && is_clear(&t.cipher) && is_clear(&t.sni) &&
                 is_clear(&t.alpn) && is_clear(&t.client_subject) &&
                 is_clear(&t.client_issuer) && is_clear(&t.client_serial) &&
                 is_clear(&t.client_sha256) && is_clear(&t.verify_text) &&
                 t.resumed == 0 && t.client_cert == 0 && t.verify_result == 0);
  } else {
    put_str(&o, "version", t.version);
    put_str(&o, "cipher", t.cipher);
    put_str(&o, "sni", t.sni);
    put_str(&o, "alpn", t.alpn);
    put_bool(&o, "resumed", t.resumed);
    put_bool(&o, "client_cert", t.client_cert);
    put_int(&o, "verify_result", t.verify_result);
    put_str(&o, "subject", t.client_subject);
    put_str(&o, "issuer", t.client_issuer);
    put_str(&o, "serial", t.client_serial);
    put_str(&o, "sha256", t.client_sha256);
    put_str(&o, "verify_text", t.verify_text);
  }
  puts_(&o, "}");
  return (size_t)(o.p - buf);
}

static void* info_init(const pounce_init_args_t* args) {
  (void)args;
  return &g_instance;
}
static void info_shutdown(void* instance) {
  (void)instance;
}

static int is_prefix(pounce_str_t path, const char* prefix) {
  size_t n = strlen(prefix);
  return path.len >= n && memcmp(path.data, prefix, n) == 0;
}

static int info_handle(void* instance, const pounce_request_view_t* req,
                       pounce_response_t* res) {
  char body[4096];
  size_t n;
  (void)instance;
  n = describe(req,
               is_prefix(req->path_info, "/blocking") ? "blocking" : "sync",
               body, sizeof body);
  host->response_header(res, (pounce_str_t)POUNCE_STR("Content-Type"),
                        (pounce_str_t)POUNCE_STR("application/json"));
  host->response_body(res, body, n);
  return 0;
}

static int info_request(void* instance, pounce_stream_t s,
                        const pounce_request_view_t* req) {
  char body[4096];
  size_t n;
  pounce_header_t h = {POUNCE_STR("Content-Type"),
                       POUNCE_STR("application/json")};
  (void)instance;
  n = describe(req, "async", body, sizeof body);
  host->stream_start(s, 200, &h, 1, (int64_t)n);
  host->stream_write(s, body, n);
  host->stream_end(s, NULL, 0);
  return 0;
}

/* The facts are read during on_ws_upgrade (the only hook with the request)
 * and sent once the socket is open. */
static int info_ws_upgrade(void* instance, const pounce_request_view_t* req,
                           pounce_ws_upgrade_t* up) {
  char body[4096];
  size_t n;
  char* copy;
  (void)instance;
  n = describe(req, "ws_upgrade", body, sizeof body);
  copy = (char*)malloc(n + 1);
  if (!copy) return 1;
  memcpy(copy, body, n + 1);
  up->user = copy;
  return 0;
}
static void info_ws_open(void* instance, pounce_ws_t ws, void* user) {
  const char* text = (const char*)user;
  (void)instance;
  host->ws_send(ws, POUNCE_WS_TEXT, text, strlen(text));
}
static void info_ws_message(void* instance, pounce_ws_t ws, void* user,
                            pounce_ws_opcode_t op, const void* data,
                            size_t len) {
  (void)instance;
  (void)ws;
  (void)user;
  (void)op;
  (void)data;
  (void)len;
}
static void info_ws_close(void* instance, pounce_ws_t ws, void* user,
                          uint16_t code, pounce_str_t reason) {
  (void)instance;
  (void)ws;
  (void)code;
  (void)reason;
  free(user);
}
static void info_ws_abandoned(void* instance, void* user) {
  (void)instance;
  free(user);
}

static const pounce_route_mode_t kRoutes[] = {
    {POUNCE_STR("/blocking"), POUNCE_MODE_BLOCKING},
    {POUNCE_STR("/async"), POUNCE_MODE_ASYNC},
};

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("tls_info"),
    .version = POUNCE_STR("1.0"),
    .mode = POUNCE_MODE_SYNC,
    .routes = kRoutes,
    .route_count = 2,
    .init = info_init,
    .shutdown = info_shutdown,
    .on_handle = info_handle,
    .on_request = info_request,
    .on_ws_upgrade = info_ws_upgrade,
    .on_ws_open = info_ws_open,
    .on_ws_message = info_ws_message,
    .on_ws_close = info_ws_close,
    .on_ws_upgrade_abandoned = info_ws_abandoned,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
