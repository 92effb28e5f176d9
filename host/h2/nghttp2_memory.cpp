#include "h2/nghttp2_memory.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define POUNCE_H2_SYSTEM_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define POUNCE_H2_SYSTEM_MALLOC 1
#endif
#endif

namespace pounce::h2 {

#ifdef POUNCE_H2_SYSTEM_MALLOC

nghttp2_mem* session_memory() {
  return nullptr;
}

#else

namespace {

// Size classes; larger blocks go to malloc directly.
constexpr size_t kClassSize[] = {64, 128, 256, 512, 1024, 2048};
constexpr size_t kClasses = sizeof kClassSize / sizeof kClassSize[0];
constexpr uint32_t kLarge = kClasses;
// Blocks kept per class and thread: enough for a few busy connections'
// worth of streams; the rest goes back to malloc.
constexpr size_t kKeep = 512;

// Before each block: its class, and for a large one its size. 16 bytes, so
// that the block keeps malloc's alignment.
struct alignas(16) Header {
  uint32_t cls;
  uint64_t size;
};
static_assert(sizeof(Header) == 16);

struct FreeBlock {
  FreeBlock* next;
};

struct Pool {
  FreeBlock* head[kClasses] = {};
  size_t count[kClasses] = {};
  ~Pool() {
    for (size_t c = 0; c < kClasses; ++c) {
      while (FreeBlock* b = head[c]) {
        head[c] = b->next;
        free(reinterpret_cast<Header*>(b) - 1);
      }
    }
  }
};

// Thread-local: no lock, and no atomic, per allocation.
thread_local Pool t_pool;

uint32_t class_of(size_t size) {
  for (uint32_t c = 0; c < kClasses; ++c) {
    if (size <= kClassSize[c]) return c;
  }
  return kLarge;
}

void* pool_malloc(size_t size, void*) {
  const uint32_t c = class_of(size);
  Header* h;
  if (c == kLarge) {
    if (size > SIZE_MAX - sizeof(Header)) return nullptr;
    h = static_cast<Header*>(malloc(sizeof(Header) + size));
    if (!h) return nullptr;
    h->size = size;
  } else if (FreeBlock* b = t_pool.head[c]) {
    t_pool.head[c] = b->next;
    --t_pool.count[c];
    h = reinterpret_cast<Header*>(b) - 1;
  } else {
    h = static_cast<Header*>(malloc(sizeof(Header) + kClassSize[c]));
    if (!h) return nullptr;
    h->size = kClassSize[c];
  }
  h->cls = c;
  return h + 1;
}

void pool_free(void* p, void*) {
  if (!p) return;
  Header* h = static_cast<Header*>(p) - 1;
  const uint32_t c = h->cls;
  if (c == kLarge || t_pool.count[c] >= kKeep) {
    free(h);
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  b->next = t_pool.head[c];
  t_pool.head[c] = b;
  ++t_pool.count[c];
}

void* pool_calloc(size_t n, size_t size, void* user) {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = pool_malloc(n * size, user);
  if (p) memset(p, 0, n * size);
  return p;
}

void* pool_realloc(void* p, size_t size, void* user) {
  if (!p) return pool_malloc(size, user);
  Header* h = static_cast<Header*>(p) - 1;
  if (size <= h->size) return p;  // it fits where it is
  void* q = pool_malloc(size, user);
  if (!q) return nullptr;
  memcpy(q, p, h->size);
  pool_free(p, user);
  return q;
}

nghttp2_mem g_memory = {nullptr, pool_malloc, pool_free, pool_calloc,
                        pool_realloc};

}  // namespace

nghttp2_mem* session_memory() {
  return &g_memory;
}

#endif

}  // namespace pounce::h2
