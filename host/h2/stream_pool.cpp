#include "h2/stream_pool.h"

#include "h2/stream.h"

namespace pounce::h2::stream_pool {

namespace {

// Enough for a few busy connections' worth of concurrent streams (the
// default --h2-max-concurrent-streams is 100); past it, streams are freed.
constexpr size_t kMaxPooled = 256;

// thread_local rather than a member of the loop: a connection's session and
// its streams move between loops (a hand-off to an async loop), and each
// thread's loop is the only user of its pool, so no lock is needed.
struct Pool {
  Stream* head = nullptr;
  size_t count = 0;
  ~Pool();
};

thread_local Pool t_pool;

// At the thread's exit, after its loop stopped.
Pool::~Pool() {
  while (Stream* s = take()) delete s;
}

}  // namespace

Stream* take() {
  Pool& p = t_pool;
  Stream* s = p.head;
  if (!s) return nullptr;
  p.head = s->next_free_;
  s->next_free_ = nullptr;
  --p.count;
  return s;
}

void give(Stream* s) {
  Pool& p = t_pool;
  if (p.count >= kMaxPooled) {
    delete s;
    return;
  }
  s->next_free_ = p.head;
  p.head = s;
  ++p.count;
}

}  // namespace pounce::h2::stream_pool
