/* A plugin that kills its process on purpose, to test the supervisor and
 * the crash reports. Each route is one fatal signal:
 *
 *   /crash     reads through a NULL struct pointer (SIGSEGV)
 *   /abort     abort() (SIGABRT)
 *   /fpe       an integer division by zero (SIGFPE)
 *   /overflow  unbounded recursion (SIGSEGV on the guard page)
 *   anything else: 200 "ok"
 *
 * Its config can make init crash too:
 *   {"crash_in_init": true}          every init crashes
 *   {"crash_in_init_if": "/a/file"}  an init that finds the file deletes it,
 *                                    then crashes (one crash per file)
 *   {"init_delay_ms": "300"}         init prints "crasher: init waits" on
 *                                    stderr, then sleeps that long
 *
 * The faults are real ones, written so that UBSan does not report them
 * first: the pointer is not NULL itself but points into the first page, and
 * the division is done in assembly. */
#define _GNU_SOURCE /* memmem */
#include <pounce/pounce.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

struct record {
  int a, b, c, d;
  int value;
};

static int is(pounce_str_t s, const char* lit) {
  return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}

static int read_through_null(void) {
  /* A field of a NULL struct pointer, computed on integers so that neither
   * the compiler nor UBSan sees a NULL dereference in the source. */
  struct record* volatile r = NULL;
  volatile int* value =
      (volatile int*)((uintptr_t)r + offsetof(struct record, value));
  return *value;
}

static int divide(int a, int b) {
#if defined(__x86_64__)
  int q;
  __asm__ volatile("cltd\n\tidivl %2" : "=a"(q) : "a"(a), "r"(b) : "edx", "cc");
  return q;
#else
  (void)a;
  (void)b;
  raise(SIGFPE);
  return 0;
#endif
}

static int recurse(volatile char* above, long depth) {
  volatile char frame[1024];
  frame[0] = above ? above[0] : 0;
  if (depth > 100000000L) return frame[0];
  return recurse(frame, depth + 1) + frame[0];
}

/* Copies the JSON string value of "key" (no escapes) into out. */
static int json_string(pounce_str_t json, const char* key, char* out,
                       size_t cap) {
  char pattern[64];
  const char* end = json.data + json.len;
  const char* p;
  size_t n;
  snprintf(pattern, sizeof pattern, "\"%s\"", key);
  p = memmem(json.data, json.len, pattern, strlen(pattern));
  if (!p) return 0;
  p += strlen(pattern);
  while (p < end && (*p == ' ' || *p == ':')) ++p;
  if (p >= end || *p != '"') return 0;
  ++p;
  for (n = 0; p + n < end && p[n] != '"'; ++n) {
  }
  if (n + 1 > cap) return 0;
  memcpy(out, p, n);
  out[n] = '\0';
  return 1;
}

static void* crasher_init(const pounce_init_args_t* args) {
  char path[512];
  const char* always = "\"crash_in_init\": true";
  if (memmem(args->config_json.data, args->config_json.len, always,
             strlen(always))) {
    read_through_null();
  }
  if (json_string(args->config_json, "init_delay_ms", path, sizeof path)) {
    fprintf(stderr, "crasher: init waits\n");
    fflush(stderr);
    usleep((useconds_t)atoi(path) * 1000);
  }
  if (json_string(args->config_json, "crash_in_init_if", path, sizeof path) &&
      unlink(path) == 0) {
    read_through_null();
  }
  return (void*)&host;
}

static int crasher_handle(void* instance, const pounce_request_view_t* req,
                          pounce_response_t* res) {
  pounce_str_t p = req->path_info;
  (void)instance;
  if (is(p, "/crash")) {
    read_through_null();
  } else if (is(p, "/abort")) {
    abort();
  } else if (is(p, "/fpe")) {
    volatile int zero = 0;
    divide(1, zero);
  } else if (is(p, "/overflow")) {
    recurse(NULL, 0);
  }
  host->response_body(res, "ok", 2);
  return 0;
}

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("crasher"),
    .version = POUNCE_STR("1.0"),
    .mode = POUNCE_MODE_SYNC,
    .init = crasher_init,
    .on_handle = crasher_handle,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return &kPlugin;
}
