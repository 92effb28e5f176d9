// Must not compile against pounce_app's include view (CMakeLists.txt).
#include "net/event_loop.h"
