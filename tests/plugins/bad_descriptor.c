/* A plugin whose descriptor has one bogus field, chosen at build time. The
 * host must refuse it before using the field: at startup with a non-zero
 * exit and a message, on SIGHUP with "reload failed: ..." while the old
 * generation keeps serving.
 *
 *   BAD_NAME_LEN   name.len is (size_t)-1
 *   BAD_MODE       mode is 7
 *   BAD_ROUTES     route_count is 3, routes is NULL
 *   BAD_SIZE       size is far larger than any pounce_plugin_t
 *   NO_HANDLER     sync mode without on_handle
 */
#include <pounce/pounce.h>
#include <stdint.h>

POUNCE_DECLARE_PLUGIN_ABI();

static void* bad_init(const pounce_init_args_t* args) {
  (void)args;
  return (void*)&pounce_plugin_abi;
}

#ifndef NO_HANDLER
static int bad_handle(void* i, const pounce_request_view_t* r,
                      pounce_response_t* s) {
  (void)i;
  (void)r;
  (void)s;
  return 1;
}
#endif

static const pounce_plugin_t kPlugin = {
#ifdef BAD_SIZE
    .size = 0x40000000u,
#else
    .size = sizeof(pounce_plugin_t),
#endif
#ifdef BAD_NAME_LEN
    .name = {"bad", SIZE_MAX},
#else
    .name = POUNCE_STR("bad"),
#endif
    .version = POUNCE_STR("1.0"),
#ifdef BAD_MODE
    .mode = (pounce_mode_t)7,
#else
    .mode = POUNCE_MODE_SYNC,
#endif
#ifdef BAD_ROUTES
    .routes = NULL,
    .route_count = 3,
#endif
    .init = bad_init,
#ifndef NO_HANDLER
    .on_handle = bad_handle,
#endif
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  (void)h;
  return &kPlugin;
}
