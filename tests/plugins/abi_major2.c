/* A plugin that claims ABI major 2: the host must refuse it before calling
 * anything in it. */
#include <pounce/pounce.h>
#include <stdlib.h>

POUNCE_EXPORT const pounce_plugin_abi_t pounce_plugin_abi = {POUNCE_ABI_MAGIC,
                                                             2, 0};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* host) {
  (void)host;
  abort(); /* never called: the ABI check comes first */
}
