/* A plugin whose init fails: the host must refuse to start (or, on reload,
 * keep the old generation) and print the reason. */
#include <pounce/pounce.h>
#include <stdio.h>

POUNCE_DECLARE_PLUGIN_ABI();

static void* fail_init(const pounce_init_args_t* args) {
  snprintf(args->error, args->error_cap, "deliberate init failure");
  return NULL;
}

static int never(void* i, const pounce_request_view_t* r,
                 pounce_response_t* s) {
  (void)i;
  (void)r;
  (void)s;
  return 1;
}

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("init-fail"),
    .version = POUNCE_STR("1.0"),
    .mode = POUNCE_MODE_SYNC,
    .init = fail_init,
    .on_handle = never,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  (void)h;
  return &kPlugin;
}
