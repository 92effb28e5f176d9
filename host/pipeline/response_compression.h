// What a compressed response changes in the plugin's headers.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>

#include "pipeline/accept_encoding.h"

struct pounce_response;

namespace pounce::pipeline {

// Rewrites the response's ETag (if any) as a weak one: a compressed body is
// not byte-identical to the representation the strong ETag named (RFC 9110
// §8.8.1).
void weaken_etag(pounce_response* res);

}  // namespace pounce::pipeline
