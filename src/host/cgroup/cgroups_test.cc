#include "host/cgroup/cgroups.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "core/fs.h"
#include "core/testing/matchers.h"
#include "core/testing/temp_dir.h"

namespace lobster::cgroup {
namespace {

using ::lobster::testing::HasError;
using ::lobster::testing::IsOk;

using ::lobster::testing::TempDir;

std::string slurp(const std::string& path) {
  auto r = fs::read_file(path);
  return r ? *r : "<missing " + path + ">";
}

const Limits kLimits{
    .memory_bytes = 1207959552, .cpu_quota_us = 200000, .cpu_period_us = 100000, .pids_max = 64};

TEST(ParentName, DependsOnStateRoot) {
  EXPECT_EQ(parent_name_for("/tmp/a"), parent_name_for("/tmp/a"));
  EXPECT_NE(parent_name_for("/tmp/a"), parent_name_for("/tmp/b"));
  EXPECT_EQ(parent_name_for("/tmp/a").rfind("lobsterd-", 0), 0u);
  EXPECT_EQ(parent_name_for("/tmp/a").size(), std::string("lobsterd-12345678").size());
  EXPECT_EQ(parent_name_for(""), "lobsterd");  // the system layout
}

TEST(FsCgroups, RejectsUnknownLayout) {
  TempDir dir;
  EXPECT_THAT(FsCgroups::create(dir.path(), "lobsterd-x"), HasError(ErrorCode::kPreflightFailed));
}

TEST(FsCgroups, V2WritesUnifiedFilesAndEnablesControllers) {
  TempDir dir;
  std::ofstream(dir.path() + "/cgroup.controllers") << "cpu memory pids\n";
  std::ofstream(dir.path() + "/cgroup.subtree_control") << "memory\n";
  auto cg = FsCgroups::create(dir.path(), "lobsterd-x");
  ASSERT_THAT(cg, IsOk());
  EXPECT_EQ((*cg)->layout(), Layout::kV2);
  ASSERT_THAT((*cg)->ensure("t1", kLimits), IsOk());
  std::string leaf = dir.path() + "/lobsterd-x/t1";
  EXPECT_EQ(slurp(leaf + "/memory.max"), "1207959552");
  EXPECT_EQ(slurp(leaf + "/cpu.max"), "200000 100000");
  EXPECT_EQ(slurp(leaf + "/pids.max"), "64");
  // memory was already enabled at the root: only the missing controllers are added.
  EXPECT_EQ(slurp(dir.path() + "/cgroup.subtree_control"), "+cpu +pids");
  EXPECT_EQ(slurp(dir.path() + "/lobsterd-x/cgroup.subtree_control"), "+memory +cpu +pids");
  auto back = (*cg)->read_limits("t1");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, kLimits);
  ASSERT_THAT((*cg)->add_process("t1", 4242), IsOk());
  EXPECT_EQ(slurp(leaf + "/cgroup.procs"), "4242");
  EXPECT_EQ((*cg)->dirs("t1"), std::vector<std::string>{leaf});
}

TEST(FsCgroups, V2UnlimitedIsMax) {
  TempDir dir;
  std::ofstream(dir.path() + "/cgroup.controllers") << "cpu memory pids\n";
  auto cg = *FsCgroups::create(dir.path(), "lobsterd-x");
  ASSERT_THAT(cg->ensure("t1", Limits{}), IsOk());
  EXPECT_EQ(slurp(dir.path() + "/lobsterd-x/t1/memory.max"), "max");
  EXPECT_EQ(slurp(dir.path() + "/lobsterd-x/t1/cpu.max"), "max 100000");
  EXPECT_EQ(*cg->read_limits("t1"), Limits{});
}

TEST(FsCgroups, V1WritesEachController) {
  TempDir dir;
  for (const char* c : {"memory", "cpu", "pids"}) {
    std::filesystem::create_directories(dir.path() + "/" + c);
  }
  auto cg = *FsCgroups::create(dir.path(), "lobsterd-y");
  EXPECT_EQ(cg->layout(), Layout::kV1);
  ASSERT_THAT(cg->ensure("t2", kLimits), IsOk());
  EXPECT_EQ(slurp(dir.path() + "/memory/lobsterd-y/t2/memory.limit_in_bytes"), "1207959552");
  EXPECT_EQ(slurp(dir.path() + "/cpu/lobsterd-y/t2/cpu.cfs_quota_us"), "200000");
  EXPECT_EQ(slurp(dir.path() + "/cpu/lobsterd-y/t2/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(slurp(dir.path() + "/pids/lobsterd-y/t2/pids.max"), "64");
  EXPECT_EQ(*cg->read_limits("t2"), kLimits);
  ASSERT_THAT(cg->add_process("t2", 77), IsOk());
  for (const auto& d : cg->dirs("t2")) EXPECT_EQ(slurp(d + "/cgroup.procs"), "77");
}

TEST(FsCgroups, RemoveDeletesEmptyCgroupsAndIsIdempotent) {
  TempDir dir;
  for (const char* c : {"memory", "cpu", "pids"}) {
    std::filesystem::create_directories(dir.path() + "/" + c);
  }
  auto cg = *FsCgroups::create(dir.path(), "lobsterd-y");
  ASSERT_THAT(cg->ensure("t3", kLimits), IsOk());
  ASSERT_THAT(cg->remove("t3", 1000), IsOk());
  for (const auto& d : cg->dirs("t3")) EXPECT_FALSE(fs::exists(d)) << d;
  EXPECT_THAT(cg->remove("t3", 1000), IsOk());
  EXPECT_THAT(cg->read_limits("t3"), HasError(ErrorCode::kCgroupFailed));
}

TEST(FsCgroups, RemoveParentOnlyWhenNoTenantIsLeft) {
  TempDir dir;
  for (const char* c : {"memory", "cpu", "pids"}) {
    std::filesystem::create_directories(dir.path() + "/" + c);
  }
  auto cg = *FsCgroups::create(dir.path(), "lobsterd-y");
  ASSERT_THAT(cg->ensure("t4", kLimits), IsOk());
  EXPECT_THAT(cg->remove_parent(), HasError(ErrorCode::kCgroupFailed));
  ASSERT_THAT(cg->remove("t4", 1000), IsOk());
  ASSERT_THAT(cg->remove_parent(), IsOk());
  for (const char* c : {"memory", "cpu", "pids"}) {
    EXPECT_FALSE(fs::exists(dir.path() + "/" + c + "/lobsterd-y")) << c;
  }
  EXPECT_THAT(cg->remove_parent(), IsOk());  // idempotent
}

TEST(FsCgroups, RejectsPathLikeNames) {
  TempDir dir;
  std::ofstream(dir.path() + "/cgroup.controllers") << "cpu memory pids\n";
  auto cg = *FsCgroups::create(dir.path(), "lobsterd-x");
  EXPECT_THAT(cg->ensure("../etc", kLimits), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(cg->ensure("", kLimits), HasError(ErrorCode::kValidationFailed));
  EXPECT_THAT(FsCgroups::create(dir.path(), "a/b"), HasError(ErrorCode::kValidationFailed));
}

}  // namespace
}  // namespace lobster::cgroup

namespace lobster::cgroup {
namespace {

TEST(OomKillTest, ParsesMemoryEventsAndOomControl) {
  EXPECT_EQ(parse_oom_kill("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\noom_group_kill 0\n"), 1);
  EXPECT_EQ(parse_oom_kill("oom_kill_disable 0\nunder_oom 0\noom_kill 4\n"), 4);
  EXPECT_EQ(parse_oom_kill("low 0\n"), 0);
  EXPECT_EQ(parse_oom_kill(""), 0);
  EXPECT_EQ(parse_oom_kill("oom_kill x\n"), 0);
}

TEST(OomKillTest, CountsTheCgroupsMemoryEvents) {
  ::lobster::testing::TempDir dir;
  std::ofstream(dir.path() + "/cgroup.controllers") << "memory cpu pids\n";
  std::ofstream(dir.path() + "/cgroup.subtree_control") << "";
  auto cg = FsCgroups::create(dir.path(), "lobsterd-x");
  ASSERT_TRUE(cg.has_value());
  EXPECT_EQ(oom_kill_count(**cg, "vm1"), 0);  // no cgroup: nothing proves an OOM kill
  std::filesystem::create_directories(dir.path() + "/lobsterd-x/vm1");
  std::ofstream(dir.path() + "/lobsterd-x/vm1/memory.events") << "oom 1\noom_kill 1\n";
  EXPECT_EQ(oom_kill_count(**cg, "vm1"), 1);
}

}  // namespace
}  // namespace lobster::cgroup
