/* A plugin built against a newer minor than the host has: refused. */
#include <pounce/pounce.h>
#include <stdlib.h>

POUNCE_EXPORT const pounce_plugin_abi_t pounce_plugin_abi = {
    POUNCE_ABI_MAGIC, POUNCE_ABI_MAJOR, POUNCE_ABI_MINOR + 1};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* host) {
  (void)host;
  abort();
}
