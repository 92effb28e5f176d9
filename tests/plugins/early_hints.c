/* 103 Early Hints (issue 15 §3): handlers that send hints, then wait at a
 * gate the test controls, so that a test can see the 103 arrive while the
 * handler still works, before the final response exists.
 *
 *   --plugin-config '/={"gate":"DIR"}'
 *
 * The plugin is sync; below /blocking it runs in blocking mode. The same
 * routes under both:
 *
 *   GET /hint[?NAME]   opens the fifo DIR/NAME (when NAME is given) for
 *                      reading, sends a 103 with
 *                      `Link: </style.css>; rel=preload; as=style`, then
 *                      waits until the test writes a byte to the fifo;
 *                      answers 200 "done", with X-Hints-Rc: the call's
 *                      result.
 *   GET /two           two 103s (style.css, then app.js), then 200.
 *   GET /bad           hints with a CR in a value, then with a framing
 *                      header, then with count 0: X-Hints-Rc lists the
 *                      three results ("-2,-2,-2"), and the answer is a 200.
 *   GET /page[?NAME]   as /hint, then an HTML page that uses /style.css and
 *                      reports its Resource Timing entry by navigating to
 *                      /report?initiator=...&delivery=... (headless
 *                      Chromium).
 *   GET /style.css     a style sheet.
 *   GET /report        200 "reported" (the results are in the target).
 *
 * Opening the fifo before the 103 goes out means that the test, which
 * opens the write end only after it saw the 103, always finds a reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pounce/pounce.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

typedef struct hints {
  char dir[256];
} hints_t;

static int equals(pounce_str_t s, const char* lit) {
  size_t n = strlen(lit);
  return s.len == n && memcmp(s.data, lit, n) == 0;
}

static void* hints_init(const pounce_init_args_t* args) {
  hints_t* h = calloc(1, sizeof *h);
  const char* key = "\"gate\":\"";
  char text[1024];
  size_t len;
  const char* at;
  const char* end;
  if (!h) return NULL;
  len = args->config_json.len < sizeof text - 1 ? args->config_json.len
                                                : sizeof text - 1;
  memcpy(text, args->config_json.data, len);
  text[len] = '\0';
  at = strstr(text, key);
  if (at) {
    at += strlen(key);
    end = strchr(at, '"');
    if (end && (size_t)(end - at) < sizeof h->dir) {
      memcpy(h->dir, at, (size_t)(end - at));
    }
  }
  return h;
}

static void hints_shutdown(void* instance) {
  free(instance);
}

/* The fifo DIR/NAME for reading, or -1 without a name (or a gate dir). */
static int open_gate(const hints_t* h, pounce_str_t name) {
  char path[512];
  if (name.len == 0 || name.len > 64 || !h->dir[0]) return -1;
  snprintf(path, sizeof path, "%s/%.*s", h->dir, (int)name.len, name.data);
  return open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

/* Until the test writes a byte. A fifo whose writer never came reports no
 * POLLHUP, so this waits for the byte itself. */
static void wait_gate(int fd) {
  struct pollfd p;
  char byte;
  if (fd < 0) return;
  for (;;) {
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, -1) < 0 && errno == EINTR) continue;
    if (read(fd, &byte, 1) == 1) break;
    if (errno != EAGAIN && errno != EINTR) break;
  }
  close(fd);
}

static void header(pounce_response_t* res, const char* name,
                   const char* value) {
  pounce_str_t n = {name, strlen(name)};
  pounce_str_t v = {value, strlen(value)};
  host->response_header(res, n, v);
}

static void body(pounce_response_t* res, const char* text) {
  host->response_body(res, text, strlen(text));
}

static const char kPage[] =
    "<!doctype html>\n"
    "<html><head><meta charset=\"utf-8\"><title>early hints</title>\n"
    "<link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
    "<body><p>early hints</p><script>\n"
    "window.addEventListener('load', function () {\n"
    "  var e = performance.getEntriesByName(location.origin + "
    "'/style.css')[0];\n"
    "  var q = e ? 'initiator=' + encodeURIComponent(e.initiatorType) +\n"
    "      '&delivery=' + encodeURIComponent(e.deliveryType || '') +\n"
    "      '&proto=' + encodeURIComponent(e.nextHopProtocol || '')\n"
    "    : 'initiator=none';\n"
    "  location.replace('/report?' + q);\n"
    "});\n"
    "</script></body></html>\n";

static int hints_handle(void* instance, const pounce_request_view_t* req,
                        pounce_response_t* res) {
  const hints_t* h = instance;
  pounce_str_t info = req->path_info;
  static const pounce_header_t link[] = {
      {POUNCE_STR("Link"), POUNCE_STR("</style.css>; rel=preload; as=style")}};
  char rc_text[64];
  /* Below /blocking: the same routes. */
  if (info.len >= 9 && memcmp(info.data, "/blocking", 9) == 0) {
    info.data += 9;
    info.len -= 9;
  }
  if (equals(info, "/hint") || equals(info, "/page")) {
    int gate = open_gate(h, req->query);
    int rc = host->response_early_hints(res, link, 1);
    wait_gate(gate);
    snprintf(rc_text, sizeof rc_text, "%d", rc);
    header(res, "X-Hints-Rc", rc_text);
    if (equals(info, "/page")) {
      header(res, "Content-Type", "text/html; charset=utf-8");
      header(res, "Cache-Control", "no-store");
      body(res, kPage);
    } else {
      header(res, "Content-Type", "text/plain");
      body(res, "done\n");
    }
    return 0;
  }
  if (equals(info, "/two")) {
    static const pounce_header_t second[] = {
        {POUNCE_STR("Link"), POUNCE_STR("</app.js>; rel=preload; as=script")}};
    int a = host->response_early_hints(res, link, 1);
    int b = host->response_early_hints(res, second, 1);
    snprintf(rc_text, sizeof rc_text, "%d,%d", a, b);
    header(res, "X-Hints-Rc", rc_text);
    body(res, "two\n");
    return 0;
  }
  if (equals(info, "/bad")) {
    static const pounce_header_t split[] = {
        {POUNCE_STR("Link"), POUNCE_STR("</a.css>\r\nX-Injected: 1")}};
    static const pounce_header_t framing[] = {
        {POUNCE_STR("Link"), POUNCE_STR("</a.css>; rel=preload; as=style")},
        {POUNCE_STR("Content-Length"), POUNCE_STR("0")}};
    int a = host->response_early_hints(res, split, 1);
    int b = host->response_early_hints(res, framing, 2);
    int c = host->response_early_hints(res, link, 0);
    snprintf(rc_text, sizeof rc_text, "%d,%d,%d", a, b, c);
    header(res, "X-Hints-Rc", rc_text);
    body(res, "bad\n");
    return 0;
  }
  if (equals(info, "/style.css")) {
    header(res, "Content-Type", "text/css");
    header(res, "Cache-Control", "max-age=60");
    body(res, "p { color: rgb(1, 2, 3); }\n");
    return 0;
  }
  if (equals(info, "/report")) {
    header(res, "Content-Type", "text/plain");
    body(res, "reported\n");
    return 0;
  }
  host->response_status(res, 404);
  return 0;
}

static const pounce_route_mode_t routes[] = {
    {POUNCE_STR("/blocking"), POUNCE_MODE_BLOCKING}};

static const pounce_plugin_t plugin = {
    .size = POUNCE_PLUGIN_SIZE,
    .name = POUNCE_STR("early_hints"),
    .version = POUNCE_STR("1"),
    .mode = POUNCE_MODE_SYNC,
    .routes = routes,
    .route_count = 1,
    .init = hints_init,
    .shutdown = hints_shutdown,
    .on_handle = hints_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &plugin;
}
