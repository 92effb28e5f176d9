// Compiles against pounce_app's include view (CMakeLists.txt).
#include "exchange/exchange.h"
#include "exchange/loop.h"
