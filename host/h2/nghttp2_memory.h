// The allocator every nghttp2 session uses (nghttp2_mem): nghttp2
// allocates per stream and per frame (streams, outbound items, HPACK
// buffers), a dozen blocks for each request, which glibc's malloc and free
// made about a tenth of an h2c request's instructions. Small blocks come
// back from free lists of the thread that frees them, as they would from a
// per-loop pool (a session runs on one loop at a time; when it moves to an
// async loop, what it frees there stays there).
//
// Under ASan or TSan the sessions use nghttp2's default (malloc), so that
// the sanitizers see every block.
#pragma once

#include <nghttp2/nghttp2.h>

namespace pounce::h2 {

// nullptr: nghttp2's default allocator (sanitizer builds).
nghttp2_mem* session_memory();

}  // namespace pounce::h2
