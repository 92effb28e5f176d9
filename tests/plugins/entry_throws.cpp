// A C++ plugin whose entry function throws: the host must refuse it ("reload
// failed: ..." on SIGHUP, a non-zero exit at startup), never std::terminate.
#include <pounce/pounce.h>

#include <stdexcept>

POUNCE_DECLARE_PLUGIN_ABI();

extern "C" POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t*) {
  throw std::runtime_error("deliberate entry failure");
}
