/* Simulates a plugin built against an older minor of ABI 1: its descriptor
 * ends right after on_handle, so every later field is missing. The host must
 * copy only `size` bytes and treat the rest as absent. */
#include <pounce/pounce.h>
#include <stddef.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

/* The old layout: the fields of pounce_plugin_t up to on_handle. */
typedef struct old_plugin {
  uint32_t size;
  pounce_str_t name;
  pounce_str_t version;
  pounce_mode_t mode;
  const pounce_route_mode_t* routes;
  size_t route_count;
  void* (*init)(const pounce_init_args_t* args);
  void (*shutdown)(void* instance);
  void (*on_draining)(void* instance, pounce_drain_reason_t reason,
                      uint64_t deadline_ns);
  int (*on_handle)(void* instance, const pounce_request_view_t* req,
                   pounce_response_t* res);
} old_plugin_t;

static void* old_init(const pounce_init_args_t* args) {
  (void)args;
  return (void*)&host;
}

static int old_handle(void* instance, const pounce_request_view_t* req,
                      pounce_response_t* res) {
  static const char body[] = "old minor ok";
  (void)instance;
  (void)req;
  host->response_header(res, (pounce_str_t)POUNCE_STR("Content-Type"),
                        (pounce_str_t)POUNCE_STR("text/plain"));
  return host->response_body(res, body, sizeof body - 1);
}

/* Followed by bytes that must never be read as hooks: a host reading past
 * `size` would call garbage (0x5a5a5a5a...) and crash. */
#define Z16 "ZZZZZZZZZZZZZZZZ"
#define Z128 Z16 Z16 Z16 Z16 Z16 Z16 Z16 Z16
static const struct {
  old_plugin_t plugin;
  char poison[257];
} kOld = {{sizeof(old_plugin_t), POUNCE_STR("old-minor"), POUNCE_STR("0.9"),
           POUNCE_MODE_SYNC, NULL, 0, old_init, NULL, NULL, old_handle},
          Z128 Z128};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  return (const pounce_plugin_t*)&kOld.plugin;
}
