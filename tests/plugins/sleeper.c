/* A plugin whose handler blocks, for the blocking-mode tests (issue 11 §3).
 * Built twice: SLEEPER_MODE selects the mode of the whole plugin
 * (POUNCE_MODE_BLOCKING for "sleeper", POUNCE_MODE_SYNC for
 * "sleeper_sync", which documents the stall blocking mode removes). In
 * both, /fast is a sync route (per-route mode), and /slow-route is a
 * blocking one (per-route mode on a sync plugin).
 *
 *   GET /                 "ok gen N" at once
 *   GET /fast             "fast" at once (always a sync route)
 *   GET /sleep?ms=N       logs "gen N sleep entered", sleeps N ms in
 *                         the handler, logs "gen N sleep returned" and
 *                         answers "slept N"
 *   GET /slow-route?ms=N  the same, on a route declared BLOCKING
 *   GET /forever          never returns: waits on a condition that is never
 *                         signalled (logs "gen N forever entered" first)
 *   GET /big              8 KiB of compressible text (Content-Type
 *                         text/plain), for compression
 *   POST /echo            the request body
 *   GET /addr             the peer and local addresses
 *
 * Log lines: "gen N init", "gen N shutdown".
 */
#include <pounce/pounce.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef SLEEPER_MODE
#define SLEEPER_MODE POUNCE_MODE_BLOCKING
#endif

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

/* Never signalled: /forever waits on it for good. */
static pthread_mutex_t forever_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t forever_cond = PTHREAD_COND_INITIALIZER;

typedef struct sleeper {
  unsigned long long gen;
} sleeper_t;

static void say(sleeper_t* s, const char* what) {
  char line[128];
  int n = snprintf(line, sizeof line, "gen %llu %s", s->gen, what);
  pounce_str_t msg = {line, (size_t)n};
  host->log(s, POUNCE_LOG_INFO, msg);
}

static void* sleeper_init(const pounce_init_args_t* args) {
  sleeper_t* s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->gen = args->generation;
  say(s, "init");
  return s;
}

static void sleeper_shutdown(void* instance) {
  sleeper_t* s = instance;
  say(s, "shutdown");
  free(s);
}

static int path_is(const pounce_request_view_t* req, const char* p) {
  size_t n = strlen(p);
  return req->path_info.len == n && memcmp(req->path_info.data, p, n) == 0;
}

static long query_ms(const pounce_request_view_t* req) {
  char q[64];
  size_t n = req->query.len < sizeof q - 1 ? req->query.len : sizeof q - 1;
  memcpy(q, req->query.data, n);
  q[n] = '\0';
  const char* at = strstr(q, "ms=");
  return at ? strtol(at + 3, NULL, 10) : 0;
}

static int text(pounce_response_t* res, const char* body, size_t len) {
  static const pounce_str_t name = POUNCE_STR("Content-Type");
  static const pounce_str_t value = POUNCE_STR("text/plain");
  host->response_header(res, name, value);
  return host->response_body(res, body, len);
}

static int sleeper_handle(void* instance, const pounce_request_view_t* req,
                          pounce_response_t* res) {
  sleeper_t* s = instance;
  char body[128];
  int n;
  if (path_is(req, "/sleep") || path_is(req, "/slow-route")) {
    long ms = query_ms(req);
    say(s, "sleep entered");
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
    say(s, "sleep returned");
    n = snprintf(body, sizeof body, "slept %ld", ms);
    return text(res, body, (size_t)n);
  }
  if (path_is(req, "/forever")) {
    say(s, "forever entered");
    pthread_mutex_lock(&forever_mutex);
    for (;;) pthread_cond_wait(&forever_cond, &forever_mutex);
  }
  if (path_is(req, "/fast")) return text(res, "fast", 4);
  if (path_is(req, "/big")) {
    static char big[8192];
    size_t i;
    for (i = 0; i < sizeof big; ++i) big[i] = "blocking mode "[i % 14];
    return text(res, big, sizeof big);
  }
  if (path_is(req, "/echo")) return text(res, req->body.data, req->body.len);
  if (path_is(req, "/addr")) {
    pounce_addr_t peer, local;
    peer.size = local.size = sizeof peer;
    if (host->request_addr(req->handle, 0, &peer) != POUNCE_OK ||
        host->request_addr(req->handle, 1, &local) != POUNCE_OK) {
      return text(res, "no addr", 7);
    }
    n = snprintf(body, sizeof body, "%s %s", peer.text, local.text);
    return text(res, body, (size_t)n);
  }
  n = snprintf(body, sizeof body, "ok gen %llu", s->gen);
  return text(res, body, (size_t)n);
}

static const pounce_route_mode_t kRoutes[] = {
    {POUNCE_STR("/fast"), POUNCE_MODE_SYNC},
    {POUNCE_STR("/slow-route"), POUNCE_MODE_BLOCKING},
};

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("sleeper"),
    .version = POUNCE_STR("1.0"),
    .mode = SLEEPER_MODE,
    .routes = kRoutes,
    .route_count = 2,
    .init = sleeper_init,
    .shutdown = sleeper_shutdown,
    .on_handle = sleeper_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
