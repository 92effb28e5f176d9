/* A plugin that can be held at a gate the test controls, for tests of
 * signals that land in the middle of a startup or a reload. It logs every
 * on_draining call and ends its open streams on SHUTDOWN.
 *
 *   --plugin-config '/={"gate":"DIR","hold_init":N}'
 *
 *   init of generation N (0: none) is held: it logs "init gen N held",
 *   writes its pid to the fifo DIR/init-ready (opening it blocks until the
 *   test opens it), then waits until the test writes to the fifo
 *   DIR/init-go.
 *   GET /          "gen N"
 *   GET /hold      held the same way at DIR/handle-ready, DIR/handle-go, on
 *                  the worker; then "gen N"
 *   GET /stream    (async) a chunked response: "gen N\n", then nothing
 *                  until on_draining(SHUTDOWN) ends it
 *
 * Log lines: "gen N init", "gen N draining RELOAD|SHUTDOWN", "gen N
 * shutdown", "gen N stream ended by SHUTDOWN".
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pounce/pounce.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

enum { kMaxStreams = 64 };

typedef struct gate {
  unsigned long long gen;
  char dir[256];
  pthread_mutex_t mutex; /* guards streams and shutting_down */
  pounce_stream_t streams[kMaxStreams];
  int shutting_down;
} gate_t;

static void say(gate_t* g, const char* fmt, unsigned long long gen,
                const char* what) {
  char line[256];
  int n = snprintf(line, sizeof line, fmt, gen, what);
  pounce_str_t msg = {line, (size_t)n};
  host->log(g, POUNCE_LOG_INFO, msg);
}

/* The value of "key": a string, copied into out. Enough JSON for a test. */
static int config_string(pounce_str_t json, const char* key, char* out,
                         size_t cap) {
  char pattern[64];
  char text[1024];
  const char* at;
  const char* end;
  size_t len = json.len < sizeof text - 1 ? json.len : sizeof text - 1;
  memcpy(text, json.data, len);
  text[len] = '\0';
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  at = strstr(text, pattern);
  if (!at) return 0;
  at = strchr(at + strlen(pattern), '"');
  if (!at) return 0;
  ++at;
  end = strchr(at, '"');
  if (!end || (size_t)(end - at) >= cap) return 0;
  memcpy(out, at, (size_t)(end - at));
  out[end - at] = '\0';
  return 1;
}

static unsigned long long config_number(pounce_str_t json, const char* key) {
  char pattern[64];
  char text[1024];
  const char* at;
  size_t len = json.len < sizeof text - 1 ? json.len : sizeof text - 1;
  memcpy(text, json.data, len);
  text[len] = '\0';
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  at = strstr(text, pattern);
  if (!at) return 0;
  at = strchr(at, ':');
  return at ? strtoull(at + 1, NULL, 10) : 0;
}

/* Meets the test: the go fifo is opened first (non-blocking, so that the
 * test's write end never finds it without a reader), then the pid goes
 * through the ready fifo, then it waits for the test to write to go. */
static void hold(const char* dir, const char* name) {
  char path[512];
  char buf[32];
  int go;
  int ready;
  struct pollfd p;
  snprintf(path, sizeof path, "%s/%s-go", dir, name);
  go = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (go < 0) return;
  snprintf(path, sizeof path, "%s/%s-ready", dir, name);
  do {
    ready = open(path, O_WRONLY | O_CLOEXEC);
  } while (ready < 0 && errno == EINTR);
  if (ready >= 0) {
    int n = snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    if (write(ready, buf, (size_t)n) < 0) { /* the test will time out */
    }
    close(ready);
  }
  p.fd = go;
  p.events = POLLIN;
  for (;;) {
    int r = poll(&p, 1, -1);
    if (r < 0 && errno == EINTR) continue; /* a signal the test sent */
    break;
  }
  close(go);
}

static void* gate_init(const pounce_init_args_t* args) {
  gate_t* g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->gen = args->generation;
  pthread_mutex_init(&g->mutex, NULL);
  config_string(args->config_json, "gate", g->dir, sizeof g->dir);
  say(g, "gen %llu init%s", g->gen, "");
  if (g->dir[0] && config_number(args->config_json, "hold_init") == g->gen) {
    say(g, "gen %llu init held%s", g->gen, "");
    hold(g->dir, "init");
  }
  return g;
}

static void gate_shutdown(void* instance) {
  gate_t* g = instance;
  say(g, "gen %llu shutdown%s", g->gen, "");
  pthread_mutex_destroy(&g->mutex);
  free(g);
}

static void gate_draining(void* instance, pounce_drain_reason_t reason,
                          uint64_t deadline_ns) {
  gate_t* g = instance;
  int i;
  (void)deadline_ns;
  say(g, "gen %llu draining %s", g->gen,
      reason == POUNCE_DRAIN_SHUTDOWN ? "SHUTDOWN" : "RELOAD");
  if (reason != POUNCE_DRAIN_SHUTDOWN) return;
  pthread_mutex_lock(&g->mutex);
  g->shutting_down = 1;
  for (i = 0; i < kMaxStreams; ++i) {
    if (!g->streams[i]) continue;
    host->stream_end(g->streams[i], NULL, 0); /* queued to its loop */
    say(g, "gen %llu stream ended by %s", g->gen, "SHUTDOWN");
  }
  pthread_mutex_unlock(&g->mutex);
}

static int reply(gate_t* g, pounce_response_t* res) {
  char body[64];
  int n = snprintf(body, sizeof body, "gen %llu", g->gen);
  return host->response_body(res, body, (size_t)n);
}

static int gate_handle(void* instance, const pounce_request_view_t* req,
                       pounce_response_t* res) {
  gate_t* g = instance;
  if (req->path_info.len == 5 && memcmp(req->path_info.data, "/hold", 5) == 0 &&
      g->dir[0]) {
    say(g, "gen %llu handler held%s", g->gen, "");
    hold(g->dir, "handle");
  }
  return reply(g, res);
}

static int gate_request(void* instance, pounce_stream_t stream,
                        const pounce_request_view_t* req) {
  gate_t* g = instance;
  char chunk[64];
  int n = snprintf(chunk, sizeof chunk, "gen %llu\n", g->gen);
  int i;
  int ended = 0;
  (void)req;
  /* Registered before the first byte goes out: once the client has seen
   * it, a SHUTDOWN drain must find the stream. */
  pthread_mutex_lock(&g->mutex);
  if (g->shutting_down) {
    ended = 1;
  } else {
    for (i = 0; i < kMaxStreams && g->streams[i]; ++i) {
    }
    if (i < kMaxStreams) g->streams[i] = stream;
  }
  pthread_mutex_unlock(&g->mutex);
  host->stream_start(stream, 200, NULL, 0, -1);
  host->stream_write(stream, chunk, (size_t)n);
  if (ended) host->stream_end(stream, NULL, 0);
  return 0;
}

static void gate_close(void* instance, pounce_stream_t stream, void* user,
                       pounce_close_reason_t reason) {
  gate_t* g = instance;
  int i;
  char why[16];
  (void)user;
  snprintf(why, sizeof why, "%d", (int)reason);
  say(g, "gen %llu stream closed %s", g->gen, why);
  pthread_mutex_lock(&g->mutex);
  for (i = 0; i < kMaxStreams; ++i) {
    if (g->streams[i] == stream) g->streams[i] = 0;
  }
  pthread_mutex_unlock(&g->mutex);
}

static const pounce_route_mode_t kRoutes[] = {
    {POUNCE_STR("/stream"), POUNCE_MODE_ASYNC},
};

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("gate"),
    .version = POUNCE_STR("1.0"),
    .mode = POUNCE_MODE_SYNC,
    .routes = kRoutes,
    .route_count = 1,
    .init = gate_init,
    .shutdown = gate_shutdown,
    .on_draining = gate_draining,
    .on_handle = gate_handle,
    .on_request = gate_request,
    .on_close = gate_close,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
