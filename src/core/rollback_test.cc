#include "core/rollback.h"

#include <gtest/gtest.h>

#include <vector>

namespace lobster {
namespace {

TEST(RollbackTest, UnwindsInReverseOrderWhenNotCommitted) {
  std::vector<int> order;
  {
    Rollback rb("test");
    rb.push("one", [&] { order.push_back(1); return ok(); });
    rb.push("two", [&] {
      order.push_back(2);
      return Status(make_error(ErrorCode::kIoFailed, "undo two failed"));
    });
    rb.push("three", [&] { order.push_back(3); return ok(); });
  }
  EXPECT_EQ(order, (std::vector<int>{3, 2, 1}));  // a failing undo does not stop the rest
}

TEST(RollbackTest, CommitDropsUndos) {
  int runs = 0;
  {
    Rollback rb("test");
    rb.push("one", [&] { ++runs; return ok(); });
    rb.commit();
  }
  EXPECT_EQ(runs, 0);
}

TEST(RollbackTest, UnwindReportsFailures) {
  Rollback rb("test");
  rb.push("bad", [] { return Status(make_error(ErrorCode::kIoFailed, "x")); });
  rb.push("good", [] { return ok(); });
  EXPECT_EQ(rb.unwind(), 1u);
  EXPECT_EQ(rb.size(), 0u);
}

}  // namespace
}  // namespace lobster
