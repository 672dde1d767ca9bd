#include "core/fs.h"

#include <gtest/gtest.h>

#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"

namespace lobster::fs {
namespace {

class ReadTail : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    std::string path = dir_.path() + "/log";
    EXPECT_THAT(write_file_atomic(path, text), testing::IsOk());
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(ReadTail, KeepsTheLastLines) {
  auto r = read_tail(write("a\nb\nc\nd\n"), 2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "c\nd\n");
}

TEST_F(ReadTail, LastLineWithoutNewlineCounts) {
  auto r = read_tail(write("a\nb\nc"), 2);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "b\nc");
}

TEST_F(ReadTail, FewerLinesThanAskedGivesTheWholeFile) {
  auto r = read_tail(write("only\n"), 10);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "only\n");
  EXPECT_EQ(read_tail(write(""), 3).value(), "");
  EXPECT_EQ(read_tail(write("x\n"), 0).value(), "");
}

TEST_F(ReadTail, ReadsOnlyTheLastBytesAndDropsThePartialLine) {
  std::string big(100000, 'x');
  auto r = read_tail(write(big + "\nend1\nend2\n"), 50, 12);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, "end1\nend2\n");
}

TEST_F(ReadTail, MissingFileIsAnIoError) {
  EXPECT_THAT(read_tail(dir_.path() + "/none", 5), testing::HasError(ErrorCode::kIoFailed));
}

}  // namespace
}  // namespace lobster::fs
