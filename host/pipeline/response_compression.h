// Glue between a response and the compression pieces (accept_encoding.h,
// content_type_rules.h, compressor_pool.h): what both the sync path and
// async streams call.
#pragma once

#include <pounce/pounce.h>

#include <cstddef>

#include "pipeline/accept_encoding.h"

struct pounce_response;

namespace pounce::pipeline {

// The coding for a response, from the request's Accept-Encoding lines.
Coding negotiate(const pounce_header_t* headers, size_t count);

// Rewrites the response's ETag (if any) as a weak one: a compressed body is
// not byte-identical to the representation the strong ETag named (RFC 9110
// §8.8.1).
void weaken_etag(pounce_response* res);

}  // namespace pounce::pipeline
