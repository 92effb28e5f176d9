/* pounce.h's versioning and presence macros, from C (docs/abi.md):
 *  - the record's minor is POUNCE_PLUGIN_MIN_HOST_MINOR: the SDK's minor by
 *    default, lowered by the macro (abi_record_lowered.c), and the
 *    descriptor size follows it;
 *  - POUNCE_HAS_FIELD / POUNCE_HOST_HAS see only what a shorter, older
 *    struct holds;
 *  - the ABI's enumerations are 32-bit, the address families Pounce's own.
 * Exits non-zero, naming the failed check, when one fails. */
#include <pounce/pounce.h>
#include <stdio.h>
#include <string.h>

extern const pounce_plugin_abi_t pounce_plugin_abi;
extern const uint32_t lowered_plugin_size;

static int failures;

#define CHECK(cond)                                              \
  do {                                                           \
    if (!(cond)) {                                               \
      fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                \
    }                                                            \
  } while (0)

static uint64_t fake_now(void) {
  return 1;
}
static int fake_request_tls(const pounce_request_t* r, pounce_tls_info_t* o) {
  (void)r;
  (void)o;
  return 0;
}
static int fake_header_at(const pounce_request_t* r, pounce_str_t n, size_t i,
                          pounce_str_t* v) {
  (void)r;
  (void)n;
  (void)i;
  (void)v;
  return 0;
}

/* A table whose slots are all filled, as far as `size` says it reaches. */
static const pounce_host_api_t* fake_host(uint32_t size) {
  static pounce_host_api_t h;
  memset(&h, 0, sizeof h);
  h.size = size;
  h.now_ns = fake_now;                  /* 1.0 */
  h.request_header_at = fake_header_at; /* 1.1 */
  h.request_tls = fake_request_tls;     /* 1.1 */
  return &h;
}

int main(void) {
  /* This file keeps the default: the SDK's own minor. */
  CHECK(POUNCE_ABI_MAJOR == 1);
  CHECK(POUNCE_ABI_MINOR == 1);
  CHECK(POUNCE_PLUGIN_MIN_HOST_MINOR == POUNCE_ABI_MINOR);
  CHECK(POUNCE_PLUGIN_SIZE == sizeof(pounce_plugin_t));

  /* The lowered one: asks for a 1.0 host, with a 1.0-sized descriptor. */
  CHECK(pounce_plugin_abi.magic == POUNCE_ABI_MAGIC);
  CHECK(pounce_plugin_abi.major == 1);
  CHECK(pounce_plugin_abi.minor == 0);
  CHECK(lowered_plugin_size ==
        offsetof(pounce_plugin_t, on_ws_upgrade_abandoned));
  CHECK(lowered_plugin_size < sizeof(pounce_plugin_t));

  /* A 1.0 host's table ends after now_ns. */
  {
    uint32_t size10 =
        (uint32_t)(offsetof(pounce_host_api_t, now_ns) + sizeof(void*));
    CHECK(POUNCE_HOST_HAS(fake_host(size10), now_ns));
    CHECK(!POUNCE_HOST_HAS(fake_host(size10), request_header_at));
    CHECK(POUNCE_HOST_HAS(fake_host(sizeof(pounce_host_api_t)),
                          request_header_at));
    /* request_tls comes after request_header_at: a table that ends there
     * lacks it. */
    uint32_t size_hat =
        (uint32_t)(offsetof(pounce_host_api_t, request_header_at) +
                   sizeof(void*));
    CHECK(POUNCE_HOST_HAS(fake_host(size_hat), request_header_at));
    CHECK(!POUNCE_HOST_HAS(fake_host(size_hat), request_tls));
    CHECK(POUNCE_HOST_HAS(fake_host(sizeof(pounce_host_api_t)), request_tls));
  }
  /* pounce_tls_info_t: the 32-bit flags and the string views keep a layout
   * without padding (a C FFI reads it field by field). */
  CHECK(sizeof(pounce_tls_info_t) ==
        2 * sizeof(uint32_t) + 4 * sizeof(pounce_str_t) + 2 * sizeof(int32_t) +
            5 * sizeof(pounce_str_t));
  CHECK(offsetof(pounce_tls_info_t, size) == 0);
  /* A 1.0 host's request view ends after handle. */
  {
    pounce_request_view_t v;
    memset(&v, 0, sizeof v);
    v.size =
        (uint32_t)(offsetof(pounce_request_view_t, handle) + sizeof(v.handle));
    CHECK(POUNCE_HAS_FIELD(&v, pounce_request_view_t, handle));
    CHECK(!POUNCE_HAS_FIELD(&v, pounce_request_view_t, scheme));
    CHECK(!POUNCE_HAS_FIELD(&v, pounce_request_view_t, authority));
    v.size = sizeof v;
    CHECK(POUNCE_HAS_FIELD(&v, pounce_request_view_t, authority));
    CHECK(!POUNCE_HAS_FIELD((pounce_request_view_t*)NULL, pounce_request_view_t,
                            handle));
  }

  CHECK(sizeof(pounce_mode_t) == 4);
  CHECK(sizeof(pounce_result_t) == 4);
  CHECK(sizeof(pounce_log_level_t) == 4);
  CHECK(sizeof(pounce_drain_reason_t) == 4);
  CHECK(sizeof(pounce_ws_opcode_t) == 4);
  CHECK(sizeof(pounce_close_reason_t) == 4);
  CHECK(POUNCE_MODE_BLOCKING == 2);
  CHECK(POUNCE_CLOSE_RESET == 6);
  CHECK(POUNCE_AF_UNIX == 1 && POUNCE_AF_INET == 2 && POUNCE_AF_INET6 == 10);

  if (failures == 0) printf("abi_record_test: all checks passed\n");
  return failures ? 1 : 0;
}
