// The handle table that plugins' stream and WebSocket handles index: a
// stale handle (its object closed, its slot maybe reused) must never reach
// or skew the slot's next occupant.
#include <gtest/gtest.h>

#include "async/handles.h"

namespace pounce {
namespace {

TEST(HandleTable, AStaleHandleNeverMatchesTheSlotsNextOccupant) {
  HandleTable t(3);
  int a = 0, b = 0;
  const uint64_t first = t.allocate(&a, HandleKind::Stream);
  ASSERT_NE(first, 0u);
  EXPECT_TRUE(t.alive(first, HandleKind::Stream));
  EXPECT_EQ(t.lookup(first, HandleKind::Stream), &a);
  EXPECT_EQ(t.lookup(first, HandleKind::WebSocket), nullptr);
  t.add_in_transit(first, 100);
  EXPECT_EQ(t.backlog(first), 100);

  t.release(first);
  EXPECT_FALSE(t.alive(first, HandleKind::Stream));
  EXPECT_EQ(t.lookup(first, HandleKind::Stream), nullptr);
  EXPECT_EQ(t.backlog(first), 0);

  // The slot is reused: same index, another sequence number.
  const uint64_t second = t.allocate(&b, HandleKind::Stream);
  EXPECT_EQ(second >> 32, first >> 32);
  EXPECT_NE(second, first);
  EXPECT_EQ(t.backlog(second), 0);  // counts start from zero
  // A late poster or a late task of the first object changes nothing.
  t.add_in_transit(first, 4096);
  t.add_in_transit(first, -100);
  t.publish_queued(first, 1 << 20);
  EXPECT_EQ(t.backlog(second), 0);
  EXPECT_EQ(t.lookup(first, HandleKind::Stream), nullptr);
  EXPECT_EQ(t.lookup(second, HandleKind::Stream), &b);
  t.publish_queued(second, 10);
  t.add_in_transit(second, 5);
  EXPECT_EQ(t.backlog(second), 15);
}

TEST(HandleTable, HandlesCarryTheirLoop) {
  HandleTable t(7);
  int a = 0;
  const uint64_t h = t.allocate(&a, HandleKind::WebSocket);
  EXPECT_EQ(h >> 56, 7u);
  HandleTable other(8);
  EXPECT_EQ(other.lookup(h, HandleKind::WebSocket), nullptr);
}

}  // namespace
}  // namespace pounce
