// Streams that ended, kept by the thread (one loop each) for the next
// request of any of its HTTP/2 connections. A connection with many streams
// at once (a browser's page load, `h2load -m 32`) then allocates no stream
// per request, and an idle connection keeps none: a per-session free list
// had to choose between the two.
#pragma once

#include <cstddef>

namespace pounce::h2 {

class Stream;

namespace stream_pool {

// A stream from this thread's pool, or nullptr when it has none. The caller
// rebinds it to its session and loop, then resets it.
Stream* take();
// A stream no session refers to any more, its timeouts disarmed: kept for
// take(), or deleted past the pool's bound.
void give(Stream* s);

}  // namespace stream_pool
}  // namespace pounce::h2
