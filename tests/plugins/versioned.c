/* A plugin that says which build it is, for hot-reload tests. Built twice,
 * with VERSION_TEXT "v1" and "v2".
 *
 *   GET /            -> VERSION_TEXT
 *   GET /slow?ms=N   -> sleeps N ms in the handler (a request in flight
 *                       across a reload or a shutdown), then VERSION_TEXT
 *   GET /tid         -> the id of the worker thread that ran the handler
 */
#define _GNU_SOURCE
#include <pounce/pounce.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef VERSION_TEXT
#define VERSION_TEXT "v1"
#endif

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

static int starts_with(pounce_str_t s, const char* lit) {
  size_t n = strlen(lit);
  return s.len >= n && memcmp(s.data, lit, n) == 0;
}

static void* v_init(const pounce_init_args_t* args) {
  (void)args;
  return (void*)&host;
}

static int v_handle(void* instance, const pounce_request_view_t* req,
                    pounce_response_t* res) {
  char body[64];
  int n;
  if (starts_with(req->path_info, "/slow")) {
    long ms = 0;
    if (req->query.len > 3 && memcmp(req->query.data, "ms=", 3) == 0) {
      char num[16] = {0};
      size_t len = req->query.len - 3 < 15 ? req->query.len - 3 : 15;
      memcpy(num, req->query.data + 3, len);
      ms = atol(num);
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    /* Tests wait for this line to know the request is in the handler. */
    host->log(instance, POUNCE_LOG_INFO,
              (pounce_str_t)POUNCE_STR("slow request started"));
    nanosleep(&ts, NULL);
  }
  (void)instance;
  if (starts_with(req->path_info, "/tid")) {
    n = snprintf(body, sizeof body, "%ld", (long)gettid());
  } else {
    n = snprintf(body, sizeof body, "%s", VERSION_TEXT);
  }
  return host->response_body(res, body, (size_t)n);
}

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("versioned"),
    .version = POUNCE_STR(VERSION_TEXT),
    .mode = POUNCE_MODE_SYNC,
    .init = v_init,
    .on_handle = v_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
