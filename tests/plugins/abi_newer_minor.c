/* A plugin whose record says it needs host minor 2, newer than this host's
 * 1.1: refused, with both versions named. Spelled out, not
 * POUNCE_ABI_MINOR + 1, so that the test keeps meaning "newer" only while
 * the host is 1.1 (bump both together). */
#include <pounce/pounce.h>
#include <stdlib.h>

POUNCE_EXPORT const pounce_plugin_abi_t pounce_plugin_abi = {
    POUNCE_ABI_MAGIC, POUNCE_ABI_MAJOR, 2};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* host) {
  (void)host;
  abort();
}
