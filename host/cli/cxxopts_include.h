// The one way this project includes cxxopts.
#pragma once

// cxxopts splits vector values on ',' by default, which would cut a
// --plugin-config JSON object apart; repeat the flag instead.
#define CXXOPTS_VECTOR_DELIMITER '\0'

// cxxopts pulls in <regex>, on which g++ 12 with -fsanitize at -O2 warns
// falsely (-Wmaybe-uninitialized inside std::function); -Werror would turn
// that into a failed sanitizer build. clang does not know the warning.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <cxxopts.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
