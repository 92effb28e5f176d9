// The async half of the host function table: streams, WebSockets, timers and
// posting to an exchange's loop.
#pragma once

#include <pounce/pounce.h>

namespace pounce {

void fill_stream_api(pounce_host_api_t* table);

}  // namespace pounce
