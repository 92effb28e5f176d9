#include "async/handles.h"

#include "plugin/generation.h"

namespace pounce {

namespace {
std::vector<Loop*>& loops() {
  static std::vector<Loop*> l;
  return l;
}
}  // namespace

void register_handle_loops(std::vector<Loop*> l) {
  loops() = std::move(l);
}

Loop* handle_loop(uint64_t handle) {
  unsigned i = HandleTable::loop_of(handle);
  return i < loops().size() ? loops()[i] : nullptr;
}

HandleTable::HandleTable(unsigned loop_index)
    : loop_index_(loop_index), chunks_(new std::atomic<Slot*>[kMaxChunks]) {
  for (uint32_t i = 0; i < kMaxChunks; ++i) {
    chunks_[i].store(nullptr, std::memory_order_relaxed);
  }
}

HandleTable::~HandleTable() {
  for (uint32_t i = 0; i < kMaxChunks; ++i) {
    delete[] chunks_[i].load(std::memory_order_relaxed);
  }
}

HandleTable::Slot* HandleTable::slot(uint32_t index) const {
  Slot* chunk = chunks_[index >> kChunkBits].load(std::memory_order_acquire);
  return chunk ? &chunk[index & (kChunkSize - 1)] : nullptr;
}

uint64_t HandleTable::allocate(void* object, HandleKind kind,
                               Generation* generation) {
  uint32_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    if (next_unused_ >= kMaxChunks * kChunkSize) return 0;
    index = next_unused_++;
    if ((index & (kChunkSize - 1)) == 0) {
      chunks_[index >> kChunkBits].store(new Slot[kChunkSize],
                                         std::memory_order_release);
    }
  }
  Slot* s = slot(index);
  uint32_t seq = s->seq.load(std::memory_order_relaxed) + 1;  // now odd
  s->kind = kind;
  s->object = object;
  s->queued.store(0, std::memory_order_relaxed);
  s->in_transit.store(0, std::memory_order_relaxed);
  s->generation.store(generation, std::memory_order_relaxed);
  s->seq.store(seq, std::memory_order_release);
  ++live_[static_cast<unsigned>(kind)];
  static_assert(static_cast<unsigned>(HandleKind::Timer) < 4);
  return (static_cast<uint64_t>(loop_index_) << 56) |
         (static_cast<uint64_t>(kind) << kKindShift) |
         (static_cast<uint64_t>(index) << 32) | seq;
}

void HandleTable::release(uint64_t handle) {
  uint32_t index = index_of(handle);
  if (index >= next_unused_) return;
  Slot* s = slot(index);
  if (!s ||
      s->seq.load(std::memory_order_relaxed) != static_cast<uint32_t>(handle)) {
    return;
  }
  --live_[static_cast<unsigned>(s->kind)];
  s->object = nullptr;
  s->kind = HandleKind::None;
  // Sequentially consistent: pin_generation() pins, then reads `seq` again.
  // Either that read sees this store (and the caller gives its pin back), or
  // its pin comes first in the single total order, and the main thread,
  // which sees the owner's own pin released after this store, sees it too.
  s->seq.store(static_cast<uint32_t>(handle) + 1, std::memory_order_seq_cst);
  free_.push_back(index);
}

void* HandleTable::lookup(uint64_t handle, HandleKind kind) const {
  if (loop_of(handle) != loop_index_ || kind_of(handle) != kind) {
    return nullptr;
  }
  uint32_t index = index_of(handle);
  if (index >= next_unused_) return nullptr;
  Slot* s = slot(index);
  if (s->seq.load(std::memory_order_relaxed) != static_cast<uint32_t>(handle) ||
      s->kind != kind) {
    return nullptr;
  }
  return s->object;
}

bool HandleTable::alive(uint64_t handle, HandleKind kind) const {
  uint32_t seq = static_cast<uint32_t>(handle);
  if ((seq & 1) == 0 || kind_of(handle) != kind) return false;
  Slot* s = slot(index_of(handle));
  return s && s->seq.load(std::memory_order_acquire) == seq;
}

}  // namespace pounce

namespace pounce {

// The slot of `handle` while it is that handle's: a stale handle (its slot
// released, or reused by another object) must neither read nor skew the
// counts of whatever lives there now. allocate() zeroes both counts.
HandleTable::Slot* HandleTable::live_slot(uint64_t handle) const {
  if (index_of(handle) >= kMaxChunks * kChunkSize) return nullptr;
  Slot* s = slot(index_of(handle));
  if (!s ||
      s->seq.load(std::memory_order_acquire) != static_cast<uint32_t>(handle)) {
    return nullptr;
  }
  return s;
}

GenerationPin HandleTable::pin_generation(uint64_t handle) const {
  Slot* s = live_slot(handle);
  if (!s) return {};
  Generation* g = s->generation.load(std::memory_order_relaxed);
  if (!g) return {};
  // `g` is still in memory here: the object was alive a moment ago and it
  // pins `g`, and a plugin thread that calls in is stopped by its
  // generation's shutdown() before that generation is freed.
  GenerationPin pin = GenerationPin::shared(g);
  if (s->seq.load(std::memory_order_seq_cst) != static_cast<uint32_t>(handle)) {
    return {};  // closed meanwhile: `pin` goes
  }
  return pin;
}

int64_t HandleTable::backlog(uint64_t handle) const {
  Slot* s = live_slot(handle);
  if (!s) return 0;
  return s->queued.load(std::memory_order_relaxed) +
         s->in_transit.load(std::memory_order_relaxed);
}

void HandleTable::add_in_transit(uint64_t handle, int64_t delta) {
  if (Slot* s = live_slot(handle)) {
    s->in_transit.fetch_add(delta, std::memory_order_relaxed);
  }
}

void HandleTable::publish_queued(uint64_t handle, int64_t bytes) {
  if (Slot* s = live_slot(handle)) {
    s->queued.store(bytes, std::memory_order_relaxed);
  }
}

}  // namespace pounce
