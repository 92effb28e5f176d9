// Generation-checked 64-bit handles for streams, WebSockets and timers
// (ARCHITECTURE.md §2 "Ownership and threading").
//
// A handle is [loop index: 8 bits][kind: 2 bits][slot: 22 bits][sequence:
// 32 bits]. The slot's sequence is odd while the object lives and is bumped
// when it is released, so a stale handle never matches again. The kind is in
// the handle itself so that any thread can refuse a handle of the wrong kind
// (a WebSocket given to stream_write) without touching the object: the
// sequence alone would call such a handle alive. Slots live in chunks that
// are never freed while the process runs, which is what lets any thread check
// a handle (one atomic load) without touching the object itself; only the
// owning loop ever dereferences the object.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace pounce {

class Loop;
class Generation;
class GenerationPin;

enum class HandleKind : uint8_t {
  None = 0,
  Stream = 1,
  WebSocket = 2,
  Timer = 3
};

class HandleTable {
 public:
  explicit HandleTable(unsigned loop_index);
  ~HandleTable();
  HandleTable(const HandleTable&) = delete;
  HandleTable& operator=(const HandleTable&) = delete;

  // Owning loop only. `generation`: the one whose code the object calls
  // (streams and WebSockets), for pin_generation().
  uint64_t allocate(void* object, HandleKind kind,
                    Generation* generation = nullptr);
  void release(uint64_t handle);
  // The object, or nullptr when the handle is stale or of another kind.
  void* lookup(uint64_t handle, HandleKind kind) const;

  // Any thread: whether the handle still names a live object of `kind`. The
  // answer can be outdated by the time the caller acts on it; the owning
  // loop checks again with lookup().
  bool alive(uint64_t handle, HandleKind kind) const;

  // The kind a handle was made for, from its bits alone (any thread; the
  // handle need not be alive). HandleKind::None for 0.
  static HandleKind kind_of(uint64_t handle) {
    return static_cast<HandleKind>((handle >> kKindShift) & 3);
  }

  // Any thread: pins the generation of the object `handle` names, if it is
  // alive; an empty pin otherwise. Once this returned a pin, the generation
  // stays loaded however soon the object closes: for calls queued to the
  // object's loop from another thread that will run plugin code.
  GenerationPin pin_generation(uint64_t handle) const;

  // Live objects of `kind` (streams, WebSockets, timers). Owning loop
  // only: /status asks each loop on its own thread.
  size_t live(HandleKind kind) const {
    return live_[static_cast<unsigned>(kind)];
  }

  static unsigned loop_of(uint64_t handle) {
    return static_cast<unsigned>(handle >> 56);
  }

  // Backpressure as other threads see it, without touching the object:
  // the owning loop publishes the bytes it has queued for the socket, and
  // posting threads count what they sent that the loop has not applied yet.
  // Any thread.
  int64_t backlog(uint64_t handle) const;
  void add_in_transit(uint64_t handle, int64_t delta);
  // Owning loop only.
  void publish_queued(uint64_t handle, int64_t bytes);

 private:
  static constexpr unsigned kSlotBits = 22;  // 4M live objects per loop
  static constexpr unsigned kKindShift = 32 + kSlotBits;
  // 4096 slots a chunk: 1024 chunk pointers (8 KiB) per loop cover the 22
  // slot bits, without a large table touched up front.
  static constexpr unsigned kChunkBits = 12;
  static constexpr uint32_t kChunkSize = 1u << kChunkBits;
  static constexpr uint32_t kMaxChunks = (1u << kSlotBits) / kChunkSize;

  struct Slot {
    std::atomic<uint32_t> seq{0};  // odd: live. Written by the owning loop.
    HandleKind kind = HandleKind::None;  // owning loop only
    void* object = nullptr;              // owning loop only
    std::atomic<int64_t> queued{0};      // stored by the owning loop
    std::atomic<int64_t> in_transit{0};  // posters add, the loop subtracts
    // Written by the owning loop before `seq` publishes the slot; read by
    // any thread between two reads of `seq` (pin_generation).
    std::atomic<Generation*> generation{nullptr};
  };

  Slot* slot(uint32_t index) const;
  Slot* live_slot(uint64_t handle) const;
  static uint32_t index_of(uint64_t handle) {
    return static_cast<uint32_t>(handle >> 32) & ((1u << kSlotBits) - 1);
  }

  unsigned loop_index_;
  // Chunk pointers are published with release and read with acquire by other
  // threads; a chunk, once published, is never moved or freed.
  std::unique_ptr<std::atomic<Slot*>[]> chunks_;
  uint32_t next_unused_ = 0;    // owning loop only
  std::vector<uint32_t> free_;  // owning loop only
  size_t live_[4] = {};         // owning loop only, by HandleKind
};

// The loops that own handles, indexed by the handle's loop bits. Filled once
// at start-up, before any thread runs; read-only afterwards.
void register_handle_loops(std::vector<Loop*> loops);
Loop* handle_loop(uint64_t handle);

}  // namespace pounce
