#include "async/owner_state.h"

#include "async/timers.h"

namespace pounce {

void OwnedTimers::remove(uint64_t timer) {
  for (size_t i = 0; i < ids_.size(); ++i) {
    if (ids_[i] == timer) {
      ids_[i] = ids_.back();
      ids_.pop_back();
      return;
    }
  }
}

void OwnedTimers::stop_all(Loop* loop) {
  // stop_timer() calls remove() on its owner: iterate over a copy.
  std::vector<uint64_t> ids;
  ids.swap(ids_);
  for (uint64_t t : ids) stop_timer(loop, t);
}

}  // namespace pounce
