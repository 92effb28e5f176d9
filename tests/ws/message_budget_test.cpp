// The loop's budget for WebSocket message buffers (ws/message_budget.h),
// shared by the assemblers of one loop: an unfinished message holds its
// buffer past the socket's retained part only as long as the budget allows,
// and gives it back when it ends or its socket goes.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ws/close_codes.h"
#include "ws/message_budget.h"
#include "ws/permessage_deflate.h"
#include "ws_test_support.h"

namespace pounce::ws::testing {
namespace {

constexpr size_t kRetained = MessageAssembler::kRetainedCapacity;

AssemblerConfig config(MessageBudget* budget, uint64_t max = 1 << 20) {
  AssemblerConfig c;
  c.max_message_size = max;
  c.budget = budget;
  return c;
}

// Feeds everything; the last event (None if there was none).
Rec feed_all(MessageAssembler& rx, std::string wire) {
  std::vector<Rec> events = run(rx, wire, 4096);
  return events.empty() ? Rec{} : events.back();
}

TEST(MessageBudget, SmallMessagesNeverTouchTheBudget) {
  MessageBudget budget(1);  // any charge at all would fail
  MessageAssembler rx(config(&budget));
  // Split into fragments so that the message is buffered, not viewed.
  std::string wire =
      text(std::string(5000, 'a'), false) + cont(std::string(5000, 'b'), true);
  EXPECT_EQ(feed_all(rx, wire),
            text_msg(std::string(5000, 'a') + std::string(5000, 'b')));
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MessageBudget, UnfinishedMessageHoldsItsBufferBeyondTheRetainedPart) {
  MessageBudget budget;
  MessageAssembler rx(config(&budget));
  EXPECT_EQ(feed_all(rx, binary(std::string(100000, 'x'), false)), Rec{});
  EXPECT_TRUE(rx.in_message());
  EXPECT_EQ(budget.used(), rx.memory_usage() - kRetained);
  EXPECT_GE(budget.used(), 100000 - kRetained);
}

// Two sockets of one loop: the second fails with 1008 once the first holds
// the budget, and succeeds after the first message ended.
TEST(MessageBudget, ASecondUnfinishedMessagePastTheBudgetFailsWith1008) {
  MessageBudget budget(300000);
  MessageAssembler first(config(&budget));
  EXPECT_EQ(feed_all(first, binary(std::string(200000, 'x'), false)), Rec{});
  MessageAssembler second(config(&budget));
  EXPECT_EQ(feed_all(second, binary(std::string(200000, 'y'), false)),
            error_ev(close_code::kPolicyViolation));
  EXPECT_LE(budget.used(), budget.limit());

  // The first message ends; its buffer goes back with the next feed, and a
  // third socket can take the budget.
  EXPECT_EQ(feed_all(first, cont("", true)),
            binary_msg(std::string(200000, 'x')));
  EXPECT_EQ(feed_all(first, ping("")), ping_ev(""));
  EXPECT_EQ(budget.used(), 0u);
  MessageAssembler third(config(&budget));
  EXPECT_EQ(
      feed_all(third, binary(std::string(200000, 'z'), false) + cont("", true)),
      binary_msg(std::string(200000, 'z')));
}

TEST(MessageBudget, ASocketThatGoesGivesItsBufferBack) {
  MessageBudget budget;
  {
    MessageAssembler rx(config(&budget));
    feed_all(rx, binary(std::string(100000, 'x'), false));
    EXPECT_GT(budget.used(), 0u);
  }
  EXPECT_EQ(budget.used(), 0u);
}

TEST(MessageBudget, FailedSocketGivesItsBufferBackToo) {
  MessageBudget budget;
  {
    MessageAssembler rx(config(&budget, 150000));
    // Over the message limit: 1009, and the buffer it held is released
    // with the assembler.
    EXPECT_EQ(feed_all(rx, binary(std::string(100000, 'x'), false) +
                               cont(std::string(100000, 'x'), true)),
              error_ev(close_code::kMessageTooBig));
  }
  EXPECT_EQ(budget.used(), 0u);
}

// The attack of issue 9 #8 in small: a non-final compressed fragment of a
// few KB that inflates to nearly the message limit. The inflated bytes are
// charged as they are produced, so the budget stops it, not the limit.
TEST(MessageBudget, InflatedFragmentIsChargedAsItInflates) {
  DeflateConfig dc;
  PerMessageDeflate pmd1({}, dc);
  PerMessageDeflate pmd2({}, dc);
  MessageBudget budget(3 << 20);
  MessageAssembler first(config(&budget, 4 << 20), &pmd1);
  MessageAssembler second(config(&budget, 4 << 20), &pmd2);
  ClientDeflater client;
  const std::string bomb = client.compress(std::string((4 << 20) - 1, '\0'));
  ASSERT_LT(bomb.size(), 8000u);
  const std::string frame =
      client_frame(b0(Opcode::Binary, /*fin=*/false, /*rsv1=*/true), bomb);
  EXPECT_EQ(feed_all(first, frame), error_ev(close_code::kPolicyViolation));
  EXPECT_LE(budget.used(), budget.limit());
  // Whatever the first socket was refused, it held no more than the
  // budget; the second is refused likewise while the first is alive.
  EXPECT_EQ(feed_all(second, frame), error_ev(close_code::kPolicyViolation));
}

TEST(MessageBudget, TakeNeverPassesTheLimit) {
  MessageBudget b(100);
  EXPECT_TRUE(b.take(60));
  EXPECT_FALSE(b.take(41));
  EXPECT_EQ(b.used(), 60u);
  EXPECT_TRUE(b.take(40));
  EXPECT_FALSE(b.take(1));
  b.give_back(100);
  EXPECT_EQ(b.used(), 0u);
}

}  // namespace
}  // namespace pounce::ws::testing
