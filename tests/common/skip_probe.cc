// Probe for gtest_main_test.cc: one test passes, one skips with a reason.
#include <gtest/gtest.h>

TEST(Probe, Passes) { EXPECT_EQ(1 + 1, 2); }

TEST(Probe, CannotRunHere) { GTEST_SKIP() << "no such device\nsecond line"; }
