/* ABI 1.1 rules, probed from plugin code in C (tests/integration/
 * abi11_test.cpp). Async, with WebSocket hooks. Each path answers one
 * question in its body: "ok", or "FAIL <what> rc=<n>".
 *
 *   /kinds        timer and stream handles given to calls of another kind,
 *                 on the loop and from another thread: POUNCE_ERR_INVALID
 *   /after-start  returns 1 from on_request after stream_start
 *   /timer-thread timer_start from another thread: 0 (twice)
 *   /log-level    logs with a level no constant names
 *   /addr         request_addr into a short and a full pounce_addr_t
 *   /view         the 1.1 request view fields and request_header_at
 *   /reentry, /reentry-abort: a stream written past the high-water mark,
 *                 then ended (or aborted) from inside host calls that are
 *                 flagged: a hook that runs while the flag is up logs
 *                 "REENTERED <hook>"
 *   WebSocket /ws-kinds: the socket's handle given to stream_* calls
 *   WebSocket /ws-badproto: accepted with an unoffered subprotocol; the
 *                 host hands `user` back through on_ws_upgrade_abandoned
 *   WebSocket /ws-refuse: refused; the plugin frees its own `user`
 */
#include <pounce/pounce.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* g_host;
static int g_instance;

static int is(pounce_str_t s, const char* lit) {
  return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

/* The first failed expectation, as the answer's body. */
typedef struct {
  char text[256];
} verdict_t;

static void expect(verdict_t* v, const char* what, int rc, int want) {
  if (rc != want && v->text[0] == '\0') {
    snprintf(v->text, sizeof v->text, "FAIL %s rc=%d", what, rc);
  }
}

static void respond(pounce_stream_t s, const char* body) {
  size_t n = strlen(body);
  g_host->stream_start(s, 200, NULL, 0, (int64_t)n);
  g_host->stream_write(s, body, n);
  g_host->stream_end(s, NULL, 0);
}

static void noop_timer(void* user, pounce_timer_t t) {
  (void)user;
  (void)t;
}
static void noop_post(void* user) {
  (void)user;
}

/* The calls that must refuse a handle of the wrong kind. `stream_like` is
 * given to stream_* calls, `ws_like` to ws_* calls. */
typedef struct {
  uint64_t stream_like;
  uint64_t ws_like;
  uint64_t not_owner; /* given to post/timer_start, 0 to skip */
  int on_loop;
  verdict_t v;
} kind_probe_t;

static void probe_kinds(kind_probe_t* p) {
  pounce_header_t h = {POUNCE_STR("X-A"), POUNCE_STR("b")};
  verdict_t* v = &p->v;
  expect(v, "stream_start",
         g_host->stream_start(p->stream_like, 200, &h, 1, -1),
         POUNCE_ERR_INVALID);
  expect(v, "stream_write", g_host->stream_write(p->stream_like, "x", 1),
         POUNCE_ERR_INVALID);
  expect(v, "stream_end", g_host->stream_end(p->stream_like, NULL, 0),
         POUNCE_ERR_INVALID);
  expect(v, "stream_abort", g_host->stream_abort(p->stream_like),
         POUNCE_ERR_INVALID);
  if (p->on_loop) {
    expect(v, "stream_set_user", g_host->stream_set_user(p->stream_like, v),
           POUNCE_ERR_INVALID);
  }
  if (p->ws_like) {
    expect(v, "ws_send", g_host->ws_send(p->ws_like, POUNCE_WS_TEXT, "x", 1),
           POUNCE_ERR_INVALID);
    expect(v, "ws_ping", g_host->ws_ping(p->ws_like, "x", 1),
           POUNCE_ERR_INVALID);
    pounce_str_t why = POUNCE_STR("bye");
    expect(v, "ws_close", g_host->ws_close(p->ws_like, 1000, why),
           POUNCE_ERR_INVALID);
    if (p->on_loop) {
      expect(v, "ws_set_user", g_host->ws_set_user(p->ws_like, v),
             POUNCE_ERR_INVALID);
      expect(v, "timer_stop", g_host->timer_stop(p->ws_like),
             POUNCE_ERR_INVALID);
    }
  }
  if (p->not_owner) {
    expect(v, "post", g_host->post(p->not_owner, noop_post, NULL),
           POUNCE_ERR_INVALID);
    if (p->on_loop) {
      expect(v, "timer_start",
             (int)g_host->timer_start(p->not_owner, 1000, 0, noop_timer, NULL),
             0);
    }
  }
}

static void* probe_thread(void* arg) {
  probe_kinds((kind_probe_t*)arg);
  return NULL;
}

/* Runs the probe on the loop, then from a thread of our own. */
static void probe_both(kind_probe_t* p) {
  pthread_t t;
  p->on_loop = 1;
  probe_kinds(p);
  p->on_loop = 0;
  if (pthread_create(&t, NULL, probe_thread, p) != 0) {
    expect(&p->v, "pthread_create", -1, 0);
    return;
  }
  pthread_join(t, NULL);
}

static void* timer_from_thread(void* arg) {
  pounce_stream_t s = *(pounce_stream_t*)arg;
  pounce_timer_t a = g_host->timer_start(s, 10, 0, noop_timer, NULL);
  pounce_timer_t b = g_host->timer_start(s, 10, 0, noop_timer, NULL);
  *(pounce_stream_t*)arg = a | b;
  return NULL;
}

/* Up while this plugin is inside a host call on the loop thread (the only
 * thread the /reentry flow calls from). */
static int g_in_call;

static void check_reentry(void* instance, const char* hook) {
  if (g_in_call) {
    char line[64];
    pounce_str_t msg;
    snprintf(line, sizeof line, "REENTERED %s", hook);
    msg.data = line;
    msg.len = strlen(line);
    g_host->log(instance, POUNCE_LOG_ERROR, msg);
  }
}

typedef struct {
  void* instance;
  pounce_stream_t stream;
  pounce_timer_t timer;
  int ticks;
  int abort;
} reentry_t;

static char g_chunk[16384];

/* Writes until the host says stop; every call flagged. */
static void write_until_high_water(reentry_t* r) {
  int i, rc = 0;
  for (i = 0; i < 256; ++i) {
    g_in_call = 1;
    rc = g_host->stream_write(r->stream, g_chunk, sizeof g_chunk);
    g_in_call = 0;
    if (rc != POUNCE_OK) break;
  }
}

static void reentry_tick(void* user, pounce_timer_t t) {
  reentry_t* r = (reentry_t*)user;
  (void)t;
  check_reentry(r->instance, "timer");
  if (++r->ticks < 5) {
    write_until_high_water(r);
    return;
  }
  g_in_call = 1;
  g_host->timer_stop(r->timer);
  if (r->abort) {
    g_host->stream_abort(r->stream);
  } else {
    g_host->stream_end(r->stream, NULL, 0);
  }
  g_in_call = 0;
}

static void* probe_init(const pounce_init_args_t* args) {
  (void)args;
  return &g_instance;
}
static void probe_shutdown(void* instance) {
  (void)instance;
}

static int probe_request(void* instance, pounce_stream_t s,
                         const pounce_request_view_t* req) {
  verdict_t v = {{0}};
  if (is(req->path_info, "/kinds")) {
    kind_probe_t p;
    memset(&p, 0, sizeof p);
    pounce_timer_t t = g_host->timer_start(s, 60000, 0, noop_timer, NULL);
    expect(&p.v, "timer_start", t != 0, 1);
    p.stream_like = t;
    p.ws_like = s;
    p.not_owner = t;
    probe_both(&p);
    g_host->timer_stop(t);
    respond(s, p.v.text[0] ? p.v.text : "ok");
    return 0;
  }
  if (is(req->path_info, "/after-start")) {
    g_host->stream_start(s, 200, NULL, 0, -1);
    g_host->stream_write(s, "partial", 7);
    return 1;
  }
  if (is(req->path_info, "/timer-thread")) {
    pthread_t t;
    pounce_stream_t arg = s;
    pthread_create(&t, NULL, timer_from_thread, &arg);
    pthread_join(t, NULL);
    expect(&v, "timer_start off the loop", (int)arg, 0);
    respond(s, v.text[0] ? v.text : "ok");
    return 0;
  }
  if (is(req->path_info, "/log-level")) {
    pounce_str_t line = POUNCE_STR("a line at level 99");
    g_host->log(instance, (pounce_log_level_t)99, line);
    respond(s, "ok");
    return 0;
  }
  if (is(req->path_info, "/addr")) {
    unsigned char raw[sizeof(pounce_addr_t)];
    pounce_addr_t full;
    size_t i;
    memset(raw, 0xab, sizeof raw);
    ((pounce_addr_t*)raw)->size = 8; /* only `size` and `family` */
    expect(&v, "short addr",
           g_host->request_addr(req->handle, 0, (pounce_addr_t*)raw),
           POUNCE_ERR_INVALID);
    for (i = 4; i < sizeof raw; ++i) {
      if (raw[i] != 0xab) {
        expect(&v, "short addr written past its size", (int)i, -1);
        break;
      }
    }
    memset(&full, 0, sizeof full);
    full.size = sizeof full;
    expect(&v, "addr", g_host->request_addr(req->handle, 0, &full), POUNCE_OK);
    expect(&v, "family", full.family, POUNCE_AF_INET);
    respond(s, v.text[0] ? v.text : "ok");
    return 0;
  }
  if (is(req->path_info, "/view")) {
    char body[512];
    pounce_str_t c[3] = {{0, 0}, {0, 0}, {0, 0}};
    pounce_str_t name = POUNCE_STR("COOKIE");
    int n = 0;
    if (POUNCE_HOST_HAS(g_host, request_header_at)) {
      while (n < 3 &&
             g_host->request_header_at(req->handle, name, (size_t)n, &c[n])) {
        ++n;
      }
    }
    if (!POUNCE_HAS_FIELD(req, pounce_request_view_t, authority)) {
      respond(s, "FAIL no authority field");
      return 0;
    }
    snprintf(body, sizeof body,
             "major=%d minor=%d scheme=%.*s authority=%.*s cookies=%d "
             "[%.*s][%.*s]",
             req->version_major, req->version_minor, (int)req->scheme.len,
             req->scheme.data, (int)req->authority.len, req->authority.data, n,
             (int)c[0].len, c[0].data ? c[0].data : "", (int)c[1].len,
             c[1].data ? c[1].data : "");
    respond(s, body);
    return 0;
  }
  if (is(req->path_info, "/reentry") || is(req->path_info, "/reentry-abort")) {
    reentry_t* r = (reentry_t*)calloc(1, sizeof *r);
    if (!r) return 1;
    r->instance = instance;
    r->stream = s;
    r->abort = is(req->path_info, "/reentry-abort");
    memset(g_chunk, 'r', sizeof g_chunk);
    g_in_call = 1;
    g_host->stream_set_user(s, r);
    g_host->stream_start(s, 200, NULL, 0, -1);
    g_in_call = 0;
    write_until_high_water(r);
    g_in_call = 1;
    r->timer = g_host->timer_start(s, 1, 1, reentry_tick, r);
    g_in_call = 0;
    return 0;
  }
  respond(s, "unknown");
  return 0;
}

static void probe_writable(void* instance, pounce_stream_t s, void* user) {
  (void)s;
  (void)user;
  check_reentry(instance, "on_writable");
}

static void probe_close(void* instance, pounce_stream_t s, void* user,
                        pounce_close_reason_t reason) {
  char line[64];
  pounce_str_t msg;
  (void)s;
  check_reentry(instance, "on_close");
  free(user); /* the /reentry state, NULL elsewhere */
  snprintf(line, sizeof line, "stream closed reason=%d", (int)reason);
  msg.data = line;
  msg.len = strlen(line);
  g_host->log(instance, POUNCE_LOG_WARN, msg);
}

/* The upgrade's `user`: which path asked, so the log tells who freed it. */
typedef struct {
  char tag[32];
} ws_user_t;

static int probe_ws_upgrade(void* instance, const pounce_request_view_t* req,
                            pounce_ws_upgrade_t* up) {
  ws_user_t* u = (ws_user_t*)malloc(sizeof *u);
  (void)instance;
  if (!u) return 1;
  snprintf(u->tag, sizeof u->tag, "%.*s", (int)req->path_info.len,
           req->path_info.data);
  if (is(req->path_info, "/ws-refuse")) {
    free(u); /* refused: the user data is ours to free */
    up->reject_status = 403;
    return 0;
  }
  if (is(req->path_info, "/ws-badproto")) {
    up->chosen_protocol = 7; /* not offered: the host cannot send the 101 */
  }
  up->user = u;
  return 0;
}

static void probe_ws_abandoned(void* instance, void* user) {
  ws_user_t* u = (ws_user_t*)user;
  char line[96];
  pounce_str_t msg;
  snprintf(line, sizeof line, "upgrade abandoned, freeing user of %s", u->tag);
  msg.data = line;
  msg.len = strlen(line);
  g_host->log(instance, POUNCE_LOG_WARN, msg);
  free(u);
}

static void probe_ws_open(void* instance, pounce_ws_t ws, void* user) {
  ws_user_t* u = (ws_user_t*)user;
  (void)instance;
  if (strcmp(u->tag, "/ws-kinds") == 0) {
    kind_probe_t p;
    memset(&p, 0, sizeof p);
    p.stream_like = ws;
    probe_both(&p);
    const char* text = p.v.text[0] ? p.v.text : "ok";
    g_host->ws_send(ws, POUNCE_WS_TEXT, text, strlen(text));
  }
}

static void probe_ws_message(void* instance, pounce_ws_t ws, void* user,
                             pounce_ws_opcode_t op, const void* data,
                             size_t len) {
  (void)instance;
  (void)user;
  g_host->ws_send(ws, op, data, len);
}

static void probe_ws_close(void* instance, pounce_ws_t ws, void* user,
                           uint16_t code, pounce_str_t reason) {
  (void)instance;
  (void)ws;
  (void)code;
  (void)reason;
  free(user);
}

static const pounce_plugin_t kPlugin = {
    .size = POUNCE_PLUGIN_SIZE,
    .name = POUNCE_STR("abi11-probe"),
    .version = POUNCE_STR("1.1"),
    .mode = POUNCE_MODE_ASYNC,
    .init = probe_init,
    .shutdown = probe_shutdown,
    .on_request = probe_request,
    .on_writable = probe_writable,
    .on_close = probe_close,
    .on_ws_upgrade = probe_ws_upgrade,
    .on_ws_open = probe_ws_open,
    .on_ws_message = probe_ws_message,
    .on_ws_close = probe_ws_close,
    .on_ws_upgrade_abandoned = probe_ws_abandoned,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* host) {
  g_host = host;
  return &kPlugin;
}
