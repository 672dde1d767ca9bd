#include "sched/loop_host.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>

namespace lobster::sched {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(LoopHostTest, PeriodicTaskRunsFirstAtOnceThenAfterEachInterval) {
  FakeClock clock;
  LoopHost host(clock);
  int runs = 0;
  host.every(
      "tick", [] { return int64_t{1000}; }, [&] { ++runs; });
  EXPECT_THAT(host.run_due_for_test(), ElementsAre("tick"));
  EXPECT_THAT(host.run_due_for_test(), IsEmpty());
  clock.advance_ms(999);
  EXPECT_THAT(host.run_due_for_test(), IsEmpty());
  clock.advance_ms(1);
  EXPECT_THAT(host.run_due_for_test(), ElementsAre("tick"));
  EXPECT_EQ(runs, 2);
}

TEST(LoopHostTest, NextRunIsMeasuredFromTheEndOfASlowRun) {
  FakeClock clock;
  LoopHost host(clock);
  host.every(
      "slow", [] { return int64_t{1000}; }, [&] { clock.advance_ms(5000); });
  ASSERT_THAT(host.run_due_for_test(), ElementsAre("slow"));
  // The run took 5 s: the next one is 1 s after it ended, never "catching up" back to back.
  EXPECT_EQ(host.due_ms("slow"), clock.monotonic_ms() + 1000);
  EXPECT_THAT(host.run_due_for_test(), IsEmpty());
}

TEST(LoopHostTest, IntervalIsReadAgainForEveryRun) {
  FakeClock clock;
  LoopHost host(clock);
  int64_t interval = 1000;
  host.every(
      "tick", [&] { return interval; }, [] {});
  host.run_due_for_test();
  interval = 3000;
  clock.advance_ms(1000);
  host.run_due_for_test();  // scheduled with the old interval, runs; the next uses the new one
  EXPECT_EQ(host.due_ms("tick"), clock.monotonic_ms() + 3000);
}

TEST(LoopHostTest, OneShotRunsOnceAtItsTimeAndIsForgotten) {
  FakeClock clock;
  LoopHost host(clock);
  int runs = 0;
  host.once("wake:a", clock.monotonic_ms() + 500, [&] { ++runs; });
  EXPECT_THAT(host.run_due_for_test(), IsEmpty());
  clock.advance_ms(500);
  EXPECT_THAT(host.run_due_for_test(), ElementsAre("wake:a"));
  EXPECT_FALSE(host.has("wake:a"));
  clock.advance_ms(10'000);
  EXPECT_THAT(host.run_due_for_test(), IsEmpty());
  EXPECT_EQ(runs, 1);
}

TEST(LoopHostTest, OneShotInThePastRunsAtOnceAndRearmingReplaces) {
  FakeClock clock;
  LoopHost host(clock);
  std::vector<int> seen;
  host.once("w", clock.monotonic_ms() + 100, [&] { seen.push_back(1); });
  host.once("w", clock.monotonic_ms() - 100, [&] { seen.push_back(2); });
  host.run_due_for_test();
  EXPECT_THAT(seen, ElementsAre(2));
}

TEST(LoopHostTest, CancelAndPoke) {
  FakeClock clock;
  LoopHost host(clock);
  int a = 0;
  int b = 0;
  host.every(
      "a", [] { return int64_t{60'000}; }, [&] { ++a; }, 60'000);
  host.once("b", clock.monotonic_ms() + 10, [&] { ++b; });
  EXPECT_TRUE(host.cancel("b"));
  EXPECT_FALSE(host.cancel("b"));
  host.poke("a");
  host.poke("unknown");
  clock.advance_ms(10);
  EXPECT_THAT(host.run_due_for_test(), ElementsAre("a"));
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 0);
}

TEST(LoopHostTest, EarliestDueRunsFirstAndTasksMayScheduleOthers) {
  FakeClock clock;
  LoopHost host(clock);
  std::vector<std::string> order;
  host.once("late", clock.monotonic_ms() + 20, [&] { order.push_back("late"); });
  host.once("early", clock.monotonic_ms() + 10, [&] {
    order.push_back("early");
    host.once("now", clock.monotonic_ms() - 5, [&] { order.push_back("now"); });
  });
  clock.advance_ms(20);
  host.run_due_for_test();
  EXPECT_THAT(order, ElementsAre("early", "now", "late"));
}

TEST(LoopHostTest, PokedWhileRunningRunsAgainRightAfter) {
  FakeClock clock;
  LoopHost host(clock);
  int runs = 0;
  host.every(
      "t", [] { return int64_t{10'000}; },
      [&] {
        if (++runs == 1)
          host.poke("t");  // e.g. a VMM died while the watchdog ticked
      });
  EXPECT_THAT(host.run_due_for_test(), ElementsAre("t", "t"));
  EXPECT_EQ(runs, 2);
}

// The real-time dispatcher: a periodic task never overlaps itself even with several workers.
TEST(LoopHostTest, RealDispatcherNeverOverlapsATask) {
  FakeClock clock;
  LoopHost host(clock);
  std::mutex mu;
  std::condition_variable cv;
  int runs = 0;
  std::atomic<int> concurrent{0};
  std::atomic<int> max_concurrent{0};
  host.every(
      "t", [] { return int64_t{1}; },
      [&] {
        int now = ++concurrent;
        max_concurrent = std::max(max_concurrent.load(), now);
        host.poke("t");  // due again at once, while it still runs
        --concurrent;
        std::lock_guard lock(mu);
        ++runs;
        cv.notify_all();
      });
  host.start(4);
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return runs >= 20; }));
  }
  host.stop();
  EXPECT_EQ(max_concurrent.load(), 1);
}

}  // namespace
}  // namespace lobster::sched
