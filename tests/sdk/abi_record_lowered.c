/* A plugin source built with the 1.1 SDK that uses only 1.0 features and
 * says so: its record asks for a 1.0 host, and its descriptor size is the
 * 1.0 one, which is what a 1.0 host accepts (abi_record_test.c checks). */
#define POUNCE_PLUGIN_MIN_HOST_MINOR 0
#include <pounce/pounce.h>

POUNCE_DECLARE_PLUGIN_ABI();

const uint32_t lowered_plugin_size = POUNCE_PLUGIN_SIZE;
