// The host function table handed to every plugin (pounce_host_api_t).
#pragma once

#include <pounce/pounce.h>

namespace pounce {

// The one table, valid for the life of the process.
const pounce_host_api_t* host_api();

}  // namespace pounce
