// main() of every test executable (lobster_test links it instead of GTest::gtest_main).
//
// Skips are honest: every skipped test is printed with its reason, and appended as one line
// "<executable>\t<Suite.Test>\t<reason>" to $LOBSTER_SKIP_LOG when that is set (scripts/test
// prints the collected list at the end). With CI set (CI=true; "", "0" and "false" count as
// unset) a test that cannot run must not pass as skipped: the executable then fails, naming
// every skipped test, whatever the test itself did about CI.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

bool ci_set() {
  const char* ci = std::getenv("CI");  // NOLINT(concurrency-mt-unsafe)
  if (ci == nullptr)
    return false;
  std::string_view v(ci);
  return !v.empty() && v != "0" && v != "false";
}

// The first skip message of `result` ("" if none).
std::string skip_reason(const ::testing::TestResult& result) {
  for (int i = 0; i < result.total_part_count(); ++i) {
    const auto& part = result.GetTestPartResult(i);
    if (part.skipped()) {
      std::string msg = part.message();
      while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
      for (char& c : msg) {
        if (c == '\n' || c == '\t')
          c = ' ';
      }
      return msg.empty() ? std::string("(no reason given)") : msg;
    }
  }
  return "";
}

class SkipRecorder : public ::testing::EmptyTestEventListener {
 public:
  explicit SkipRecorder(std::string exe) : exe_(std::move(exe)) {}

  void OnTestEnd(const ::testing::TestInfo& info) override {
    if (!info.result()->Skipped())
      return;
    std::string reason = skip_reason(*info.result());
    if (reason.empty()) {  // skipped in SetUpTestSuite: the reason is on the suite
      const auto* suite = ::testing::UnitTest::GetInstance()->current_test_suite();
      reason = suite != nullptr ? skip_reason(suite->ad_hoc_test_result()) : "";
    }
    if (reason.empty())
      reason = "(no reason given)";
    std::string name = std::string(info.test_suite_name()) + "." + info.name();
    skipped_.push_back(name + ": " + reason);
    const char* log = std::getenv("LOBSTER_SKIP_LOG");  // NOLINT(concurrency-mt-unsafe)
    if (log != nullptr && *log != '\0') {
      std::string line = exe_ + "\t" + name + "\t" + reason + "\n";
      int fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        // One write per line with O_APPEND: lines of concurrent test processes do not mix.
        [[maybe_unused]] ssize_t n = ::write(fd, line.data(), line.size());
        ::close(fd);
      }
    }
  }

  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  std::string exe_;
  std::vector<std::string> skipped_;
};

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  std::string exe = argc > 0 ? argv[0] : "test";
  if (auto slash = exe.rfind('/'); slash != std::string::npos)
    exe = exe.substr(slash + 1);
  auto* recorder = new SkipRecorder(exe);  // owned by gtest's listener list
  ::testing::UnitTest::GetInstance()->listeners().Append(recorder);
  int rc = RUN_ALL_TESTS();
  const auto& skipped = recorder->skipped();
  if (!skipped.empty()) {
    bool ci = ci_set();
    std::fprintf(stderr, "%s: %zu test(s) skipped%s\n", exe.c_str(), skipped.size(),
                 ci ? " -- CI is set, so this run FAILS: a test that cannot run is a failure"
                    : " (allowed outside CI; set CI=true to make skips fail)");
    for (const auto& s : skipped) std::fprintf(stderr, "  skipped %s\n", s.c_str());
    if (ci && rc == 0)
      rc = 1;
  }
  return rc;
}
