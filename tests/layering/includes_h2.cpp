// Must not compile against pounce_app's include view (CMakeLists.txt).
#include "h2/session.h"
